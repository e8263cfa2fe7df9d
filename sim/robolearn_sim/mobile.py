"""What every simulated mobile base shares: twist commands, pose/twist measurement, a start pose.
Their layout and planar workspace box are in robolearn/robots/."""

from __future__ import annotations

import math

import numpy as np
import pybullet as p

from robolearn_sim.base import SimRobot, reset_option


class MobileBaseRobot(SimRobot):
    """A base driven by [linear_x m/s, angular_z rad/s]; observes base_pose (x, y, yaw) and
    base_twist (forward speed, yaw rate). Subclasses load `self.body` and turn twists into wheel motion."""

    spawn_height: float = 0.0  # z of the body frame when standing on the floor
    start_yaw_spread: float = math.pi  # start yaw drawn from U(-spread, spread) around `start_yaw`
    start_yaw: float = 0.0

    body: int

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
