"""Car-like (Ackermann) base: pybullet_data's 1/10-scale MIT racecar with rear-wheel drive."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pybullet as p
import pybullet_data

from robolearn.robots.car import DEFINITION as CAR
from robolearn_sim.base import load_ground
from robolearn_sim.mobile import MobileBaseRobot

WHEEL_BASE = 0.325  # m, rear axle to steering hinges
TRACK = 0.2  # m between the left and right steering hinges
WHEEL_RADIUS = 0.05
MAX_STEER = 0.5  # rad at the wheels
REAR_WHEELS = [2, 3]
FRONT_WHEELS = [5, 7]
STEERING_HINGES = [4, 6]  # left, right


def twist_to_steering(linear: float, angular: float) -> float:
    """Bicycle-model steering angle that turns at `angular` rad/s when driving at `linear` m/s (clipped).

    Near standstill a car cannot turn on the spot; the angle is computed as if moving at 0.1 m/s, so a
    pure rotation command still steers the wheels in its direction.
    """
    speed = max(abs(linear), 0.1)
    direction = 1.0 if linear >= 0 else -1.0
    return max(-MAX_STEER, min(MAX_STEER, direction * math.atan(angular * WHEEL_BASE / speed)))


class CarRobot(MobileBaseRobot):
    """TWIST [linear_x, angular_z] -> rear wheel speed and Ackermann steering angles (|delta| <= 0.5 rad).
    `actuator="racecar"` drives the rear wheels through the wheel motor model (see MobileBaseRobot)."""

    definition = CAR
    camera_view = ((0.0, -4.5, 5.0), (0.0, 0.0, 0.0))
    spawn_height = 0.002
    start_yaw = math.atan(0.6)  # the heading of the default figure-eight where it starts, at its centre
    start_yaw_spread = 0.1
    wheel_torque = 2.0  # N·m cap per driven wheel
    steering_force = 10.0
    tyre_friction = 1.0  # rubber on a floor; the URDF's 0.5 lets the car slide out of every turn

    def _load(self, client: int) -> list[int]:
        load_ground(client)
        self.body = p.loadURDF(str(Path(pybullet_data.getDataPath()) / "racecar" / "racecar.urdf"),
                               physicsClientId=client)
        p.setJointMotorControlArray(self.body, FRONT_WHEELS, p.VELOCITY_CONTROL, forces=[0.0, 0.0],
                                    physicsClientId=client)
        for wheel in REAR_WHEELS + FRONT_WHEELS:
            p.changeDynamics(self.body, wheel, lateralFriction=self.tyre_friction, physicsClientId=client)
        self._prepare_drive(client, REAR_WHEELS)
        return [self.body]

    def _actuate(self, command: np.ndarray) -> None:
        linear, angular = float(command[0]), float(command[1])
        steer = twist_to_steering(linear, angular)
        if abs(steer) > 1e-6:  # Ackermann: the inner wheel turns more than the outer one
            radius = WHEEL_BASE / math.tan(steer)
            left = math.atan(WHEEL_BASE / (radius - TRACK / 2))
            right = math.atan(WHEEL_BASE / (radius + TRACK / 2))
        else:
            left = right = 0.0
        client = self.client
        p.setJointMotorControlArray(self.body, STEERING_HINGES, p.POSITION_CONTROL, targetPositions=[left, right],
                                    forces=[self.steering_force] * 2, physicsClientId=client)
        self._drive(np.full(2, linear / WHEEL_RADIUS), np.full(2, self.gains[0]))
