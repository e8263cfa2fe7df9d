"""How a robot's observation and commands map onto the standard ROS messages, without importing ROS.

Joint robots (observation keys among joint_pos/joint_vel/joint_effort) travel as sensor_msgs/JointState and
take std_msgs/Float64MultiArray commands; bases (base_pose, base_twist, optional hazards) travel as
nav_msgs/Odometry plus a Float64MultiArray of hazard flags and take geometry_msgs/Twist. Both ends (the
driver node and RosRobot / the policy node) use this one table so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from robolearn.spec import CommandKind, Observation, RobotSpec

from robolearn_drivers.core.errors import ConfigurationError, MalformedMessageError

JOINT_KEYS = ("joint_pos", "joint_vel", "joint_effort")
BASE_KEYS = ("base_pose", "base_twist", "hazards")


@dataclass(frozen=True)
class StateLayout:
    robot: str
    is_base: bool
    joint_names: tuple[str, ...]  # empty for bases
    joint_keys: tuple[str, ...]  # which of JOINT_KEYS the robot reports
    hazard_count: int  # 0: the robot reports no hazards
    command_size: int
    twist_commands: bool

    @classmethod
    def for_spec(cls, spec: RobotSpec) -> "StateLayout":
        keys = set(spec.observation_shapes)
        twist = spec.command_kind is CommandKind.TWIST
        if twist and spec.action_size != 2:
            raise ConfigurationError(
                f"{spec.name}: twist commands must be [linear_x, angular_z], the spec has {list(spec.command_names)}"
            )
        if keys and keys <= set(JOINT_KEYS) and "joint_pos" in keys:
            n = int(np.prod(spec.observation_shapes["joint_pos"]))
            for key in keys:
                if int(np.prod(spec.observation_shapes[key])) != n:
                    raise ConfigurationError(f"{spec.name}: {key} and joint_pos have different sizes")
            return cls(spec.name, False, _joint_names(spec, n), tuple(k for k in JOINT_KEYS if k in keys), 0,
                       spec.action_size, twist)
        if {"base_pose", "base_twist"} <= keys <= set(BASE_KEYS):
            shapes = spec.observation_shapes
            if tuple(shapes["base_pose"]) != (3,) or tuple(shapes["base_twist"]) != (2,):
                raise ConfigurationError(f"{spec.name}: base_pose must be (x, y, yaw) and base_twist (v, omega)")
            hazards = int(np.prod(spec.observation_shapes["hazards"])) if "hazards" in keys else 0
            return cls(spec.name, True, (), (), hazards, spec.action_size, twist)
        raise ConfigurationError(
            f"{spec.name}: observation keys {sorted(keys)} have no ROS mapping; supported are joint robots "
            f"({list(JOINT_KEYS)}) and bases ({list(BASE_KEYS)})"
        )

    # ---------------------------------------------------------------------------------- commands
    def parse_command(self, values: Sequence[float]) -> np.ndarray:
        """A command message's numbers as a vector; NaN/inf pass through so the safety layer counts them."""
        try:
            command = np.asarray(values, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise MalformedMessageError(f"{self.robot}: command is not numeric: {exc}") from None
        if command.size != self.command_size:
            raise MalformedMessageError(
                f"{self.robot}: command has {command.size} values, expected {self.command_size}"
            )
        return command

    def command_from_named(self, names: Sequence[str], values: Sequence[float]) -> list[float]:
        """A command given by joint name (a JointState's names and one of its fields), in this robot's joint
        order; MalformedMessageError unless it names each joint exactly once with one value each."""
        if sorted(names) != sorted(self.joint_names) or len(set(names)) != len(names):
            raise MalformedMessageError(
                f"{self.robot}: command joint names {list(names)} must be each of {list(self.joint_names)} once")
        if len(values) != len(names):
            raise MalformedMessageError(
                f"{self.robot}: command has {len(values)} values for {len(names)} joint names; send one per joint")
        by_name = dict(zip(names, values))
        return [float(by_name[name]) for name in self.joint_names]

    # ------------------------------------------------------------------------------ observations
    def joint_arrays(self, obs: Observation) -> dict[str, np.ndarray]:
        return {key: np.asarray(obs.values[key], dtype=np.float64).reshape(-1) for key in self.joint_keys}

    def observation_from_joints(self, timestamp: float, names: Sequence[str],
                                arrays: dict[str, Sequence[float]]) -> Observation:
        """Rebuild an Observation from a JointState's fields, in this robot's joint order."""
        if tuple(names) != self.joint_names:
            if sorted(names) != sorted(self.joint_names):
                raise MalformedMessageError(
                    f"{self.robot}: joint_states names {list(names)} are not this robot's joints "
                    f"{list(self.joint_names)}"
                )
            order = [list(names).index(n) for n in self.joint_names]
        else:
            order = list(range(len(names)))
        values = {}
        for key in self.joint_keys:
            data = np.asarray(arrays.get(key, ()), dtype=np.float64)
            if data.size != len(names):
                raise MalformedMessageError(f"{self.robot}: joint_states lacks {key} for every joint")
            values[key] = data[order]
        return Observation(timestamp=timestamp, values=values)

    def observation_from_base(self, timestamp: float, pose: Sequence[float], twist: Sequence[float],
                              hazards: Sequence[float] | None) -> Observation:
        values = {"base_pose": np.asarray(pose, dtype=np.float64), "base_twist": np.asarray(twist, dtype=np.float64)}
        if self.hazard_count:
            # No hazard report is not "no hazard": the caller must wait for one before observing.
            if hazards is None or len(hazards) != self.hazard_count:
                raise MalformedMessageError(
                    f"{self.robot}: expected {self.hazard_count} hazard flags, got "
                    f"{'none' if hazards is None else len(hazards)}"
                )
            values["hazards"] = np.asarray(hazards, dtype=np.float64)
        return Observation(timestamp=timestamp, values=values)


def _joint_names(spec: RobotSpec, n: int) -> tuple[str, ...]:
    if len(spec.joint_names) == n:
        return tuple(spec.joint_names)
    if len(spec.command_names) == n:
        return tuple(spec.command_names)
    return tuple(f"joint_{i}" for i in range(n))
