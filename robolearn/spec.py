"""What a robot is, as data: joints, command kind, limits, rate, and the observation it returns.

A `RobotSpec` is shared by the simulated robot and the real one it stands for, so a policy trained on one
runs on the other. `Observation` is what `Robot.observe()` returns: named arrays plus the time they were
measured, so that stale data can be recognised downstream.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np


class CommandKind(str, enum.Enum):
    """What the numbers sent to `Robot.send_action` mean; fixes how the safety layer limits and stops."""

    JOINT_POSITION = "joint_position"  # absolute joint targets (rad or m); stop = hold the measured position
    JOINT_VELOCITY = "joint_velocity"  # rad/s; stop = zero
    JOINT_EFFORT = "joint_effort"  # N·m or N; stop = zero
    TWIST = "twist"  # mobile base [linear m/s, angular rad/s]; stop = zero


@dataclass(frozen=True)
class RobotSpec:
    """Static description of a robot that every implementation of it (sim or real) shares.

    `command_names` name the entries of an action (joint names for arms, ["linear_x", "angular_z"] for
    bases); `command_low`/`command_high` are the absolute command limits the safety layer enforces;
    `observation_shapes` maps each key of `Observation.values` to its shape.
    """

    name: str
    command_kind: CommandKind
    command_names: tuple[str, ...]
    command_low: np.ndarray
    command_high: np.ndarray
    control_rate_hz: float
    observation_shapes: Mapping[str, tuple[int, ...]]
    joint_names: tuple[str, ...] = ()
    image_shape: tuple[int, int, int] | None = None  # (H, W, 3) uint8 when a camera is attached

    def __post_init__(self) -> None:
        low = np.asarray(self.command_low, dtype=np.float64)
        high = np.asarray(self.command_high, dtype=np.float64)
        n = len(self.command_names)
        if low.shape != (n,) or high.shape != (n,):
            raise ValueError(
                f"RobotSpec {self.name!r}: command limits must have shape ({n},) to match command_names "
                f"{list(self.command_names)}, got {low.shape} and {high.shape}"
            )
        if not np.all(np.isfinite(low)) or not np.all(np.isfinite(high)) or np.any(low > high):
            raise ValueError(f"RobotSpec {self.name!r}: command limits must be finite with low <= high")
        if self.control_rate_hz <= 0:
            raise ValueError(f"RobotSpec {self.name!r}: control_rate_hz must be > 0, got {self.control_rate_hz}")
        object.__setattr__(self, "command_low", low)
        object.__setattr__(self, "command_high", high)
        object.__setattr__(self, "command_kind", CommandKind(self.command_kind))
        object.__setattr__(self, "observation_shapes", dict(self.observation_shapes))

    @property
    def action_size(self) -> int:
        return len(self.command_names)

    @property
    def control_period_s(self) -> float:
        return 1.0 / self.control_rate_hz

    def check_command(self, command: np.ndarray) -> np.ndarray:
        """Return `command` as a float64 vector, or raise ValueError naming the expected layout."""
        arr = np.asarray(command, dtype=np.float64)
        if arr.shape != (self.action_size,):
            raise ValueError(
                f"{self.name}: command has shape {arr.shape}, expected ({self.action_size},) "
                f"ordered as {list(self.command_names)}"
            )
        return arr


@dataclass
class Observation:
    """One measurement of the robot: named float arrays, an optional uint8 image, and when it was taken.

    `timestamp` is in the robot's clock (simulated seconds in sim, the node clock on hardware).
    """

    timestamp: float
    values: dict[str, np.ndarray]
    image: np.ndarray | None = None
    image_timestamp: float | None = None
    info: dict = field(default_factory=dict)

    def __getitem__(self, key: str) -> np.ndarray:
        try:
            return self.values[key]
        except KeyError:
            raise KeyError(f"observation has no key {key!r}; it has {sorted(self.values)}") from None

    def check_against(self, spec: RobotSpec) -> None:
        """Raise ValueError if keys or shapes differ from what `spec` promises."""
        missing = set(spec.observation_shapes) - set(self.values)
        if missing:
            raise ValueError(f"{spec.name}: observation lacks keys {sorted(missing)}")
        for key, shape in spec.observation_shapes.items():
            if tuple(np.shape(self.values[key])) != tuple(shape):
                raise ValueError(
                    f"{spec.name}: observation {key!r} has shape {np.shape(self.values[key])}, expected {shape}"
                )
