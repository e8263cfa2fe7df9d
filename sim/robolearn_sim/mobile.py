"""What every simulated mobile base shares: twist commands, pose/twist measurement, a start pose, and
the planar workspace box."""

from __future__ import annotations

import math

import numpy as np
import pybullet as p

from robolearn.safety.limits import LimitsError, SafetyLimits
from robolearn.spec import CommandKind
from robolearn_sim.base import SimRobot, reset_option
from robolearn.robots.workspace import PlanarBaseWorkspace


class MobileBaseRobot(SimRobot):
    """A base driven by [linear_x m/s, angular_z rad/s]; observes base_pose (x, y, yaw) and
    base_twist (forward speed, yaw rate). Subclasses load `self.body` and turn twists into wheel motion."""

    command_kind = CommandKind.TWIST
    command_names = ("linear_x", "angular_z")
    spawn_height: float = 0.0  # z of the body frame when standing on the floor
    start_yaw_spread: float = math.pi  # start yaw drawn from U(-spread, spread) around `start_yaw`
    start_yaw: float = 0.0
    max_braking: float = math.inf  # m/s^2 the base can really brake at (wheel grip), if below the rate limit

    body: int

    @classmethod
    def workspace_model(cls, limits: SafetyLimits) -> PlanarBaseWorkspace | None:
        if limits.workspace_low is None:
            return None
        if limits.workspace_low.shape != (2,):
            raise LimitsError(f"{cls.robot_name}: the workspace box of a base is on (x, y): give 2 values, "
                              f"got {limits.workspace_low.tolist()}")
        decel = min(float(limits.max_rate[0]), cls.max_braking)
        return PlanarBaseWorkspace(max_decel=decel)

    def _place(self, rng: np.random.Generator, options: dict) -> None:
        yaw = self.start_yaw + rng.uniform(-self.start_yaw_spread, self.start_yaw_spread)
        x = y = 0.0
        if "base_pose" in options:
            x, y, yaw = reset_option(options, "base_pose", 3, self.robot_name)
        orientation = p.getQuaternionFromEuler([0.0, 0.0, float(yaw)])
        p.resetBasePositionAndOrientation(self.body, [float(x), float(y), self.spawn_height], orientation,
                                          physicsClientId=self.client)
        p.resetBaseVelocity(self.body, [0.0, 0.0, 0.0], [0.0, 0.0, 0.0], physicsClientId=self.client)

    def _measure(self) -> dict[str, np.ndarray]:
        client = self.client
        position, orientation = p.getBasePositionAndOrientation(self.body, physicsClientId=client)
        linear, angular = p.getBaseVelocity(self.body, physicsClientId=client)
        yaw = p.getEulerFromQuaternion(orientation)[2]
        forward = linear[0] * math.cos(yaw) + linear[1] * math.sin(yaw)
        return {"base_pose": np.array([position[0], position[1], yaw]),
                "base_twist": np.array([forward, angular[2]])}
