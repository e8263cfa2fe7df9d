"""The shape every approximate model shares: a batched, differentiable one-step map `x_next = step(x, u)`.

Models are frozen dataclasses whose physical parameters are plain fields, so an experiment can build a
deliberately wrong model with `model.scaled(0.5)` or `dataclasses.replace(model, mass=...)`.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import ClassVar

import torch


class ModelError(ValueError):
    """Data does not fit a model (wrong state or input size, NaN/inf values)."""


@dataclasses.dataclass(frozen=True)
class DynamicsModel(abc.ABC):
    """Discrete-time model x_{t+1} = F(x_t, u_t) over a control period `dt` (seconds).

    `step` takes tensors of shape (..., state_dim) and (..., input_dim) and is differentiable in both.
    Subclasses name their state and input entries and list which fields `scaled` multiplies.
    """

    dt: float
    state_names: ClassVar[tuple[str, ...]] = ()
    input_names: ClassVar[tuple[str, ...]] = ()
    scalable_params: ClassVar[tuple[str, ...]] = ()  # physical parameters `scaled` may change
    mismatch_params: ClassVar[tuple[str, ...]] = ()  # the ones it changes by default

    def __post_init__(self) -> None:
        if not self.dt > 0:
            raise ModelError(f"{type(self).__name__}: dt must be > 0 seconds, got {self.dt}")

    @property
    def state_dim(self) -> int:
        return len(self.state_names)

    @property
    def input_dim(self) -> int:
        return len(self.input_names)

    def step(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        self.check_state(x)
        self.check_input(u)
        return self._step(x, u)

    @abc.abstractmethod
    def _step(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor: ...

    def check_state(self, x: torch.Tensor, what: str = "state") -> None:
        _check_last_dim(x, self.state_dim, self.state_names, f"{type(self).__name__} {what}")

    def check_input(self, u: torch.Tensor, what: str = "input") -> None:
        _check_last_dim(u, self.input_dim, self.input_names, f"{type(self).__name__} {what}")

    def scaled(self, factor: float, params: tuple[str, ...] | None = None) -> "DynamicsModel":
        """A copy with the named parameters (default: `mismatch_params`) multiplied by `factor`."""
        names = self.mismatch_params if params is None else params
        unknown = sorted(set(names) - set(self.scalable_params))
        if unknown:
            raise ModelError(f"{type(self).__name__}: cannot scale {unknown}; scalable: {list(self.scalable_params)}")
        return dataclasses.replace(self, **{n: getattr(self, n) * factor for n in names})

    def jacobians(self, x: torch.Tensor, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(dF/dx, dF/du) at one unbatched point, e.g. for LQR design or tests."""
        x = torch.as_tensor(x, dtype=torch.float64)
        u = torch.as_tensor(u, dtype=torch.float64)
        a, b = torch.autograd.functional.jacobian(self.step, (x, u))
        return a, b


def _check_last_dim(value: torch.Tensor, size: int, names: tuple[str, ...], what: str) -> None:
    if not isinstance(value, torch.Tensor):
        raise ModelError(f"{what} must be a torch.Tensor, got {type(value).__name__}")
    if value.ndim == 0 or value.shape[-1] != size:
        raise ModelError(f"{what} has shape {tuple(value.shape)}; expected (..., {size}) ordered as {list(names)}. "
                         f"Check that the task's state matches this model")


def check_finite(value: torch.Tensor, what: str) -> None:
    """Raise ModelError naming the first row that holds NaN/inf (recorded data must be clean)."""
    bad = ~torch.isfinite(value)
    if bool(bad.any()):
        row = int(bad.reshape(value.shape[0], -1).any(dim=1).nonzero()[0]) if value.ndim > 1 else int(bad.nonzero()[0])
        raise ModelError(f"{what}: NaN/inf (first at index {row}); drop that rollout and check the sensor "
                         f"or the safety log")
