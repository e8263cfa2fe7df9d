"""Tasks: reward, termination and action mapping, independent of sim or hardware."""

from robolearn.tasks.base import PositionDeltaTask, StepOutcome, Task

__all__ = ["PositionDeltaTask", "StepOutcome", "Task"]
