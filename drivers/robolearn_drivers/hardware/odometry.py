"""Differential-drive odometry from wheel encoder counts that wrap around."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class WheelGeometry:
    counts_per_rev: float
    wheel_diameter_m: float
    wheel_base_m: float
    counter_bits: int = 16

    @property
    def metres_per_count(self) -> float:
        return math.pi * self.wheel_diameter_m / self.counts_per_rev


CREATE2_GEOMETRY = WheelGeometry(counts_per_rev=508.8, wheel_diameter_m=0.072, wheel_base_m=0.235)


class DiffDriveOdometry:
    """Integrates pose (x, y, yaw) and estimates twist (v, omega) from successive encoder readings."""

    def __init__(self, geometry: WheelGeometry) -> None:
        self.geometry = geometry
        self.reset()

    def reset(self) -> None:
        self.x = self.y = self.yaw = 0.0
        self.v = self.omega = 0.0
        self._last: tuple[int, int, float] | None = None

    def update(self, left_counts: int, right_counts: int, stamp: float) -> None:
        if self._last is None:
            self._last = (left_counts, right_counts, stamp)
            return
        last_left, last_right, last_stamp = self._last
        self._last = (left_counts, right_counts, stamp)
        left = self._delta(last_left, left_counts) * self.geometry.metres_per_count
        right = self._delta(last_right, right_counts) * self.geometry.metres_per_count
        distance = 0.5 * (left + right)
        turn = (right - left) / self.geometry.wheel_base_m
        # Midpoint heading: exact for constant curvature between readings to second order.
        heading = self.yaw + 0.5 * turn
        self.x += distance * math.cos(heading)
        self.y += distance * math.sin(heading)
        self.yaw = math.atan2(math.sin(self.yaw + turn), math.cos(self.yaw + turn))
        dt = stamp - last_stamp
        if dt > 0:
            self.v, self.omega = distance / dt, turn / dt

    def _delta(self, previous: int, current: int) -> int:
        span = 1 << self.geometry.counter_bits
        delta = (current - previous) % span
        return delta - span if delta >= span // 2 else delta
