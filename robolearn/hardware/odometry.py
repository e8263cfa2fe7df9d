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
    """Integrates pose (x, y, yaw) from successive encoder readings, and estimates twist (v, omega) over at
    least `twist_window_s`: between two 15 ms readings a wheel at 0.2 m/s moves ~7 counts, so one count of
    quantisation (or host timestamp jitter) would be a 15 % error in a per-reading estimate."""

    def __init__(self, geometry: WheelGeometry, twist_window_s: float = 0.06) -> None:
        self.geometry = geometry
        self.twist_window_s = twist_window_s
        self.reset()

    def reset(self) -> None:
        self.x = self.y = self.yaw = 0.0
        self.v = self.omega = 0.0
        self._last: tuple[int, int] | None = None  # previous (left, right) counts
        self._window_start: tuple[float, float, float] | None = None  # (distance, heading, stamp)
        self._distance = 0.0  # total signed path length and unwrapped heading change, for the twist window
        self._heading = 0.0

    def update(self, left_counts: int, right_counts: int, stamp: float) -> None:
        if self._last is None:
            self._last = (left_counts, right_counts)
            self._window_start = (0.0, 0.0, stamp)
            return
        last_left, last_right = self._last
        self._last = (left_counts, right_counts)
        left = self._delta(last_left, left_counts) * self.geometry.metres_per_count
        right = self._delta(last_right, right_counts) * self.geometry.metres_per_count
        distance = 0.5 * (left + right)
        turn = (right - left) / self.geometry.wheel_base_m
        # Midpoint heading: exact for constant curvature between readings to second order.
        heading = self.yaw + 0.5 * turn
        self.x += distance * math.cos(heading)
        self.y += distance * math.sin(heading)
        self.yaw = math.atan2(math.sin(self.yaw + turn), math.cos(self.yaw + turn))
        self._distance += distance
        self._heading += turn
        start_distance, start_heading, start_stamp = self._window_start
        dt = stamp - start_stamp
        if dt >= self.twist_window_s:
            self.v = (self._distance - start_distance) / dt
            self.omega = (self._heading - start_heading) / dt
            self._window_start = (self._distance, self._heading, stamp)

    def _delta(self, previous: int, current: int) -> int:
        span = 1 << self.geometry.counter_bits
        delta = (current - previous) % span
        return delta - span if delta >= span // 2 else delta
