"""Car-like base (Ackermann steering, PyBullet's racecar) for the feedback-PG figure-eight."""

from __future__ import annotations

from robolearn.robots._planar import planar_workspace
from robolearn.robots.definition import RobotDefinition
from robolearn.spec import CommandKind

MAX_BRAKING = 2.5  # m/s^2: measured ~2.9 from 3 m/s with the rear wheels locked

DEFINITION = RobotDefinition(
    name="car",
    command_kind=CommandKind.TWIST,
    command_names=("linear_x", "angular_z"),
    control_rate_hz=40.0,
    observation_shapes={"base_pose": (3,), "base_twist": (2,)},
    workspace=planar_workspace(MAX_BRAKING),
)
