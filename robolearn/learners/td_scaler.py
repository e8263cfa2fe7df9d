"""Return-based TD-error scaling (Schaul et al. 2021, arXiv 2105.05347) as AVG uses it.

The TD error is divided by sigma, where

    sigma^2 = max(Var[r_ent] + Var[gamma_t] * E[G^2], 1e-4)

over every step seen so far (population variances): r_ent is the entropy-regularised reward, gamma_t is 0
on a terminal step and gamma otherwise, and G is the entropy-regularised return of a terminated episode
(logged once per termination). Until the first termination, sigma stays 1 while sigma^2 <= 0.01, so
the first steps of a run are not blown up by a near-zero variance estimate. In tasks that never
terminate Var[gamma_t] = 0 and sigma = sqrt(Var[r_ent]).

The statistics are plain Python floats: one scalar update per env step costs well under a microsecond.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

MIN_VARIANCE = 1e-4
WARMUP_VARIANCE = 0.01


class RunningScalarStats:
    """Count, mean and population variance of a stream of scalars (Welford)."""

    __slots__ = ("count", "mean", "_sum_sq_dev")

    def __init__(self) -> None:
        self.count = 0
        self.mean = 0.0
        self._sum_sq_dev = 0.0

    def push(self, x: float) -> None:
        self.count += 1
        delta = x - self.mean
        self.mean += delta / self.count
        self._sum_sq_dev += delta * (x - self.mean)

    @property
    def variance(self) -> float:
        return self._sum_sq_dev / self.count if self.count else 0.0

    def state_dict(self) -> dict:
        return {"count": self.count, "mean": self.mean, "sum_sq_dev": self._sum_sq_dev}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.count = int(state["count"])
        self.mean = float(state["mean"])
        self._sum_sq_dev = float(state["sum_sq_dev"])


class TDScaler:
    """Keeps the running statistics and the current episode's return; `sigma` is the divisor.

    Call `push` once per env step, *before* the learning update that uses `sigma`.

    `carry_return_over_truncation=True` reproduces the reference implementation, where a time-limit
    truncation neither logs G^2 nor resets G, so G keeps summing into the next episode. By default a
    truncated episode's partial return is dropped (G restarts at 0, nothing logged): it is not an
    episode return, and summing across episodes inflates E[G^2] with the time limit.
    """

    def __init__(self, gamma: float, carry_return_over_truncation: bool = False) -> None:
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {gamma}")
        self.gamma = float(gamma)
        self.carry_return_over_truncation = bool(carry_return_over_truncation)
        self.reward_stats = RunningScalarStats()
        self.gamma_stats = RunningScalarStats()
        self.return_sq_stats = RunningScalarStats()
        self.episode_return = 0.0

    def push(self, entropy_reward: float, terminated: bool, truncated: bool = False) -> None:
        if not math.isfinite(entropy_reward):
            raise FloatingPointError(f"TD scaler got a non-finite reward {entropy_reward}: check the env's "
                                     f"reward and the policy's log-probability")
        self.episode_return += entropy_reward
        self.reward_stats.push(entropy_reward)
        if terminated:
            self.gamma_stats.push(0.0)
            self.return_sq_stats.push(self.episode_return ** 2)
            self.episode_return = 0.0
            return
        self.gamma_stats.push(self.gamma)
        if truncated and not self.carry_return_over_truncation:
            self.episode_return = 0.0

    def drop_episode(self) -> None:
        """Forget the current partial episode (e.g. a resume that cannot restore the env mid-episode)."""
        if not self.carry_return_over_truncation:
            self.episode_return = 0.0

    @property
    def variance(self) -> float:
        value = self.reward_stats.variance + self.gamma_stats.variance * self.return_sq_stats.mean
        return max(value, MIN_VARIANCE)

    @property
    def sigma(self) -> float:
        variance = self.variance
        if variance <= WARMUP_VARIANCE and self.return_sq_stats.count == 0:
            return 1.0
        return math.sqrt(variance)

    def state_dict(self) -> dict:
        return {
            "gamma": self.gamma,
            "carry_return_over_truncation": self.carry_return_over_truncation,
            "reward": self.reward_stats.state_dict(),
            "gamma_t": self.gamma_stats.state_dict(),
            "return_sq": self.return_sq_stats.state_dict(),
            "episode_return": self.episode_return,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.reward_stats.load_state_dict(state["reward"])
        self.gamma_stats.load_state_dict(state["gamma_t"])
        self.return_sq_stats.load_state_dict(state["return_sq"])
        self.episode_return = float(state["episode_return"])
