"""The shared safety layer: limits as data and the filter every actuator command passes through."""

from robolearn.safety.controller import SafetyController, SafetyDecision, WorkspaceModel
from robolearn.safety.limits import (
    CommandLimit, LimitsError, SafetyLimits, calibration_dir, default_limits_path, load_robot_limits,
)

__all__ = [
    "CommandLimit", "LimitsError", "SafetyController", "SafetyDecision", "SafetyLimits", "WorkspaceModel",
    "calibration_dir", "default_limits_path", "load_robot_limits",
]
