"""Workspace models for the safety layer's box: where the robot's constrained point is now, and where a
command would take it. Shared by the simulated and the real robots."""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from robolearn.robots.kinematics import ArmKinematics
from robolearn.spec import Observation


ForwardKinematics = Callable[[np.ndarray], np.ndarray]  # joint positions -> point (m)


class ArmWorkspace:
    """The gripper tip of the measured and of the commanded joints (a position command is where the joints
    are going).

    `fk` is any forward-kinematics callable, default this package's numpy `ArmKinematics().position`; it
    is most of the safety filter's cost per arm command (bench/bench_safety.py), so a faster one drops in.
    """

    def __init__(self, fk: ForwardKinematics | ArmKinematics | None = None) -> None:
        if fk is None:
            fk = ArmKinematics()
        if isinstance(fk, ArmKinematics):
            fk = fk.position
        if not callable(fk):
            raise TypeError(f"ArmWorkspace needs a forward-kinematics callable, got {type(fk).__name__}")
        self.fk = fk

    def current(self, observation: Observation) -> np.ndarray:
        return self.fk(observation["joint_pos"])

    def predicted(self, command: np.ndarray, observation: Observation, dt: float) -> np.ndarray:
        return self.fk(command)


class PlanarBaseWorkspace:
    """The box constrains the base's (x, y).

    `predicted` looks ahead one control period at the commanded twist plus the distance needed to brake
    at `max_decel` (m/s^2) from the commanded or the measured speed, whichever is higher, so the base is
    stopped before, not after, the box's edge.
    """

    def __init__(self, max_decel: float) -> None:
        if not max_decel > 0:
            raise ValueError(f"max_decel must be > 0, got {max_decel}")
        self.max_decel = max_decel

    def current(self, observation: Observation) -> np.ndarray:
        return np.asarray(observation["base_pose"], dtype=np.float64)[:2]

    def predicted(self, command: np.ndarray, observation: Observation, dt: float) -> np.ndarray:
        x, y, yaw = np.asarray(observation["base_pose"], dtype=np.float64)
        speed = float(command[0])
        # Brake from whichever is faster, the command or the measured motion (the wheels lag the command).
        measured = float(observation.values["base_twist"][0]) if "base_twist" in observation.values else speed
        braking = speed if abs(speed) >= abs(measured) else measured
        travel = speed * dt + braking * abs(braking) / (2.0 * self.max_decel)
        heading = yaw + float(command[1]) * dt / 2.0
        return np.array([x + travel * math.cos(heading), y + travel * math.sin(heading)])
