"""Kinematic unicycle / car: the simple model a car or a legged base is controlled with."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import torch

from robolearn.models.base import DynamicsModel, ModelError

STEERING_MODES = ("yaw_rate", "curvature")


@dataclasses.dataclass(frozen=True)
class Unicycle(DynamicsModel):
    """State [x, y, heading, speed]; input [acceleration, turn].

    `turn` is a yaw rate (rad/s) with steering="yaw_rate", or a curvature (1/m, heading rate = speed *
    curvature) with steering="curvature", as for a car. `accel_gain` and `turn_gain` say how strongly the
    vehicle answers its inputs: these are the parameters a mismatched model gets wrong.
    Forward Euler over `dt`, the update used by Westenbroek et al.'s car model.
    """

    accel_gain: float = 1.0
    turn_gain: float = 1.0
    steering: str = "yaw_rate"
    state_names: ClassVar[tuple[str, ...]] = ("x", "y", "heading", "speed")
    input_names: ClassVar[tuple[str, ...]] = ("acceleration", "turn")
    scalable_params: ClassVar[tuple[str, ...]] = ("accel_gain", "turn_gain")
    mismatch_params: ClassVar[tuple[str, ...]] = ("accel_gain", "turn_gain")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.steering not in STEERING_MODES:
            raise ModelError(f"Unicycle: steering must be one of {STEERING_MODES}, got {self.steering!r}")

    def _step(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        px, py, heading, speed = x.unbind(-1)
        accel, turn = u.unbind(-1)
        heading_rate = self.turn_gain * turn * (speed if self.steering == "curvature" else 1.0)
        return torch.stack((
            px + self.dt * speed * torch.cos(heading),
            py + self.dt * speed * torch.sin(heading),
            heading + self.dt * heading_rate,
            speed + self.dt * self.accel_gain * accel,
        ), dim=-1)
