"""Reach: move the arm's gripper tip to a random reachable point.

Actions are joint-position deltas (PositionDeltaTask). The reward is the negative tip-to-target distance
plus a bonus while within `success_radius`; reaching is not terminal (the arm should stay there), so
episodes end by time limit only. The expert is damped-least-squares inverse kinematics.
"""

from __future__ import annotations

import numpy as np

from robolearn.spec import Observation, RobotSpec
from robolearn.tasks.base import PositionDeltaTask, StepOutcome

# Joint ranges targets are drawn from (rad): a comfortable region in front of the arm, away from the
# table and from the workspace box's faces, so every target is reachable under the safety limits.
TARGET_JOINT_LOW = np.array([-1.2, -0.3, 0.4, -0.2, 0.0, 0.0])
TARGET_JOINT_HIGH = np.array([1.2, 0.9, 1.5, 1.2, 0.0, 0.0])
TARGET_BOX_LOW = np.array([-0.30, -0.35, 0.05])
TARGET_BOX_HIGH = np.array([0.38, 0.35, 0.45])


class ReachTask(PositionDeltaTask):
    name = "reach"
    robot_name = "so101_arm"
    max_episode_steps = 100
    max_delta = 0.05
    success_radius = 0.02
    success_bonus = 1.0
    ik_damping = 0.02
    ik_joints = 4  # the first four joints move the tip; wrist roll spins it in place, the jaw opens

    def __init__(self, kinematics=None) -> None:
        self._kinematics = kinematics
        self.target = np.zeros(3)

    @property
    def kinematics(self):
        if self._kinematics is None:
            from robolearn.robots.kinematics import ArmKinematics  # numpy FK of the URDF the real arm shares

            self._kinematics = ArmKinematics()
        return self._kinematics

    def feature_layout(self, spec: RobotSpec) -> list[tuple[str, int]]:
        n = spec.action_size
        return [("joint_pos", n), ("joint_vel", n), ("ee_pos", 3), ("target", 3), ("target_minus_ee", 3)]

    def features(self, obs: Observation) -> np.ndarray:
        ee = self.kinematics.position(obs["joint_pos"])
        return np.concatenate([obs["joint_pos"], obs["joint_vel"], ee, self.target, self.target - ee]).astype(
            np.float32)

    def reset(self, obs: Observation, rng: np.random.Generator) -> None:
        for _ in range(1000):
            q = rng.uniform(TARGET_JOINT_LOW, TARGET_JOINT_HIGH)
            point = self.kinematics.position(q)
            if np.all(point >= TARGET_BOX_LOW) and np.all(point <= TARGET_BOX_HIGH):
                self.target = point
                return
        raise RuntimeError("reach: found no reachable target in 1000 draws; check the target ranges")

    def evaluate(self, obs: Observation, applied_command: np.ndarray, next_obs: Observation) -> StepOutcome:
        distance = float(np.linalg.norm(self.target - self.kinematics.position(next_obs["joint_pos"])))
        success = distance < self.success_radius
        reward = -distance + (self.success_bonus if success else 0.0)
        return StepOutcome(reward=reward, terminated=False, info={"distance": distance, "is_success": success})

    def expert_action(self, obs: Observation, spec: RobotSpec) -> np.ndarray:
        q = np.asarray(obs["joint_pos"], dtype=np.float64)
        error = self.target - self.kinematics.position(q)
        jac = self.kinematics.jacobian(q)[:, : self.ik_joints]
        damped = jac @ jac.T + self.ik_damping**2 * np.eye(3)
        delta = np.zeros(spec.action_size)
        delta[: self.ik_joints] = jac.T @ np.linalg.solve(damped, error)
        # Scale the whole step (not per joint) so the tip moves straight at the target.
        largest = np.max(np.abs(delta))
        if largest > self.max_delta:
            delta *= self.max_delta / largest
        return np.clip(delta / self.max_delta, -1.0, 1.0)
