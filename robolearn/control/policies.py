"""Feedback policies: a tracking controller designed on an approximate model, with its setpoints and gains
corrected by a `CorrectionNet`. At initialisation the corrections are exactly zero, so the policy is the
nominal controller. Every policy maps (model state x, time t) to the model's input u, differentiably.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from robolearn.control.corrections import CorrectionNet
from robolearn.control.reference import PeriodicReference
from robolearn.control.unicycle_tracker import (GAIN_CORRECTIONS, SETPOINT_CORRECTIONS, UnicycleTrackerGains,
                                                unicycle_tracking_control)


class FeedbackPolicy(nn.Module):
    """Base: `forward(x, t) -> u`; `nominal(x, t)` is the same controller with zero corrections."""

    state_dim: int
    input_dim: int

    def corrections(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def control(self, x: torch.Tensor, t: torch.Tensor, corrections: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.control(x, t, self.corrections(x, t))

    def nominal(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.control(x, t, None)


class UnicycleTrackingPolicy(FeedbackPolicy):
    """Car/unicycle figure tracking. Network inputs: [x, y, v cos(heading), v sin(heading), cos/sin phase];
    outputs: 4 setpoint corrections [dx, dy, dvx, dvy] and 6 gain corrections (see unicycle_tracker)."""

    state_dim = 4
    input_dim = 2

    def __init__(self, reference: PeriodicReference, gains: UnicycleTrackerGains = UnicycleTrackerGains(),
                 model_scale: float | Sequence[float] = 1.0, hidden: Sequence[int] = (64, 64)) -> None:
        super().__init__()
        if reference.offset.shape != (2,):
            raise ValueError(f"unicycle tracking needs a planar (x, y) reference, got dimension "
                             f"{tuple(reference.offset.shape)}")
        self.reference = reference
        self.gains = gains
        self.net = CorrectionNet(6, len(SETPOINT_CORRECTIONS) + len(GAIN_CORRECTIONS), model_scale, hidden)

    def corrections(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        px, py, heading, speed = x.unbind(-1)
        z = torch.cat((torch.stack((px, py, speed * torch.cos(heading), speed * torch.sin(heading)), dim=-1),
                       self.reference.phase_features(t)), dim=-1)
        return self.net(z)

    def control(self, x: torch.Tensor, t: torch.Tensor, corrections: torch.Tensor | None) -> torch.Tensor:
        pos, vel, acc = self.reference(t)
        n = len(SETPOINT_CORRECTIONS)
        return unicycle_tracking_control(
            x, pos, vel, acc, self.gains,
            None if corrections is None else corrections[..., :n],
            None if corrections is None else corrections[..., n:])


class LinearFeedbackPolicy(FeedbackPolicy):
    """u = clip((K * (1 + dK))(x_ref + dx_ref - x), +-u_max): LQR-style regulation with learned corrections to the
    setpoint (n, each within +-setpoint_scale) and relative corrections to every gain entry (m x n, each
    within +-model_scale, so a correction of 0.5 means "this gain 50% stronger"). Network input: the state."""

    def __init__(self, gain: np.ndarray, u_max: float | Sequence[float] = float("inf"),
                 x_ref: np.ndarray | None = None, model_scale: float = 1.0, setpoint_scale: float = 0.05,
                 hidden: Sequence[int] = (64, 64)) -> None:
        super().__init__()
        gain = np.atleast_2d(np.asarray(gain, dtype=np.float64))
        self.input_dim, self.state_dim = gain.shape
        self.register_buffer("gain", torch.as_tensor(gain))
        self.register_buffer("x_ref", torch.zeros(self.state_dim, dtype=torch.float64) if x_ref is None
                             else torch.as_tensor(x_ref, dtype=torch.float64))
        self.register_buffer("u_max", torch.as_tensor(u_max, dtype=torch.float64).expand(self.input_dim).clone())
        scales = [setpoint_scale] * self.state_dim + [model_scale] * (self.input_dim * self.state_dim)
        self.net = CorrectionNet(self.state_dim, len(scales), scales, hidden)

    def corrections(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def control(self, x: torch.Tensor, t: torch.Tensor, corrections: torch.Tensor | None) -> torch.Tensor:
        error = self.x_ref - x
        gain = self.gain
        if corrections is not None:
            n, m = self.state_dim, self.input_dim
            error = error + corrections[..., :n]
            gain = gain * (1.0 + corrections[..., n:].reshape(*corrections.shape[:-1], m, n))
        u = (gain @ error.unsqueeze(-1)).squeeze(-1)
        return torch.maximum(torch.minimum(u, self.u_max), -self.u_max)
