"""Trajectory tracker for a unicycle/car (Westenbroek et al.'s car controller), differentiable in torch.

A position error is turned into a desired planar velocity; its norm and direction become speed and
heading setpoints, which proportional loops (plus optional feedforward) track with acceleration and yaw
rate, both saturated.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

SETPOINT_CORRECTIONS = ("dx", "dy", "dvx", "dvy")
GAIN_CORRECTIONS = ("dk_x", "dk_y", "dk_v", "dk_heading", "dk_accel_ff", "dk_turn_ff")


@dataclass(frozen=True)
class UnicycleTrackerGains:
    """Nominal gains and input limits (defaults from the paper's car experiment)."""

    k_x: float = 0.45
    k_y: float = 0.45
    k_v: float = 0.35
    k_heading: float = 0.35
    k_accel_ff: float = 0.0
    k_turn_ff: float = 0.0
    max_accel: float = 0.75  # m/s^2
    max_turn: float = 1.0  # rad/s

    def __post_init__(self) -> None:
        if self.max_accel <= 0 or self.max_turn <= 0:
            raise ValueError(f"tracker limits must be > 0, got max_accel={self.max_accel}, max_turn={self.max_turn}")

    def as_tensor(self) -> torch.Tensor:
        return torch.tensor([self.k_x, self.k_y, self.k_v, self.k_heading, self.k_accel_ff, self.k_turn_ff],
                            dtype=torch.float64)


def wrap_angle(angle: torch.Tensor) -> torch.Tensor:
    """Angle in (-pi, pi], smooth everywhere it is differentiated in practice."""
    return torch.atan2(torch.sin(angle), torch.cos(angle))


def unicycle_tracking_control(state: torch.Tensor, ref_pos: torch.Tensor, ref_vel: torch.Tensor,
                              ref_acc: torch.Tensor, gains: UnicycleTrackerGains,
                              setpoint_correction: torch.Tensor | None = None,
                              gain_correction: torch.Tensor | None = None) -> torch.Tensor:
    """[acceleration, yaw rate] for states (..., 4) = [x, y, heading, speed] and references (..., 2).

    Corrections (..., 4) = [dx, dy, dvx, dvy] shift the position and velocity setpoints; (..., 6) are
    added to [k_x, k_y, k_v, k_heading, k_accel_ff, k_turn_ff].
    """
    k = gains.as_tensor().to(state.dtype)
    if gain_correction is not None:
        k = k + gain_correction
    k_x, k_y, k_v, k_heading, k_accel_ff, k_turn_ff = k.unbind(-1)
    pos, vel = ref_pos, ref_vel
    if setpoint_correction is not None:
        pos = pos + setpoint_correction[..., 0:2]
        vel = vel + setpoint_correction[..., 2:4]
    px, py, heading, speed = state.unbind(-1)
    vx_cmd = vel[..., 0] + k_x * (pos[..., 0] - px)
    vy_cmd = vel[..., 1] + k_y * (pos[..., 1] - py)
    # eps keeps the norm's gradient finite when the desired velocity is zero
    speed_des = torch.sqrt(vx_cmd**2 + vy_cmd**2 + 1e-12)
    heading_des = torch.atan2(vy_cmd, vx_cmd)
    ref_speed = torch.sqrt((ref_vel**2).sum(-1) + 1e-12)
    accel_ff = (ref_vel * ref_acc).sum(-1) / ref_speed  # rate of change of the reference speed
    turn_ff = (ref_vel[..., 0] * ref_acc[..., 1] - ref_vel[..., 1] * ref_acc[..., 0]) / ref_speed**2
    accel = k_accel_ff * accel_ff + k_v * (speed_des - speed)
    turn = k_turn_ff * turn_ff + k_heading * wrap_angle(heading_des - heading)
    return torch.stack((accel.clamp(-gains.max_accel, gains.max_accel),
                        turn.clamp(-gains.max_turn, gains.max_turn)), dim=-1)
