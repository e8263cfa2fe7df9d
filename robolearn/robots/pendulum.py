"""Torque-driven pendulum on one pivot."""

from __future__ import annotations

from robolearn.robots.definition import RobotDefinition
from robolearn.spec import CommandKind

DEFINITION = RobotDefinition(
    name="pendulum",
    command_kind=CommandKind.JOINT_EFFORT,
    command_names=("pivot",),
    joint_names=("pivot",),
    control_rate_hz=60.0,
    observation_shapes={"joint_pos": (1,), "joint_vel": (1,)},
    urdf="pendulum.urdf",
)
