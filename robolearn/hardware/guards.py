"""Per-tick servo guards: a stall (high load, no motion for N ticks), overheating, and an encoder jump no
joint can make in one tick. Each is judged from the readings the control loop takes anyway; what to do on a
trip (latch the stop, torque off or hold per joint) is the robot's decision."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

STALL = "stall"
OVERHEAT = "overheat"
ENCODER_JUMP = "encoder_jump"


@dataclass(frozen=True)
class GuardLimits:
    stall_load: float = 0.8  # |load| as a fraction of stall torque
    stall_ticks: int = 15  # consecutive control ticks (0.5 s at 30 Hz)
    stall_motion_ticks: int = 3  # encoder motion per tick below which a joint counts as not moving
    max_temperature_c: float = 65.0  # under the servos' own shutdown (70 C default on XL330 and STS3215)
    max_jump_ticks: int = 512  # 45 deg in one tick: a glitch or a slipped reading, not motion

    def __post_init__(self) -> None:
        if self.stall_ticks < 1 or self.stall_load <= 0 or self.max_jump_ticks <= 0:
            raise ValueError(f"guard limits must be positive, got {self}")


@dataclass(frozen=True)
class Trip:
    reason: str
    joint: str
    detail: str


class ServoGuard:
    """Fed once per tick with the joints' raw readings; returns the first trip (None while all is well)."""

    def __init__(self, joints: Sequence[str], limits: GuardLimits = GuardLimits()) -> None:
        self.joints = tuple(joints)
        self.limits = limits
        self._last: np.ndarray | None = None
        self._still = np.zeros(len(self.joints), dtype=int)

    def restart(self) -> None:
        self._last = None
        self._still[:] = 0

    def check(self, ticks: np.ndarray, load: np.ndarray, temperature_c: np.ndarray | None) -> Trip | None:
        lim = self.limits
        if temperature_c is not None:
            hot = np.flatnonzero(temperature_c >= lim.max_temperature_c)
            if hot.size:
                i = hot[0]
                return Trip(OVERHEAT, self.joints[i], f"{temperature_c[i]:.0f} C (limit {lim.max_temperature_c:.0f} C)")
        if self._last is not None:
            moved = np.abs(ticks - self._last)
            jump = np.flatnonzero(moved > lim.max_jump_ticks)
            if jump.size:
                i = jump[0]
                return Trip(ENCODER_JUMP, self.joints[i], f"encoder jumped {int(moved[i])} ticks in one tick")
            stalled = (np.abs(load) >= lim.stall_load) & (moved < lim.stall_motion_ticks)
            self._still = np.where(stalled, self._still + 1, 0)
            over = np.flatnonzero(self._still >= lim.stall_ticks)
            if over.size:
                i = over[0]
                return Trip(STALL, self.joints[i], f"load {abs(load[i]):.2f} of stall torque with no motion for "
                                                   f"{self._still[i]} ticks")
        self._last = np.array(ticks, dtype=float)
        return None
