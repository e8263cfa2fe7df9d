"""SO-101 class arm: six serial-bus position servos (five arm joints and a gripper jaw) on a table."""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import pybullet as p

from robolearn_sim.actuators import ServoBank, ServoParams, add_armature, servo_params
from robolearn_sim.base import SimRobot, free_joints, joint_states, load_asset, load_ground, reset_option
from robolearn_sim.config import SimConfig
from robolearn.robots.so101_arm import DEFINITION as SO101_ARM, JOINTS

HOME = np.array([0.0, 0.0, 1.3, 0.6, 0.0, 0.0])


class SO101ArmRobot(SimRobot):
    """Goal positions in, like the real servos; each servo's torque is capped (`max_torque`, N·m) and its
    position loop has a finite stiffness, so it lags and sags under load as the real ones do.

    By default the joints are PyBullet position motors (the tuned, stiff sim arm). `actuator="sts3215"`
    (or another name in `robolearn_sim.actuators.SERVOS`, a ServoParams, or one per joint) replaces them
    with the serial-bus servo model, driven by torque at every physics step: finite stiffness, torque-speed
    line, deadband, backlash; `joint_effort` is then the servo's output torque.
    """

    definition = SO101_ARM
    supports_torque_off = True
    camera_view = ((0.55, -0.45, 0.45), (0.15, 0.0, 0.1))
    max_torque = 2.9  # N·m, STS3215 class servo at 12 V
    position_gain = 0.1  # with velocity_gain 1: settles a 0.05 rad step in ~3 control steps, no saturation
    velocity_gain = 1.0
    start_spread = 0.05  # rad, uniform around HOME

    def __init__(self, config: SimConfig | None = None, limits_path: str | os.PathLike | None = None,
                 actuator: str | ServoParams | Sequence[str | ServoParams] | None = None) -> None:
        super().__init__(config, limits_path)
        self.servos: ServoBank | None = None
        if actuator is not None:
            params = ([servo_params(a) for a in actuator] if isinstance(actuator, (list, tuple))
                      else servo_params(actuator))
            self.servos = ServoBank(params, len(JOINTS), 1.0 / self.config.physics_hz)
            self.actuate_every_physics_step = True
            self.torque_driven_joints = True
            self.has_servo_model = True

    def _load(self, client: int) -> list[int]:
        load_ground(client)
        self.body = load_asset(client, SO101_ARM.urdf, useFixedBase=True)
        self._joints = list(range(len(JOINTS)))
        if self.servos is not None:
            free_joints(self.body, self._joints, client)
        return [self.body]

    def _after_perturbation(self, client: int) -> None:
        if self.servos is not None:  # the motors' inertia does not scale with the links' mass
            for joint, servo in zip(self._joints, self.servos.params):
                add_armature(self.body, joint, servo.armature, client)
            n = len(self._joints)
            self.servos.wear(self.perturbation.per_element("servo_backlash", n),
                             self.perturbation.per_element("servo_deadband", n))

    def _place(self, rng: np.random.Generator, options: dict) -> None:
        start = (reset_option(options, "joint_pos", len(JOINTS), self.robot_name) if "joint_pos" in options
                 else HOME + rng.uniform(-self.start_spread, self.start_spread, len(JOINTS)))
        for j, q in zip(self._joints, start):
            p.resetJointState(self.body, j, float(q), 0.0, physicsClientId=self.client)
        if self.servos is not None:
            self.servos.reset()

    def _rest_command(self) -> np.ndarray:
        pos, _, _ = joint_states(self.body, self._joints, self.client)
        return pos  # hold where the episode starts

    def _actuate(self, command: np.ndarray) -> None:
        if self.servos is not None:
            pos, vel, _ = joint_states(self.body, self._joints, self.client)
            torque = self.servos.step(command, pos, vel, self.gains)
            p.setJointMotorControlArray(self.body, self._joints, p.TORQUE_CONTROL, forces=torque.tolist(),
                                        physicsClientId=self.client)
            return
        p.setJointMotorControlArray(
            self.body, self._joints, p.POSITION_CONTROL, targetPositions=command.tolist(),
            forces=(self.max_torque * self.gains).tolist(),
            positionGains=[self.position_gain] * len(JOINTS), velocityGains=[self.velocity_gain] * len(JOINTS),
            physicsClientId=self.client)

    def _release_motors(self) -> None:
        free_joints(self.body, self._joints, self.client)

    def _measure(self) -> dict[str, np.ndarray]:
        pos, vel, effort = joint_states(self.body, self._joints, self.client)
        if self.servos is not None:  # PyBullet reports no effort for torque control: the servo knows its own
            effort = self.servos.torque.copy()
        return {"joint_pos": pos, "joint_vel": vel, "joint_effort": effort}

