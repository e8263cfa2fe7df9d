"""Small planar-geometry helpers shared by the mobile-base tasks."""

from __future__ import annotations

import math

import numpy as np

from robolearn.spec import Observation


def wrap_angle(angle: float) -> float:
    """Angle in [-pi, pi)."""
    return (angle + math.pi) % (2.0 * math.pi) - math.pi


def pose_of(obs: Observation) -> tuple[float, float, float]:
    x, y, yaw = np.asarray(obs["base_pose"], dtype=np.float64)
    return float(x), float(y), float(yaw)


def to_base_frame(point: np.ndarray, pose: tuple[float, float, float]) -> np.ndarray:
    """`point` (world x, y) in the base's frame (x forward, y left)."""
    x, y, yaw = pose
    dx, dy = point[0] - x, point[1] - y
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([c * dx + s * dy, -s * dx + c * dy])
