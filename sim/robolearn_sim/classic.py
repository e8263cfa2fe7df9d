"""Classic control robots for fast tests: a torque-limited pendulum and a cart-pole, both effort-driven."""

from __future__ import annotations

import numpy as np
import pybullet as p

from robolearn.robots.cartpole import DEFINITION as CARTPOLE
from robolearn.robots.pendulum import DEFINITION as PENDULUM
from robolearn_sim.base import SimRobot, free_joints, joint_states, load_asset, reset_option


class _EffortJointsRobot(SimRobot):
    """Robots whose every joint is measured and whose commands are efforts on `actuated` joints."""

    actuate_every_physics_step = True
    torque_driven_joints = True
    actuated: tuple[int, ...]
    # Start state drawn uniformly from +-start_spread around `start_state` ([positions, velocities]).
    start_state: tuple[float, ...]
    start_spread: tuple[float, ...]

    def _load(self, client: int) -> list[int]:
        self.body = load_asset(client, self.definition.urdf, useFixedBase=True)
        self._joints = list(range(p.getNumJoints(self.body, physicsClientId=client)))
        free_joints(self.body, self._joints, client)
        for j in self._joints:  # no hidden friction: the effort command is the only actuator
            p.changeDynamics(self.body, j, linearDamping=0.0, angularDamping=0.0, jointDamping=0.0,
                             physicsClientId=client)
        return [self.body]

    def _place(self, rng: np.random.Generator, options: dict) -> None:
        n = len(self._joints)
        state = np.asarray(self.start_state) + rng.uniform(-1, 1, 2 * n) * np.asarray(self.start_spread)
        if "joint_pos" in options:
            state[:n] = reset_option(options, "joint_pos", n, self.robot_name)
        if "joint_vel" in options:
            state[n:] = reset_option(options, "joint_vel", n, self.robot_name)
        for j, (q, qd) in enumerate(zip(state[:n], state[n:])):
            p.resetJointState(self.body, self._joints[j], float(q), float(qd), physicsClientId=self.client)

    def _actuate(self, command: np.ndarray) -> None:
        p.setJointMotorControlArray(self.body, list(self.actuated), p.TORQUE_CONTROL,
                                    forces=(command * self.gains).tolist(), physicsClientId=self.client)

    def _measure(self) -> dict[str, np.ndarray]:
        pos, vel, _ = joint_states(self.body, self._joints, self.client)
        return {"joint_pos": pos, "joint_vel": vel}


class PendulumRobot(_EffortJointsRobot):
    """1 kg at 0.5 m on a motor capped at 2 N·m: it can hold about 24° from upright, never swing up."""

    definition = PENDULUM
    camera_view = ((0.0, -2.0, 1.0), (0.0, 0.0, 1.0))
    actuated = (0,)
    start_state = (0.0, 0.0)
    start_spread = (0.1, 0.1)


class CartPoleRobot(_EffortJointsRobot):
    """Force on a 1 kg cart carrying a 1 m, 0.1 kg pole; joint_pos = [cart x (m), pole angle (rad)]."""

    definition = CARTPOLE
    camera_view = ((0.0, -4.0, 0.8), (0.0, 0.0, 0.5))
    actuated = (0,)
    start_state = (0.0, 0.0, 0.0, 0.0)
    start_spread = (0.05, 0.05, 0.05, 0.05)

