"""Learners: all share the API in robolearn.learners.base."""

from robolearn.learners.base import CheckpointError, ConfigError, Learner, LearnerConfig

__all__ = ["CheckpointError", "ConfigError", "Learner", "LearnerConfig"]
