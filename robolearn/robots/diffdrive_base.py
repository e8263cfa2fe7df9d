"""Differential-drive base (iRobot Create 2 class): twist in, odometry and hazard flags out."""

from __future__ import annotations

from robolearn.robots._planar import planar_workspace
from robolearn.robots.definition import RobotDefinition
from robolearn.spec import CommandKind

HAZARD_NAMES = ("bump_left", "bump_right", "cliff", "wheel_drop")

DEFINITION = RobotDefinition(
    name="diffdrive_base",
    command_kind=CommandKind.TWIST,
    command_names=("linear_x", "angular_z"),
    control_rate_hz=20.0,
    observation_shapes={"base_pose": (3,), "base_twist": (2,), "hazards": (len(HAZARD_NAMES),)},
    hazard_names=HAZARD_NAMES,
    urdf="diffdrive_base.urdf",
    workspace=planar_workspace(),
    aliases=("create2",),
)
