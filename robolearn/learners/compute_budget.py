"""A learner's own time per env step (acting plus updating) against the robot's control period.

On hardware the learner runs inside the control loop: when acting and updating take longer than one
control period, the loop misses its deadline and the robot holds a stale command. Every training run
records this time, so the figure is known in simulation before the learner meets a motor.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np


def control_period_of(env: Any) -> float | None:
    """The control period of the robot behind a robolearn env, or None for other gymnasium envs."""
    robot = getattr(getattr(env, "unwrapped", env), "robot", None)
    period = getattr(getattr(robot, "spec", None), "control_period_s", None)
    return float(period) if period else None


class ComputeBudget:
    """Collects per-step learner durations between two log points and summarises them.

    `summary()` gives the median and 99th percentile in milliseconds and, when the control period is known,
    the share of steps that took longer than it; the first time the 99th percentile exceeds the period it
    warns, naming both figures and what to change.
    """

    def __init__(self, control_period_s: float | None, learner: str) -> None:
        self.control_period_s = control_period_s
        self.learner = learner
        self._seconds: list[float] = []
        self._warned = False

    def add(self, seconds: float) -> None:
        self._seconds.append(seconds)

    def summary(self) -> dict[str, float]:
        """Scalars for the run log (empty if no step was timed since the last call); starts a new window."""
        if not self._seconds:
            return {}
        ms = np.asarray(self._seconds) * 1e3
        self._seconds = []
        p50, p99 = np.percentile(ms, [50, 99])
        out = {"time/learner_ms_p50": float(p50), "time/learner_ms_p99": float(p99)}
        if self.control_period_s:
            period_ms = self.control_period_s * 1e3
            out["time/over_control_period"] = float(np.mean(ms > period_ms))
            if p99 > period_ms and not self._warned:
                self._warned = True
                warnings.warn(
                    f"{self.learner}: acting + updating took {p99:.1f} ms per step at the 99th percentile, longer "
                    f"than the robot's {period_ms:.1f} ms control period; on hardware the control loop would "
                    f"miss deadlines. Use smaller networks, a faster device or a slower control rate, or "
                    f"train off the control loop.", RuntimeWarning, stacklevel=2)
        return out
