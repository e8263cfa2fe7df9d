"""The robolearn tasks as gymnasium ids: `gymnasium.make("robolearn/PendulumBalance-v0")` after `import robolearn`.

Registration records names and entry points only; PyBullet and the robot code load when an env is made.
Keyword arguments of `gymnasium.make(id, **kwargs)` reach the robot: `image=True` for a camera, SimConfig
fields (seed, physics_hz, perturbation: a Perturbation, PerturbationRanges, preset name, file or dict) and
robot options (e.g. `walls=` for the base, `actuator="sts3215"` for the arm's servo model). Truncation
comes from gymnasium's TimeLimit, so `gymnasium.make(id, max_episode_steps=N)` changes the episode length.
"""

from __future__ import annotations

import sys
from typing import Any

import gymnasium as gym

from robolearn.envs.robot_env import RobotEnv
from robolearn.robot import Robot
from robolearn.tasks.registry import TASKS, TaskEntry, task_entry  # noqa: F401  (the ids registered here)

NAMESPACE = "robolearn"


def build_env(task: str, image: bool = False, render_mode: str | None = None, **robot_kwargs: Any) -> RobotEnv:
    """Entry point of every registered id: the sim robot of `task` wrapped with its Task."""
    entry = task_entry(task)
    from robolearn_sim import make_robot  # PyBullet loads only here

    robot = make_robot(entry.robot, image=image, **robot_kwargs)
    robot.config.perturbation.check_episode(entry.max_episode_steps)
    # The TimeLimit wrapper that gymnasium.make adds owns truncation (and honours max_episode_steps=N);
    # RobotEnv's own limit must not cut episodes shorter than what the caller asked for.
    return RobotEnv(robot, entry.make_task(), image=bool(image), max_episode_steps=sys.maxsize,
                    render_mode=render_mode)


def make_robot_env(task: str, robot: Robot, image: bool = False) -> RobotEnv:
    """`task` on a robot made elsewhere (the real one from robolearn.hardware, or RosRobot behind ROS topics):
    the same Task, observation and episode length as the task's simulation, so a policy cannot tell them
    apart. Refuses a robot the task is not written for."""
    entry = task_entry(task)
    if robot.spec.name != entry.robot:
        raise ValueError(f"task {entry.id} is written for {entry.robot}, not {robot.spec.name}")
    env = RobotEnv(robot, entry.make_task(), image=image, max_episode_steps=entry.max_episode_steps)
    register_all()
    env.spec = gym.spec(entry.id)  # the checkpoint's and the exported policy's task id
    return env


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
