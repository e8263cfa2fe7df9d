"""Figure-eight tracking for a car-like base (after Westenbroek et al., CoRL 2023: loops of radius about
1.5 m, about 5.5 s per loop).

The reference is a smooth lemniscate through the origin, x = 2 r sin(w t), y = 0.6 r sin(2 w t),
w = 2 pi / period: each loop fits a 2r-wide box like a circle of radius r, and the 0.6 sets the height
that makes the tightest turn as wide as possible (radius ~ r / 2) for a car's limited steering. It has
only two harmonics, so periodic models of it are exact. The reference is time-indexed from the episode
start: the car must be where the reference is *now*, not merely on the curve. The phase fed to the
policy is that time as an angle (cos, sin). The expert is a feedback tracker: a desired velocity (the
reference velocity plus a correction towards the reference point) turned into a speed and a heading to
steer to, with the reference's yaw rate as feed-forward.
"""

from __future__ import annotations

import math

import numpy as np

from robolearn.spec import Observation, RobotSpec
from robolearn.tasks._planar import pose_of, wrap_angle
from robolearn.tasks.base import StepOutcome, Task

RADIUS = 1.5  # m: each loop spans 2 * RADIUS
PERIOD = 11.0  # s for the whole figure-eight: 5.5 s per loop
LOOP_HEIGHT = 0.6  # y amplitude as a fraction of RADIUS


def figure_eight_reference(t, radius: float = RADIUS, period: float = PERIOD):
    """Reference position, velocity and acceleration at time(s) `t` (s since the start).

    Periodic with `period`; starts at the origin heading atan(0.6) ~ 31° above +x, spans
    [-2r, 2r] x [-0.6r, 0.6r]. Works for a scalar or an array of times; returns three arrays of shape
    t.shape + (2,).
    """
    if not (radius > 0 and period > 0):
        raise ValueError(f"figure-eight needs radius > 0 and period > 0, got {radius}, {period}")
    t = np.asarray(t, dtype=np.float64)
    w = 2.0 * math.pi / period
    width, height = 2.0 * radius, LOOP_HEIGHT * radius
    s1, c1 = np.sin(w * t), np.cos(w * t)
    s2, c2 = np.sin(2 * w * t), np.cos(2 * w * t)
    pos = np.stack([width * s1, height * s2], axis=-1)
    vel = np.stack([width * w * c1, 2.0 * height * w * c2], axis=-1)
    acc = np.stack([-width * w**2 * s1, -4.0 * height * w**2 * s2], axis=-1)
    return pos, vel, acc


class FigureEightTask(Task):
    name = "figure8"
    robot_name = "car"
    max_episode_steps = 440  # 11 s at 40 Hz: one whole figure-eight
    radius = RADIUS
    period = PERIOD
    velocity_cost = 0.1
    expert_position_gain = 2.0  # 1/s: desired velocity correction per m of position error
    expert_heading_gain = 6.0  # (rad/s) per rad of heading error

    def __init__(self) -> None:
        self.start_time = 0.0

    def reference(self, t: float):
        return figure_eight_reference(t, self.radius, self.period)

    def feature_layout(self, spec: RobotSpec) -> list[tuple[str, int]]:
        return [("position", 2), ("velocity", 2), ("position_error", 2), ("reference_velocity", 2),
                ("heading_cos_sin", 2), ("phase_cos_sin", 2)]

    def features(self, obs: Observation) -> np.ndarray:
        x, y, yaw = pose_of(obs)
        t = self._time(obs)
        ref_pos, ref_vel, _ = self.reference(t)
        speed = float(obs["base_twist"][0])
        phase = 2.0 * math.pi * t / self.period
        return np.concatenate([
            [x, y], [speed * math.cos(yaw), speed * math.sin(yaw)], ref_pos - [x, y], ref_vel,
            [math.cos(yaw), math.sin(yaw)], [math.cos(phase), math.sin(phase)],
        ]).astype(np.float32)

    def reset(self, obs: Observation, rng: np.random.Generator) -> None:
        self.start_time = float(obs.timestamp)

    def evaluate(self, obs: Observation, applied_command: np.ndarray, next_obs: Observation) -> StepOutcome:
        x, y, yaw = pose_of(next_obs)
        ref_pos, ref_vel, _ = self.reference(self._time(next_obs))
        speed = float(next_obs["base_twist"][0])
        position_error = float(np.hypot(*(ref_pos - [x, y])))
        velocity_error = float(np.hypot(*(ref_vel - [speed * math.cos(yaw), speed * math.sin(yaw)])))
        cost = position_error + self.velocity_cost * velocity_error
        return StepOutcome(reward=-cost, terminated=False,
                           info={"position_error": position_error, "velocity_error": velocity_error})

    def expert_action(self, obs: Observation, spec: RobotSpec) -> np.ndarray:
        x, y, yaw = pose_of(obs)
        # Aim at where the reference will be when this command takes effect (one control period ahead).
        ref_pos, ref_vel, ref_acc = self.reference(self._time(obs) + spec.control_period_s)
        desired = ref_vel + self.expert_position_gain * (ref_pos - [x, y])
        speed = float(np.hypot(*desired))
        heading = math.atan2(desired[1], desired[0])
        ref_speed_sq = float(ref_vel @ ref_vel)
        feedforward_turn = (ref_vel[0] * ref_acc[1] - ref_vel[1] * ref_acc[0]) / max(ref_speed_sq, 1e-6)
        turn = feedforward_turn + self.expert_heading_gain * wrap_angle(heading - yaw)
        command = np.clip([speed, turn], spec.command_low, spec.command_high)
        return self.command_to_action(command, obs, spec)

    def _time(self, obs: Observation) -> float:
        return float(obs.timestamp) - self.start_time
