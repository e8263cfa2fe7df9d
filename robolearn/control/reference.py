"""Periodic references (e.g. a figure-eight) as torch functions of time, for policies that must export.

A task publishes its reference as a numpy function of time; `PeriodicReference.fit` turns it into a
truncated Fourier series, exact for trigonometric paths such as a figure-eight, whose position, velocity
and acceleration are plain torch expressions (no numpy round trip, so ONNX export can trace them).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
from torch import nn

ReferenceFn = Callable[[np.ndarray], tuple]


class PeriodicReference(nn.Module):
    """pos(t) = c + sum_k a_k cos(k w t) + b_k sin(k w t), w = 2 pi / period; vel and acc are its derivatives."""

    def __init__(self, period: float, offset: np.ndarray, cos_coef: np.ndarray, sin_coef: np.ndarray) -> None:
        super().__init__()
        if not period > 0:
            raise ValueError(f"reference period must be > 0 s, got {period}")
        self.period = float(period)
        self.register_buffer("offset", torch.as_tensor(offset, dtype=torch.float64))
        self.register_buffer("cos_coef", torch.as_tensor(cos_coef, dtype=torch.float64))  # (K, dim)
        self.register_buffer("sin_coef", torch.as_tensor(sin_coef, dtype=torch.float64))
        self.register_buffer("harmonics", torch.arange(1, len(cos_coef) + 1, dtype=torch.float64))

    @classmethod
    def fit(cls, fn: ReferenceFn, period: float, harmonics: int = 8, samples: int = 512,
            tolerance: float = 1e-6) -> "PeriodicReference":
        """Fit `fn(t) -> (pos, ...)` (pos of shape (len(t), dim) or (dim,) per scalar t) over one period."""
        t = np.linspace(0.0, period, samples, endpoint=False)
        pos = _positions(fn, t)
        w = 2.0 * math.pi / period
        k = np.arange(1, harmonics + 1)
        basis = np.concatenate([np.ones((samples, 1)), np.cos(np.outer(t, k) * w), np.sin(np.outer(t, k) * w)], axis=1)
        coef, *_ = np.linalg.lstsq(basis, pos, rcond=None)
        residual = np.max(np.abs(basis @ coef - pos))
        scale = max(1.0, float(np.max(np.abs(pos))))
        if residual > tolerance * scale:
            raise ValueError(f"reference is not periodic with period {period} s or not smooth enough for "
                             f"{harmonics} harmonics (fit error {residual:.2e}); raise `harmonics` or check the period")
        return cls(period, coef[0], coef[1:harmonics + 1], coef[harmonics + 1:])

    def phase_features(self, t: torch.Tensor) -> torch.Tensor:
        angle = (2.0 * math.pi / self.period) * t
        return torch.stack((torch.cos(angle), torch.sin(angle)), dim=-1)

    def time_from_phase(self, cos_phase: torch.Tensor, sin_phase: torch.Tensor) -> torch.Tensor:
        """Time within the period, in [0, period), from the phase's cos/sin."""
        angle = torch.remainder(torch.atan2(sin_phase, cos_phase), 2.0 * math.pi)
        return angle * (self.period / (2.0 * math.pi))

    def forward(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(pos, vel, acc), each (..., dim), at times t (...)."""
        w = 2.0 * math.pi / self.period
        kw = self.harmonics * w  # (K,)
        arg = t.to(self.offset.dtype).unsqueeze(-1) * kw  # (..., K)
        cos, sin = torch.cos(arg), torch.sin(arg)
        pos = self.offset + cos @ self.cos_coef + sin @ self.sin_coef
        vel = (-sin * kw) @ self.cos_coef + (cos * kw) @ self.sin_coef
        acc = (-cos * kw**2) @ self.cos_coef + (-sin * kw**2) @ self.sin_coef
        return pos, vel, acc


def _positions(fn: ReferenceFn, t: np.ndarray) -> np.ndarray:
    try:
        out = fn(t)
        pos = np.asarray(out[0] if isinstance(out, tuple) else out, dtype=np.float64)
        if pos.shape[0] != len(t):
            raise ValueError
    except Exception:  # a scalar-only function: evaluate point by point
        pos = np.stack([np.asarray((lambda o: o[0] if isinstance(o, tuple) else o)(fn(float(s))), dtype=np.float64)
                        for s in t])
    if pos.ndim != 2 or not np.all(np.isfinite(pos)):
        raise ValueError(f"reference function must return finite positions of shape (N, dim), got {pos.shape}")
    return pos
