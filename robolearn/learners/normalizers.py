"""Running observation normalisation (Welford/Chan parallel update), exported with the policy."""

from __future__ import annotations

import numpy as np
import torch


class RunningMeanStd:
    """Mean and population variance of everything seen so far; (x - mean) / sqrt(var + eps).

    Starts with count 1e-4 like gymnasium's NormalizeObservation, so the first sample dominates at once.
    `frozen` stops updates (evaluation, deployment).
    """

    def __init__(self, shape: tuple[int, ...], epsilon: float = 1e-8, initial_count: float = 1e-4) -> None:
        self.mean = np.zeros(shape, dtype=np.float64)
        self.var = np.ones(shape, dtype=np.float64)
        self.count = float(initial_count)
        self.epsilon = float(epsilon)
        self.frozen = False

    def update(self, batch: np.ndarray) -> None:
        if self.frozen:
            return
        batch = np.asarray(batch, dtype=np.float64)
        if not np.isfinite(batch).all():
            # One NaN would poison the statistics, and with them every later action, for good.
            raise ValueError("normaliser got a NaN/inf observation; check the sensor or the task's features")
        if batch.shape == self.mean.shape:
            # One sample per env step is the common case (incremental learners): skip the batch reductions.
            b_mean, b_var, b_count = batch, 0.0, 1
        else:
            if batch.ndim != self.mean.ndim + 1 or batch.shape[1:] != self.mean.shape:
                raise ValueError(f"normaliser expects samples of shape {self.mean.shape} or a batch "
                                 f"(N, {', '.join(map(str, self.mean.shape))}), got {batch.shape}")
            b_mean, b_var, b_count = batch.mean(0), batch.var(0), batch.shape[0]
        delta = b_mean - self.mean
        total = self.count + b_count
        self.mean = self.mean + delta * b_count / total
        m2 = self.var * self.count + b_var * b_count + delta**2 * self.count * b_count / total
        self.var = m2 / total
        self.count = total

    def normalize(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, dtype=np.float64) - self.mean) / np.sqrt(self.var + self.epsilon)

    def torch_module(self) -> "NormalizeModule":
        """A frozen copy as a torch module, for export into the policy graph."""
        return NormalizeModule(self.mean, np.sqrt(self.var + self.epsilon))

    def state_dict(self) -> dict:
        return {"mean": self.mean.copy(), "var": self.var.copy(), "count": self.count, "epsilon": self.epsilon,
                "frozen": self.frozen}

    def load_state_dict(self, state: dict) -> None:
        if np.shape(state["mean"]) != self.mean.shape:
            raise ValueError(f"normaliser shape {np.shape(state['mean'])} does not match {self.mean.shape}")
        self.mean = np.array(state["mean"], dtype=np.float64)
        self.var = np.array(state["var"], dtype=np.float64)
        self.count = float(state["count"])
        self.epsilon = float(state["epsilon"])
        self.frozen = bool(state.get("frozen", False))


class NormalizeModule(torch.nn.Module):
    def __init__(self, mean: np.ndarray, scale: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.scale
