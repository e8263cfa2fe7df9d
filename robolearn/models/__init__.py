"""Differentiable approximate models (torch) that feedback controllers are designed on and that the
feedback policy-gradient estimator differentiates along measured trajectories."""

from robolearn.models.base import DynamicsModel, ModelError, check_finite
from robolearn.models.linear import LinearModel
from robolearn.models.pendulum import CartPole, Pendulum
from robolearn.models.unicycle import Unicycle

__all__ = ["CartPole", "DynamicsModel", "LinearModel", "ModelError", "Pendulum", "Unicycle", "check_finite"]
