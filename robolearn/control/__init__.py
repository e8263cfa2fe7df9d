"""Tracking controllers designed on approximate models, and feedback policies that learn corrections to
their setpoints and gains."""

from robolearn.control.corrections import CorrectionNet
from robolearn.control.lqr import dlqr, lqr_for_model
from robolearn.control.policies import FeedbackPolicy, LinearFeedbackPolicy, UnicycleTrackingPolicy
from robolearn.control.reference import PeriodicReference
from robolearn.control.unicycle_tracker import UnicycleTrackerGains, unicycle_tracking_control, wrap_angle

__all__ = ["CorrectionNet", "FeedbackPolicy", "LinearFeedbackPolicy", "PeriodicReference", "UnicycleTrackerGains",
           "UnicycleTrackingPolicy", "dlqr", "lqr_for_model", "unicycle_tracking_control", "wrap_angle"]
