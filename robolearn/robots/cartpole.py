"""Cart-pole: a force on the cart's slide, the pole's hinge passive."""

from __future__ import annotations

from robolearn.robots.definition import RobotDefinition
from robolearn.spec import CommandKind

DEFINITION = RobotDefinition(
    name="cartpole",
    command_kind=CommandKind.JOINT_EFFORT,
    command_names=("cart_slide",),
    joint_names=("cart_slide", "pole_hinge"),
    control_rate_hz=60.0,
    observation_shapes={"joint_pos": (2,), "joint_vel": (2,)},
    urdf="cartpole.urdf",
)
