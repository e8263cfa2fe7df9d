"""The privileged true-state channel, for asymmetric critics and for scoring the physical truth.

A simulated robot puts its noise-free, undelayed measurement into `info["true_state"]` (RobotEnv). A critic
that is only used in training may read it; an actor that is deployed may not. `WithPrivilegedState`
appends the vector to every observation of a training env, so what a learner stores is
`[policy observation, privileged state]` and the actor is given only the first `observation_size` entries.
`TrueReward` scores every step a second time on the true state (`info["true_reward"]`): the task's own
reward is computed from what the sensors measured, which a calibration error or noise can flatter.
"""

from __future__ import annotations

import copy
from typing import Any, Mapping

import gymnasium as gym
import numpy as np

from robolearn.spec import Observation

TRUE_STATE = "true_state"


class NoPrivilegedState(ValueError):
    """The env has no true-state channel (hardware, or not a robolearn task)."""


def privileged_layout(env: gym.Env) -> tuple[tuple[str, int], ...]:
    """(key, size) of each block of the privileged vector, in order: the robot's measured values."""
    robot = getattr(getattr(env, "unwrapped", env), "robot", None)
    spec = getattr(robot, "spec", None)
    if spec is None:
        raise NoPrivilegedState(f"{getattr(env, 'spec', None) or env} is not a robolearn task on a robot: it has no "
                                "privileged true state for an asymmetric critic")
    return tuple((key, int(np.prod(shape))) for key, shape in sorted(spec.observation_shapes.items()))


def privileged_vector(info: Mapping[str, Any], layout: tuple[tuple[str, int], ...]) -> np.ndarray:
    """`info["true_state"]` flattened in `layout` order (float32)."""
    state = info.get(TRUE_STATE)
    if state is None:
        raise NoPrivilegedState("the env's info carries no true_state (a real robot has none): an asymmetric "
                                "critic trains in simulation only; set asymmetric_critic: false here")
    return np.concatenate([np.asarray(state[key], np.float32).reshape(size) for key, size in layout])


class WithPrivilegedState(gym.Wrapper):
    """Observations become `[observation, privileged vector]` (flat Box observations only)."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        space = env.observation_space
        if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
            raise ValueError(f"privileged state is appended to flat Box observations, not {space}")
        self.layout = privileged_layout(env)
        self.observation_size = int(space.shape[0])
        total = self.observation_size + sum(size for _, size in self.layout)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (total,), np.float32)

    def _append(self, observation: Any, info: Mapping[str, Any]) -> np.ndarray:
        return np.concatenate([np.asarray(observation, np.float32), privileged_vector(info, self.layout)])

    def reset(self, **kwargs: Any):
        observation, info = self.env.reset(**kwargs)
        return self._append(observation, info), info

    def step(self, action: Any):
        observation, reward, terminated, truncated, info = self.env.step(action)
        return self._append(observation, info), reward, terminated, truncated, info


class TrueReward(gym.Wrapper):
    """Adds `info["true_reward"]`: the task's reward for the step evaluated on the true states before and
    after it, by a copy of the task taken at reset (so its episode state, e.g. the target, is the same).

    The true episode ends where the task terminates on the true state (a goal reached, a pole fallen),
    which can be before the measured one does (stale or noisy readings): from there on the true reward is 0
    and `true_is_success` keeps the true outcome, so a terminal bonus is counted once, as the task means it."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        privileged_layout(env)  # refuses an env without a robot
        self._shadow = None
        self._true: Observation | None = None
        self._true_ended = False
        self._true_success: bool | None = None  # the true outcome, kept once the true episode ended

    def _observation(self, info: Mapping[str, Any]) -> Observation:
        state = info.get(TRUE_STATE)
        if state is None:
            raise NoPrivilegedState("the env's info carries no true_state: the true reward needs a simulated robot")
        return Observation(timestamp=float(info.get("timestamp", 0.0)), values=dict(state))

    def reset(self, **kwargs: Any):
        observation, info = self.env.reset(**kwargs)
        self._shadow = copy.deepcopy(self.env.unwrapped.task)
        self._true = self._observation(info)
        self._true_ended = False
        return observation, info

    def step(self, action: Any):
        observation, reward, terminated, truncated, info = self.env.step(action)
        true_next = self._observation(info)
        if self._true_ended:
            info["true_reward"] = 0.0
            info["true_is_success"] = self._true_success
        else:
            outcome = self._shadow.evaluate(self._true, info["applied_command"], true_next)
            info["true_reward"] = float(outcome.reward)
            info["true_is_success"] = outcome.info.get("is_success")
            self._true_ended, self._true_success = bool(outcome.terminated), info["true_is_success"]
        self._true = true_next
        return observation, reward, terminated, truncated, info
