"""The robolearn tasks by id, and the robot each is written for: a table without gymnasium, so the policy
node on a robot-side install finds its task's features (robolearn/envs/registry.py registers the same
table with gymnasium)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from robolearn.tasks.base import Task


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
