"""Gymnasium environments built from a Robot and a Task."""

from robolearn.envs.robot_env import RobotEnv

__all__ = ["RobotEnv"]
