"""A joint trajectory sampled at the control rate, without ROS: what the driver does with a
trajectory_msgs/JointTrajectory (the joint_trajectory_controller's topic interface).

Each sample is an ordinary position command and goes through the robot's SafetyController, so a trajectory
can never move the robot faster or further than a direct command could. Points are interpolated linearly in
position (the controller's behaviour for position-only points); after the last point the final position is
held.

A new trajectory is spliced onto the one in progress (`spliced`), as ROS 1's joint_trajectory_controller
replaced trajectories: the old one runs until the new one's start time (its header stamp; zero means now),
then the new one takes over from where the old one is at that moment. A stamp of now (or zero) therefore
replaces the old trajectory at once, and a stamp in the future appends: the old motion continues until then.
(ROS 2's controller replaces at once and holds still until a future start.) As both controllers do, a
trajectory stamped so far back that it has already ended, or whose last point has a velocity, is refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from robolearn_drivers.core.errors import MalformedMessageError

PAST_STAMP = "header stamp in the past"  # in the refusal of a trajectory that has already ended


@dataclass(frozen=True)
class JointTrajectory:
    start: float  # robot clock time of time_from_start = 0
    times: np.ndarray  # (n,) seconds from start, strictly increasing, the first 0
    positions: np.ndarray  # (n, joints) in the robot's joint order; row 0 is where the robot was

    @classmethod
    def parse(cls, robot: str, joint_names: Sequence[str], names: Sequence[str], times: Sequence[float],
              positions: Sequence[Sequence[float]], start: float, current: np.ndarray, now: float | None = None,
              final_velocities: Sequence[float] = ()) -> "JointTrajectory":
        """Validate a received trajectory and reorder its columns into the robot's joint order.

        Refused (MalformedMessageError, saying what to fix): no points, unknown or missing or repeated joint
        names, a point whose size differs from the names, non-finite values, times that are negative or not
        strictly increasing, a last point with a nonzero velocity (the arm would not stop there), and, given
        `now`, a trajectory that ends before now. `current` (robot joint order) is where the motion starts when
        the first point lies after time 0, as the controller's first segment does."""
        expected = list(joint_names)
        if not times:
            raise MalformedMessageError(f"{robot}: trajectory has no points; send at least one")
        if sorted(names) != sorted(expected) or len(set(names)) != len(names):
            raise MalformedMessageError(
                f"{robot}: trajectory joint names {list(names)} must be each of {expected} exactly once")
        if any(len(p) != len(names) for p in positions) or len(positions) != len(times):
            raise MalformedMessageError(
                f"{robot}: every trajectory point needs {len(names)} positions (one per joint name)")
        t = np.asarray(times, dtype=float)
        q = np.asarray(positions, dtype=float).reshape(len(times), len(names))
        if not (np.all(np.isfinite(t)) and np.all(np.isfinite(q)) and math.isfinite(start)):
            raise MalformedMessageError(f"{robot}: trajectory contains NaN or infinite times or positions")
        if t[0] < 0 or np.any(np.diff(t) <= 0):
            raise MalformedMessageError(
                f"{robot}: trajectory time_from_start must be >= 0 and strictly increasing, got {t.tolist()}")
        if any(v != 0 for v in final_velocities):
            raise MalformedMessageError(
                f"{robot}: the last trajectory point has velocities {list(final_velocities)}: it must be zero "
                f"(or omitted), so the arm stops there")
        if now is not None and start + t[-1] < now:
            raise MalformedMessageError(
                f"{robot}: the trajectory ended {now - start - t[-1]:.3f} s ago ({PAST_STAMP}); stamp "
                f"it with now, or leave the stamp zero to start on arrival")
        q = q[:, [list(names).index(name) for name in expected]]
        if t[0] > 0:
            t, q = np.concatenate(([0.0], t)), np.vstack((np.asarray(current, dtype=float), q))
        return cls(start, t, q)

    def spliced(self, later: "JointTrajectory") -> "JointTrajectory":
        """This trajectory until `later.start`, then `later`. Parse `later` with `current=self.sample(later.start)`
        so the hand-over is continuous."""
        offset = later.start - self.start
        keep = self.times < offset
        return JointTrajectory(self.start, np.concatenate((self.times[keep], later.times + offset)),
                               np.vstack((self.positions[keep], later.positions)))

    @property
    def end(self) -> float:
        return self.start + float(self.times[-1])

    def sample(self, now: float) -> np.ndarray:
        """The position command at robot time `now` (the final position once the trajectory has ended)."""
        t = now - self.start
        return np.array([np.interp(t, self.times, self.positions[:, j]) for j in range(self.positions.shape[1])])
