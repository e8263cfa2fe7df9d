"""Learners: all share the API in robolearn.learners.base."""

from robolearn.learners.base import ConfigError, Learner, LearnerConfig
from robolearn.learners.checkpoint import CHECKPOINT_NAME, CheckpointError

__all__ = ["CHECKPOINT_NAME", "CheckpointError", "ConfigError", "Learner", "LearnerConfig"]
