"""SO-101 class arm: six serial-bus position servos (five arm joints and a gripper jaw)."""

from __future__ import annotations

from robolearn.robots.definition import RobotDefinition, SafetyLimits
from robolearn.robots.kinematics import ArmKinematics
from robolearn.robots.workspace import ArmWorkspace
from robolearn.spec import CommandKind

JOINTS = ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper")


def _workspace(definition: RobotDefinition, limits: SafetyLimits) -> ArmWorkspace | None:
    return ArmWorkspace(ArmKinematics()) if limits.workspace_low is not None else None


DEFINITION = RobotDefinition(
    name="so101_arm",
    command_kind=CommandKind.JOINT_POSITION,
    command_names=JOINTS,
    joint_names=JOINTS,
    control_rate_hz=30.0,
    observation_shapes={"joint_pos": (6,), "joint_vel": (6,), "joint_effort": (6,)},
    urdf="so101_arm.urdf",
    workspace=_workspace,
)
