"""Tasks: reward, termination and action mapping, independent of sim or hardware."""

from robolearn.tasks.balance import BalanceTask, cartpole_balance, pendulum_balance
from robolearn.tasks.base import PositionDeltaTask, StepOutcome, Task
from robolearn.tasks.figure8 import FigureEightTask, figure_eight_reference
from robolearn.tasks.goal import GoalTask
from robolearn.tasks.reach import ReachTask

__all__ = [
    "BalanceTask", "FigureEightTask", "GoalTask", "PositionDeltaTask", "ReachTask", "StepOutcome", "Task",
    "cartpole_balance", "figure_eight_reference", "pendulum_balance",
]
