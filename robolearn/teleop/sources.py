"""Action sources that put a human (real or simulated) in charge of some or all steps.

A source is called with the env's observation and returns (action, intervened); `record_episode` and a
learner's collection loop consume it. Interventions are flagged so that learners can route those steps to
their own buffer (HIL-SERL).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from robolearn.data.episodes import EpisodeEnded
from robolearn.teleop.base import TeleopDevice

Policy = Callable[[Any], np.ndarray]


class TeleopSource:
    """The human drives every step; an event key ends the episode."""

    def __init__(self, device: TeleopDevice) -> None:
        self.device = device

    def __call__(self, observation: Any) -> tuple[np.ndarray, bool]:
        reading = self.device.read()
        if reading.event:
            raise EpisodeEnded(reading.event)
        return reading.action, True


class TakeoverSource:
    """A policy drives until the human touches the device; those steps carry the human's action, flagged."""

    def __init__(self, policy: Policy, device: TeleopDevice) -> None:
        self.policy, self.device = policy, device

    def __call__(self, observation: Any) -> tuple[np.ndarray, bool]:
        return self.decide(observation, np.asarray(self.policy(observation), dtype=np.float64))

    def decide(self, observation: Any, proposed: np.ndarray) -> tuple[np.ndarray, bool]:
        """The human's action when they touch the device, else `proposed` (the policy's)."""
        reading = self.device.read()
        if reading.event:
            raise EpisodeEnded(reading.event)
        if reading.active:
            return reading.action, True
        return proposed, False


class SimulatedHuman:
    """A scripted "human" for tests and benchmarks: the expert takes over when the policy's action and the
    expert's differ by more than `threshold` (max-norm) for `reaction_steps` steps in a row (a reaction
    delay), holds on until they agree again, and gives at most `budget` steps per episode (attention).
    `attention` is the share of episodes the human watches at all (drawn per episode from `seed`).
    `policy` may be None where a training loop proposes the action (`decide`, `InterventionWrapper`)."""

    def __init__(self, policy: Policy | None, expert: Policy, threshold: float = 0.5, reaction_steps: int = 2,
                 budget: int = 50, attention: float = 1.0, seed: int = 0) -> None:
        if threshold < 0 or reaction_steps < 0 or budget < 0:
            raise ValueError("threshold, reaction_steps and budget must be >= 0")
        if not 0.0 <= attention <= 1.0:
            raise ValueError(f"attention is the share of episodes watched, in [0, 1]; got {attention}")
        self.policy, self.expert = policy, expert
        self.threshold, self.reaction_steps, self.budget = threshold, reaction_steps, budget
        self.attention = attention
        self._rng = np.random.default_rng(seed)
        self.reset()

    def reset(self) -> None:
        """Call at every episode start: the attention budget and the reaction counter start over, and the
        human decides whether to watch this episode."""
        watching = self.attention >= 1.0 or self._rng.random() < self.attention
        self.used = 0 if watching else self.budget
        self._disagreeing = 0
        self._in_control = False

    def __call__(self, observation: Any) -> tuple[np.ndarray, bool]:
        return self.decide(observation, np.asarray(self.policy(observation), dtype=np.float64))

    def decide(self, observation: Any, proposed: np.ndarray) -> tuple[np.ndarray, bool]:
        """The expert's action while it is in control, else `proposed`."""
        proposed = np.asarray(proposed, dtype=np.float64)
        expert = np.asarray(self.expert(observation), dtype=np.float64)
        disagree = float(np.max(np.abs(proposed - expert))) > self.threshold
        self._disagreeing = self._disagreeing + 1 if disagree else 0
        if self._in_control and not disagree:
            self._in_control = False
        elif not self._in_control and self._disagreeing > self.reaction_steps:
            self._in_control = True
        if self._in_control and self.used < self.budget:
            self.used += 1
            return expert, True
        return proposed, False


def expert_of(env) -> Policy:
    """The task's scripted expert as a policy, refused with what to do for a task without one."""
    from robolearn.data.transitions import scripted_expert
    from robolearn.tasks.base import task_of

    task = task_of(env)
    if task is None or not task.has_expert:
        raise ValueError(f"{env.spec.id if env.spec else env} has no scripted expert: drive it with a teleop device "
                         f"(--by keyboard|gamepad) or a policy (--by policy.onnx)")
    return scripted_expert(env)
