"""Human interventions during training (HIL-SERL): a gymnasium wrapper that lets an overseer replace the
learner's action.

The learner calls `env.step(action)` as usual. The overseer (a `TakeoverSource` with a real device, or a
`SimulatedHuman`) sees the observation and the learner's proposal and either lets it through or swaps in
its own action; the step then goes through the robot's SafetyController like any other. `info` carries
`intervention` (bool) and `executed_action` (what was asked of the robot, in [-1, 1]) every step, and at
the episode's end `episode_interventions` and `intervention_rate`, so a learner can route the human steps
to its intervention buffer and log the rate. An `EpisodeEnded` from the overseer (a success or failure key) ends
the episode as truncated with `info["human_label"]`; with `label_reward` the reward is 1 on a success
label (which then terminates the episode) and 0 on every other step (human labels standing in for a reward
classifier).
"""

from __future__ import annotations

from typing import Any, Protocol

import gymnasium as gym
import numpy as np

from robolearn.data.episodes import EpisodeEnded, stop_robot
from robolearn.teleop.base import DeviceUnplugged


class Overseer(Protocol):
    def decide(self, observation: Any, proposed: np.ndarray) -> tuple[np.ndarray, bool]: ...


class InterventionWrapper(gym.Wrapper):
    def __init__(self, env: gym.Env, overseer: Overseer, label_reward: bool = False) -> None:
        super().__init__(env)
        self.overseer, self.label_reward = overseer, label_reward
        self._obs: Any = None
        self._count = self._steps = 0

    @property
    def without_human(self) -> gym.Env:
        """The env with nobody overseeing it (a scripted expert's demonstrations are collected there)."""
        return self.env

    @property
    def spec(self):
        # The task's own spec: an evaluation copy (gym.make(env.spec)) runs the policy alone, without a human.
        return self.env.spec

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        if hasattr(self.overseer, "reset"):
            self.overseer.reset()
        self._obs, self._count, self._steps = obs, 0, 0
        return obs, info

    def step(self, action):
        proposed = np.asarray(action, dtype=np.float64)
        label = None
        try:
            executed, intervened = self.overseer.decide(self._obs, proposed)
        except EpisodeEnded as ended:
            label, executed, intervened = ended.outcome, proposed, False
        except DeviceUnplugged as exc:  # nobody can take over any more: fail safe before anything else moves
            stop_robot(self.env, "teleop device unplugged")
            raise DeviceUnplugged(f"{exc}; the robot was stopped and this step was not sent") from exc
        executed = np.clip(np.asarray(executed, dtype=np.float64), -1.0, 1.0)
        obs, reward, terminated, truncated, info = self.env.step(executed)
        self._obs = obs
        self._steps += 1
        self._count += bool(intervened)
        if label is not None:
            # With human labels for a reward, a success is the goal reached: the episode ends there with
            # nothing to bootstrap from (HIL-SERL's done = reward); any other label just stops the episode.
            terminated = terminated or (self.label_reward and label == "success")
            truncated = truncated or not terminated
            info["human_label"] = label
        if self.label_reward:  # as LeRobot's HIL processor: reward = float(success), every step
            reward = float(label == "success")
        info.update(intervention=bool(intervened), executed_action=executed)
        if terminated or truncated:
            info.update(episode_interventions=self._count, intervention_rate=self._count / self._steps)
        return obs, reward, terminated, truncated, info
