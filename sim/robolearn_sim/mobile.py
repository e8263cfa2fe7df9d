"""What every simulated mobile base shares: twist commands, pose/twist measurement, a start pose, and how
its driven wheels are actuated (PyBullet velocity motors, or the opt-in wheel motor model). Their layout
and planar workspace box are in robolearn/robots/."""

from __future__ import annotations

import math

import os

import numpy as np
import pybullet as p

from robolearn_sim.actuators import WheelMotors, WheelParams, add_armature, wheel_params
from robolearn_sim.base import SimRobot, free_joints, joint_states, reset_option
from robolearn_sim.config import SimConfig


class MobileBaseRobot(SimRobot):
    """A base driven by [linear_x m/s, angular_z rad/s]; observes base_pose (x, y, yaw) and
    base_twist (forward speed, yaw rate). Subclasses load `self.body`, name their driven wheels with
    `_prepare_drive`, and turn twists into wheel speeds for `_drive`.

    By default the driven wheels are PyBullet velocity motors capped at `wheel_torque`. `actuator=` (a name
    in `robolearn_sim.actuators.WHEELS` or a WheelParams) drives them through the wheel motor model
    instead: a PI speed loop on a DC motor's torque-speed line, with the tyre friction that decides when a
    wheel slips.
    """

    spawn_height: float = 0.0  # z of the body frame when standing on the floor
    start_yaw_spread: float = math.pi  # start yaw drawn from U(-spread, spread) around `start_yaw`
    start_yaw: float = 0.0

    body: int
    wheel_torque: float  # N·m cap of each default velocity motor

    def __init__(self, config: SimConfig | None = None, limits_path: str | os.PathLike | None = None,
                 actuator: str | WheelParams | None = None) -> None:
        super().__init__(config, limits_path)
        self.motors: WheelMotors | None = None
        self._drive_wheels: list[int] = []
        if actuator is not None:
            self.motors = WheelMotors(wheel_params(actuator), 1.0 / self.config.physics_hz)
            self.actuate_every_physics_step = True
            self.torque_driven_joints = True

    def _prepare_drive(self, client: int, wheels: list[int]) -> None:
        """Call from `_load` with the driven wheel joints."""
        self._drive_wheels = wheels
        if self.motors is not None:
            free_joints(self.body, wheels, client)
            for wheel in wheels:
                p.changeDynamics(self.body, wheel, lateralFriction=self.motors.params.tyre_friction,
                                 physicsClientId=client)
            self.motors.reset(len(wheels))

    def _after_perturbation(self, client: int) -> None:
        if self.motors is not None:  # the gearmotors' inertia does not scale with the wheels' mass
            for wheel in self._drive_wheels:
                add_armature(self.body, wheel, self.motors.params.armature, client)

    def _drive(self, wheel_speeds: np.ndarray, gains: np.ndarray) -> None:
        """Drive the wheels towards `wheel_speeds` (rad/s) with strength scaled by `gains` (one per wheel)."""
        client = self.client
        if self.motors is not None:
            _, spin, _ = joint_states(self.body, self._drive_wheels, client)
            torque = self.motors.step(wheel_speeds, spin, gains)
            p.setJointMotorControlArray(self.body, self._drive_wheels, p.TORQUE_CONTROL, forces=torque.tolist(),
                                        physicsClientId=client)
        else:
            p.setJointMotorControlArray(self.body, self._drive_wheels, p.VELOCITY_CONTROL,
                                        targetVelocities=np.asarray(wheel_speeds).tolist(),
                                        forces=(self.wheel_torque * np.asarray(gains)).tolist(),
                                        physicsClientId=client)

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
