"""The robolearn tasks as gymnasium ids: `gymnasium.make("robolearn/PendulumBalance-v0")` after `import robolearn`.

Registration records names and entry points only; PyBullet and the robot code load when an env is made.
Keyword arguments of `gymnasium.make(id, **kwargs)` reach the robot: `image=True` for a camera, SimConfig
fields (seed, mass_range, friction_range, gain_range, action_latency_steps, observation_noise_std) and
robot options (e.g. `walls=` for the base). Truncation comes from gymnasium's TimeLimit, so
`gymnasium.make(id, max_episode_steps=N)` changes the episode length.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from typing import Any

import gymnasium as gym

from robolearn.envs.robot_env import RobotEnv
from robolearn.tasks.base import Task

NAMESPACE = "robolearn"


@dataclass(frozen=True)
class TaskEntry:
    id: str
    robot: str
    task_factory: str  # "module:callable" returning a fresh Task
    max_episode_steps: int
    description: str

    @property
    def short_name(self) -> str:
        return self.id.split("/", 1)[1].split("-v", 1)[0]

    def make_task(self) -> Task:
        module, attr = self.task_factory.split(":")
        return getattr(importlib.import_module(module), attr)()


TASKS: tuple[TaskEntry, ...] = (
    TaskEntry("robolearn/ArmReach-v0", "so101_arm", "robolearn.tasks.reach:ReachTask", 100,
              "SO-101 arm moves its gripper to a random reachable point (joint-position deltas)"),
    TaskEntry("robolearn/BaseGoal-v0", "diffdrive_base", "robolearn.tasks.goal:GoalTask", 200,
              "Create-2 class diff-drive base drives to a random goal in its arena (twist commands)"),
    TaskEntry("robolearn/CarFigureEight-v0", "car", "robolearn.tasks.figure8:FigureEightTask", 440,
              "Ackermann car tracks a figure-eight, 1.5 m loops, 5.5 s per loop (twist commands)"),
    TaskEntry("robolearn/PendulumBalance-v0", "pendulum", "robolearn.tasks.balance:pendulum_balance", 300,
              "torque-limited pendulum balances near upright (cannot swing up)"),
    TaskEntry("robolearn/CartPoleBalance-v0", "cartpole", "robolearn.tasks.balance:cartpole_balance", 300,
              "cart-pole balances its pole with a force-limited cart"),
)


def task_entry(name_or_id: str) -> TaskEntry:
    """Find a task by gymnasium id ("robolearn/ArmReach-v0") or short name ("ArmReach")."""
    for entry in TASKS:
        if name_or_id in (entry.id, entry.short_name, entry.id.split("/", 1)[1]):
            return entry
    raise ValueError(
        f"unknown robolearn task {name_or_id!r}; known tasks: {[e.id for e in TASKS]} "
        f"(short names {[e.short_name for e in TASKS]})")


def build_env(task: str, image: bool = False, render_mode: str | None = None, **robot_kwargs: Any) -> RobotEnv:
    """Entry point of every registered id: the sim robot of `task` wrapped with its Task."""
    entry = task_entry(task)
    from robolearn_sim import make_robot  # PyBullet loads only here

    robot = make_robot(entry.robot, image=image, **robot_kwargs)
    # The TimeLimit wrapper that gymnasium.make adds owns truncation (and honours max_episode_steps=N);
    # RobotEnv's own limit must not cut episodes shorter than what the caller asked for.
    return RobotEnv(robot, entry.make_task(), image=bool(image), max_episode_steps=sys.maxsize,
                    render_mode=render_mode)


def register_all() -> None:
    """Register every robolearn task with gymnasium (idempotent)."""
    for entry in TASKS:
        if entry.id in gym.registry:
            continue
        gym.register(id=entry.id, entry_point=f"{__name__}:build_env", max_episode_steps=entry.max_episode_steps,
                     kwargs={"task": entry.id})


def make_env(name_or_id: str, **kwargs: Any) -> gym.Env:
    """`gymnasium.make` for a robolearn task given by id or short name, with a clear error for unknown ones."""
    register_all()
    return gym.make(task_entry(name_or_id).id, **kwargs)
