"""Goal: drive a differential-drive base to a random point on the floor.

Reaching the goal (within `success_radius`) is a true end state: the episode terminates with a bonus.
Until then each step costs a little in proportion to the remaining distance. The expert is a unicycle
go-to-goal controller (turn towards the goal, drive faster the better it is aligned).
"""

from __future__ import annotations

import math

import numpy as np

from robolearn.spec import Observation, RobotSpec
from robolearn.tasks._planar import pose_of, to_base_frame, wrap_angle
from robolearn.tasks.base import StepOutcome, Task


class GoalTask(Task):
    name = "goal"
    robot_name = "diffdrive_base"
    max_episode_steps = 200  # 10 s at 20 Hz
    goal_distance_range = (0.5, 1.5)  # m from the start pose; always well inside the workspace box
    success_radius = 0.1
    success_bonus = 10.0
    distance_cost = 0.1
    expert_speed_gain = 1.0  # (m/s) per m of distance
    expert_turn_gain = 2.5  # (rad/s) per rad of heading error

    def __init__(self) -> None:
        self.goal = np.zeros(2)

    def feature_layout(self, spec: RobotSpec) -> list[tuple[str, int]]:
        return [("base_xy", 2), ("base_yaw_cos_sin", 2), ("base_twist", 2), ("goal_in_base", 2),
                ("goal_distance", 1)]

    def features(self, obs: Observation) -> np.ndarray:
        pose = pose_of(obs)
        goal_local = to_base_frame(self.goal, pose)
        return np.concatenate([pose[:2], [math.cos(pose[2]), math.sin(pose[2])], obs["base_twist"], goal_local,
                               [np.linalg.norm(goal_local)]]).astype(np.float32)

    def reset(self, obs: Observation, rng: np.random.Generator) -> None:
        x, y, _ = pose_of(obs)
        distance = rng.uniform(*self.goal_distance_range)
        bearing = rng.uniform(-math.pi, math.pi)
        self.goal = np.array([x + distance * math.cos(bearing), y + distance * math.sin(bearing)])

    def evaluate(self, obs: Observation, applied_command: np.ndarray, next_obs: Observation) -> StepOutcome:
        x, y, _ = pose_of(next_obs)
        distance = float(math.hypot(self.goal[0] - x, self.goal[1] - y))
        success = distance < self.success_radius
        reward = -self.distance_cost * distance + (self.success_bonus if success else 0.0)
        return StepOutcome(reward=reward, terminated=success, info={"distance": distance, "is_success": success})

    def expert_action(self, obs: Observation, spec: RobotSpec) -> np.ndarray:
        pose = pose_of(obs)
        dx, dy = self.goal[0] - pose[0], self.goal[1] - pose[1]
        heading_error = wrap_angle(math.atan2(dy, dx) - pose[2])
        # Drive only when roughly facing the goal; cos() slows the base while it turns.
        speed = self.expert_speed_gain * math.hypot(dx, dy) * max(math.cos(heading_error), 0.0)
        turn = self.expert_turn_gain * heading_error
        command = np.clip([speed, turn], spec.command_low, spec.command_high)
        return self.command_to_action(command, obs, spec)
