"""The small interface every teleop device implements."""

from __future__ import annotations

import abc
from dataclasses import dataclass

import numpy as np

EVENTS = ("success", "failure", "discard")


class DeviceUnplugged(RuntimeError):
    """The input device disappeared; whoever drives the robot must stop it."""


@dataclass(frozen=True)
class TeleopReading:
    action: np.ndarray  # (n,) in [-1, 1], the task's policy space
    active: bool  # the human is touching the device (a takeover starts here)
    event: str | None = None  # "success", "failure" or "discard": the human ends the episode


class TeleopDevice(abc.ABC):
    """A human input device mapped to an action of `action_size` entries."""

    def __init__(self, action_size: int) -> None:
        if action_size <= 0:
            raise ValueError(f"action_size must be > 0, got {action_size}")
        self.action_size = action_size

    @abc.abstractmethod
    def read(self) -> TeleopReading:
        """The newest state without blocking; raises DeviceUnplugged when the device is gone."""

    def close(self) -> None:
        """Release the device (restore the terminal, close the file)."""

    def __enter__(self) -> "TeleopDevice":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
