"""Balance a pole near upright (pendulum or cart-pole) with a torque- or force-limited actuator.

Reward per step is 1 minus penalties on angle, velocity, effort (and cart offset), so staying up longer
is always better; an episode terminates when the pole falls past `fall_angle`. The scripted expert is
an LQR controller designed on the textbook linear model of the robot.
"""

from __future__ import annotations

import numpy as np

from robolearn.robots.registry import robot_definition
from robolearn.spec import Observation, RobotSpec
from robolearn.tasks.base import StepOutcome, Task

GRAVITY = 9.81


class BalanceTask(Task):
    """Keep joint `pole_index` of `joint_pos` near 0 (upright).

    `model` is (A, B) of the continuous-time linearisation in the state [joint_pos, joint_vel] with the
    effort command as input; it is used only by the expert.
    """

    def __init__(self, name: str, robot_name: str, pole_index: int, n_joints: int,
                 model: tuple[np.ndarray, np.ndarray], control_rate_hz: float, fall_angle: float,
                 state_cost: np.ndarray, effort_cost: float = 0.01, max_episode_steps: int = 300) -> None:
        self.name = name
        self.robot_name = robot_name
        self.pole_index = pole_index
        self.n_joints = n_joints
        self.fall_angle = fall_angle
        self.state_cost = np.asarray(state_cost, dtype=np.float64)
        self.effort_cost = effort_cost
        self.max_episode_steps = max_episode_steps
        a, b = _discretise(*model, 1.0 / control_rate_hz)
        self.gain = _lqr_gain(a, b, np.diag(1.0 + 10.0 * self.state_cost), np.eye(b.shape[1]) * 0.1)

    def feature_layout(self, spec: RobotSpec) -> list[tuple[str, int]]:
        return [("joint_pos", self.n_joints), ("joint_vel", self.n_joints)]

    def features(self, obs: Observation) -> np.ndarray:
        return self._state(obs).astype(np.float32)

    def reset(self, obs: Observation, rng: np.random.Generator) -> None:
        pass  # the start state is the robot's: near upright

    def evaluate(self, obs: Observation, applied_command: np.ndarray, next_obs: Observation) -> StepOutcome:
        state = self._state(next_obs)
        angle = float(state[self.pole_index])
        effort = np.nan_to_num(np.asarray(applied_command, dtype=np.float64))
        penalty = float(self.state_cost @ state**2) + self.effort_cost * float(effort @ effort)
        fell = abs(angle) > self.fall_angle
        return StepOutcome(reward=1.0 - min(penalty, 1.0), terminated=fell,
                           info={"pole_angle": angle, "fell": fell})

    def expert_action(self, obs: Observation, spec: RobotSpec) -> np.ndarray:
        effort = -self.gain @ self._state(obs)
        return self.command_to_action(effort, obs, spec)

    def _state(self, obs: Observation) -> np.ndarray:
        return np.concatenate([np.asarray(obs["joint_pos"], dtype=np.float64),
                               np.asarray(obs["joint_vel"], dtype=np.float64)])


def pendulum_model(mass: float = 1.0, length: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Point mass on a massless rod, angle from upright: theta'' = g/l theta + u / (m l^2)."""
    inertia = mass * length**2
    return np.array([[0.0, 1.0], [GRAVITY / length, 0.0]]), np.array([[0.0], [1.0 / inertia]])


def cartpole_model(cart_mass: float = 1.0, pole_mass: float = 0.1,
                   pole_length: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Cart with a uniform pole; state [x, theta, x', theta'], theta > 0 tips the pole towards +x."""
    half = pole_length / 2
    inertia = pole_mass * pole_length**2 / 3  # about the hinge
    mass_matrix = np.array([[cart_mass + pole_mass, pole_mass * half], [pole_mass * half, inertia]])
    inv = np.linalg.inv(mass_matrix)
    # Linearised generalised forces: gravity torque m g l theta on the pole, u on the cart.
    accel_from_theta = inv @ np.array([0.0, pole_mass * GRAVITY * half])
    accel_from_u = inv @ np.array([1.0, 0.0])
    a = np.zeros((4, 4))
    a[0, 2] = a[1, 3] = 1.0
    a[2:, 1] = accel_from_theta
    b = np.zeros((4, 1))
    b[2:, 0] = accel_from_u
    return a, b


def pendulum_balance() -> BalanceTask:
    return BalanceTask("balance", "pendulum", pole_index=0, n_joints=1, model=pendulum_model(),
                       control_rate_hz=robot_definition("pendulum").control_rate_hz, fall_angle=0.6, state_cost=np.array([1.0, 0.01]))


def cartpole_balance() -> BalanceTask:
    return BalanceTask("balance", "cartpole", pole_index=1, n_joints=2, model=cartpole_model(),
                       control_rate_hz=robot_definition("cartpole").control_rate_hz, fall_angle=0.4, state_cost=np.array([0.05, 1.0, 0.01, 0.01]),
                       effort_cost=0.0005)


def _discretise(a: np.ndarray, b: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Zero-order-hold discretisation by the matrix exponential of [[A, B], [0, 0]] dt (Taylor series)."""
    n, m = b.shape
    block = np.zeros((n + m, n + m))
    block[:n, :n], block[:n, n:] = a * dt, b * dt
    term, total = np.eye(n + m), np.eye(n + m)
    for k in range(1, 30):
        term = term @ block / k
        total = total + term
    return total[:n, :n], total[:n, n:]


def _lqr_gain(a: np.ndarray, b: np.ndarray, q: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Infinite-horizon discrete LQR gain K (u = -K x) by iterating the Riccati recursion to convergence."""
    p = q.copy()
    for _ in range(5000):
        k = np.linalg.solve(r + b.T @ p @ b, b.T @ p @ a)
        p_next = q + a.T @ p @ (a - b @ k)
        if np.max(np.abs(p_next - p)) < 1e-10 * max(1.0, np.max(np.abs(p))):
            p = p_next
            break
        p = p_next
    return np.linalg.solve(r + b.T @ p @ b, b.T @ p @ a)
