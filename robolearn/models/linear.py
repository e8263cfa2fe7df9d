"""Linear system x_{t+1} = A x_t + B u_t: the case where the feedback-PG gradient has a closed form."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np
import torch

from robolearn.models.base import DynamicsModel, ModelError


@dataclasses.dataclass(frozen=True, eq=False)
class LinearModel(DynamicsModel):
    """`A` (n x n) and `B` (n x m) as nested lists or arrays. `input_gain` multiplies B (what `scaled` changes)."""

    A: np.ndarray = dataclasses.field(default_factory=lambda: np.eye(1))
    B: np.ndarray = dataclasses.field(default_factory=lambda: np.eye(1))
    input_gain: float = 1.0
    scalable_params: ClassVar[tuple[str, ...]] = ("input_gain",)
    mismatch_params: ClassVar[tuple[str, ...]] = ("input_gain",)

    def __post_init__(self) -> None:
        super().__post_init__()
        a = np.atleast_2d(np.asarray(self.A, dtype=np.float64))
        b = np.asarray(self.B, dtype=np.float64)
        b = b.reshape(-1, 1) if b.ndim == 1 else b
        if a.shape[0] != a.shape[1] or b.shape[0] != a.shape[0]:
            raise ModelError(f"LinearModel: A must be n x n and B n x m, got A {a.shape}, B {b.shape}")
        object.__setattr__(self, "A", a)
        object.__setattr__(self, "B", b)

    @property
    def state_names(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(f"x{i}" for i in range(self.A.shape[0]))

    @property
    def input_names(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(f"u{i}" for i in range(self.B.shape[1]))

    @property
    def effective_B(self) -> np.ndarray:
        return self.input_gain * self.B

    def _step(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        a = torch.as_tensor(self.A, dtype=x.dtype)
        b = torch.as_tensor(self.effective_B, dtype=x.dtype)
        return x @ a.T + u @ b.T
