"""The learned part of a feedback policy: a small network whose bounded outputs correct a controller.

The last layer starts at zero, so before any learning the corrections are exactly zero and the policy is
the nominal controller; tanh keeps every correction within +-model_scale, so learning can never turn the
controller into something arbitrary.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


class CorrectionNet(nn.Module):
    """in_dim -> 64 -> 64 -> out_dim, tanh on every layer, outputs scaled by `model_scale` (float64)."""

    def __init__(self, in_dim: int, out_dim: int, model_scale: float | Sequence[float] = 1.0,
                 hidden: Sequence[int] = (64, 64)) -> None:
        super().__init__()
        if in_dim <= 0 or out_dim <= 0:
            raise ValueError(f"CorrectionNet needs positive sizes, got in_dim={in_dim}, out_dim={out_dim}")
        scale = torch.as_tensor(model_scale, dtype=torch.float64).expand(out_dim).clone()
        if not bool(torch.all(scale >= 0)):
            raise ValueError(f"model_scale must be >= 0, got {model_scale}")
        layers: list[nn.Module] = []
        width = in_dim
        for size in hidden:
            layers += [nn.Linear(width, size, dtype=torch.float64), nn.Tanh()]
            width = size
        self.hidden = nn.Sequential(*layers)
        self.out = nn.Linear(width, out_dim, dtype=torch.float64)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.register_buffer("model_scale", scale)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.model_scale * torch.tanh(self.out(self.hidden(z)))
