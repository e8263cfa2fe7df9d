"""A fixed RGB camera rendered by PyBullet's CPU TinyRenderer (works headless, no GPU or display)."""

from __future__ import annotations

import numpy as np
import pybullet as p

from robolearn_sim.config import CameraConfig

_UP = (0.0, 0.0, 1.0)


class Camera:
    """Renders (height, width, 3) uint8 frames of one PyBullet client from a fixed pose."""

    def __init__(self, config: CameraConfig, eye: tuple[float, float, float],
                 target: tuple[float, float, float]) -> None:
        self.config = config
        eye = config.eye if config.eye is not None else eye
        target = config.target if config.target is not None else target
        if np.allclose(eye, target):
            raise ValueError(f"camera eye {eye} and target {target} coincide: give them distinct points")
        self._view = p.computeViewMatrix(eye, target, _UP)
        self._projection = p.computeProjectionMatrixFOV(
            config.fov_deg, config.width / config.height, config.near, config.far)

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.config.height, self.config.width, 3)

    def render(self, client: int) -> np.ndarray:
        _, _, rgba, _, _ = p.getCameraImage(
            self.config.width, self.config.height, self._view, self._projection,
            renderer=p.ER_TINY_RENDERER, physicsClientId=client)
        frame = np.asarray(rgba, dtype=np.uint8).reshape(self.config.height, self.config.width, 4)
        return np.ascontiguousarray(frame[:, :, :3])
