"""A gymnasium environment made of a Robot and a Task: the only thing learners see."""

from __future__ import annotations

from typing import Any, Callable

import gymnasium as gym
import numpy as np

from robolearn.robot import Robot
from robolearn.spec import Observation
from robolearn.tasks.base import Task


class RobotEnv(gym.Env):
    """Observations are the task's flat features (float32), or, with `image=True`, a dict
    {"state": features, "image": uint8 HxWx3}. Actions are in [-1, 1]^n.

    `info` of every step carries the command applied after safety (`applied_command`), the safety
    interventions of this step (`safety`), and the policy-space view of the applied command
    (`applied_action`), so learners can store what the robot really did. Where the robot has one (sim),
    `info["true_state"]` is the privileged noise-free measurement (`Robot.true_state`): for evaluation
    and asymmetric critics only; the policy's observation never contains it.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(self, robot: Robot | Callable[[], Robot], task: Task, image: bool = False,
                 max_episode_steps: int | None = None, render_mode: str | None = None) -> None:
        super().__init__()
        self.robot = robot() if callable(robot) and not isinstance(robot, Robot) else robot
        self.task = task
        self.image = image
        self.render_mode = render_mode
        self.max_episode_steps = max_episode_steps or task.max_episode_steps
        spec = self.robot.spec
        if image and spec.image_shape is None:
            raise ValueError(f"{spec.name} has no camera: create it with a camera to use image=True")
        n = task.feature_size(spec)
        state_space = gym.spaces.Box(-np.inf, np.inf, (n,), np.float32)
        if image:
            self.observation_space = gym.spaces.Dict(
                {"state": state_space, "image": gym.spaces.Box(0, 255, spec.image_shape, np.uint8)}
            )
        else:
            self.observation_space = state_space
        self.action_space = gym.spaces.Box(-1.0, 1.0, (spec.action_size,), np.float32)
        self._obs = None
        self._steps = 0
        self.robot.connect()

    @property
    def last_observation(self) -> Observation | None:
        """The robot observation behind the latest returned features (None before the first reset).

        Export uses it to check the in-graph command mapping against `task.action_to_command`.
        """
        return self._obs

    def _policy_obs(self, obs) -> Any:
        features = np.asarray(self.task.features(obs), dtype=np.float32)
        if not self.image:
            return features
        if obs.image is None:
            raise RuntimeError(f"{self.robot.spec.name}: camera returned no frame")
        return {"state": features, "image": obs.image}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        robot_seed = None if seed is None else int(self.np_random.integers(2**31 - 1))
        self._obs = self.robot.reset(seed=robot_seed, options=options)
        self.task.reset(self._obs, self.np_random)
        self._steps = 0
        return self._policy_obs(self._obs), self._with_true_state({"timestamp": self._obs.timestamp})

    def step(self, action):
        if self._obs is None:
            raise RuntimeError("call reset() before step()")
        action = np.asarray(action, dtype=np.float64)
        if action.shape != self.action_space.shape:
            raise ValueError(f"action has shape {action.shape}, expected {self.action_space.shape}")
        spec = self.robot.spec
        # NaN stays NaN through the mapping so the safety layer sees it, stops, and counts it.
        command = self.task.action_to_command(action, self._obs, spec)
        if not np.all(np.isfinite(action)):
            command = np.full(spec.action_size, np.nan)
        applied = self.robot.send_action(command)
        self.robot.wait()
        next_obs = self.robot.observe()
        decision = self.robot.last_decision
        outcome = self.task.evaluate(self._obs, applied, next_obs)
        self._steps += 1
        truncated = self._steps >= self.max_episode_steps and not outcome.terminated
        info = dict(outcome.info)
        info.update(
            applied_command=applied,
            applied_action=self.task.command_to_action(applied, self._obs, spec)
            if np.all(np.isfinite(applied)) else np.zeros(spec.action_size),
            safety=decision.interventions if decision else (),
            safety_stopped=bool(decision.stopped) if decision else False,
            timestamp=next_obs.timestamp,
        )
        self._obs = next_obs
        return (self._policy_obs(next_obs), float(outcome.reward), bool(outcome.terminated), truncated,
                self._with_true_state(info))

    def _with_true_state(self, info: dict) -> dict:
        true_state = self.robot.true_state()
        if true_state is not None:
            info["true_state"] = true_state
        return info

    def render(self):
        if self._obs is not None and self._obs.image is not None:
            return self._obs.image
        render = getattr(self.robot, "render", None)
        return render() if render else None

    def close(self):
        self.robot.disconnect()
