"""Inputs for the export parity check, drawn from where the policy will actually be used.

Half the samples are features met while rolling the policy out in the task's env (with exploration noise on
the actions so states off the policy's own path are visited too); the rest are those features perturbed by
Gaussian noise scaled to each feature's spread, to cover the neighbourhood a real robot's sensors reach.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from robolearn.spec import Observation


@dataclass
class ParitySamples:
    features: np.ndarray  # (N, obs_dim) float32
    observations: list[Observation]  # the robot observations behind features[:len(observations)]


def sample_features(env, act: Callable[[np.ndarray], np.ndarray], count: int, seed: int = 0,
                    action_noise: float = 0.3) -> ParitySamples:
    """`count` feature vectors: rollouts of `act` in `env` (a RobotEnv) plus perturbed copies."""
    if count < 2:
        raise ValueError(f"parity check needs at least 2 samples, got {count}")
    rng = np.random.default_rng(seed)
    rollout_count = count // 2
    features: list[np.ndarray] = []
    observations: list[Observation] = []
    obs, _ = env.reset(seed=seed)
    while len(features) < rollout_count:
        features.append(np.asarray(obs, dtype=np.float32))
        observations.append(env.last_observation)
        action = np.asarray(act(obs), dtype=np.float64)
        action = np.clip(action + action_noise * rng.standard_normal(action.shape), -1.0, 1.0)
        obs, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            obs, _ = env.reset(seed=int(rng.integers(2**31 - 1)))
    visited = np.stack(features)
    spread = np.maximum(visited.std(axis=0), 1e-3)
    base = visited[rng.integers(len(visited), size=count - len(visited))]
    perturbed = base + spread * rng.standard_normal(base.shape).astype(np.float32)
    return ParitySamples(np.concatenate([visited, perturbed.astype(np.float32)]), observations)


@dataclass
class ParityResult:
    samples: int
    max_action_error: float
    max_command_error: float
    max_task_error: float  # graph command vs the task's own Python action_to_command
    action_atol: float
    command_atol: float

    @property
    def passed(self) -> bool:
        return (self.max_action_error <= self.action_atol and self.max_command_error <= self.command_atol
                and self.max_task_error <= self.command_atol)

    def describe(self) -> str:
        return (f"{self.samples} inputs: max |action error| {self.max_action_error:.2e} (tolerance "
                f"{self.action_atol:.0e}), max |command error| {self.max_command_error:.2e} and vs the task's "
                f"action_to_command {self.max_task_error:.2e} (tolerance {self.command_atol:.1e})")


def max_abs_error(a: np.ndarray, b: np.ndarray) -> float:
    """Largest |a - b|; a NaN on either side counts as an infinite error."""
    diff = np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))
    return float(np.nan_to_num(diff, nan=np.inf).max(initial=0.0))
