"""How a feedback policy-gradient learner sees a task: the approximate model, the feedback policy designed
on it, where the model's state sits in the task's features, how the model's input becomes the robot's
command (and back, for applied commands), and the tracking cost.

Problems are found by the robot a task is written for (`problem_for(task, spec, ...)`); a task without one
gets a clear error naming the robots that have one.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from robolearn.control.lqr import lqr_for_model
from robolearn.control.policies import FeedbackPolicy, LinearFeedbackPolicy, UnicycleTrackingPolicy
from robolearn.control.reference import PeriodicReference
from robolearn.control.unicycle_tracker import UnicycleTrackerGains
from robolearn.models.base import DynamicsModel, ModelError
from robolearn.models.pendulum import Pendulum
from robolearn.models.unicycle import Unicycle
from robolearn.spec import CommandKind, RobotSpec


@dataclass(frozen=True)
class ProblemOptions:
    """The learner-config knobs a problem uses."""

    model_param_scale: float = 1.0  # multiplies the model's mismatch_params (mismatch experiments)
    model_scale: float = 1.0  # bound on every network correction
    hidden: tuple[int, ...] = (64, 64)
    speed_time_constant: float = 0.0  # car: s from speed command to speed (0 = one control period)


class FeedbackProblem(abc.ABC):
    """Model + policy + the maps between task features / robot commands and model coordinates (all torch)."""

    model: DynamicsModel
    spec: RobotSpec

    @abc.abstractmethod
    def build_policy(self, options: ProblemOptions) -> FeedbackPolicy: ...

    @abc.abstractmethod
    def state_and_time(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Model state (B, n) and task time (B,) from task features (B, obs_dim)."""

    @abc.abstractmethod
    def command(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Robot command (B, k) that realises model input u at state x."""

    @abc.abstractmethod
    def model_input(self, x: torch.Tensor, command: torch.Tensor) -> torch.Tensor:
        """The model input an applied robot command amounts to at state x (inverse of `command`)."""

    @abc.abstractmethod
    def cost(self, x: torch.Tensor, u: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Per-step cost (B,) that learning minimises."""


def block_slices(layout: Sequence[tuple[str, int]]) -> dict[str, slice]:
    slices, start = {}, 0
    for name, size in layout:
        slices[name] = slice(start, start + size)
        start += size
    return slices


def find_block(layout: Sequence[tuple[str, int]], names: Sequence[str], size: int, what: str) -> slice:
    slices = block_slices(layout)
    for name in names:
        if name in slices and slices[name].stop - slices[name].start == size:
            return slices[name]
    raise ModelError(f"feedback PG needs the {what} ({size} numbers, a feature block named one of {list(names)}) "
                     f"but the task's feature layout is {list(layout)}")


class PendulumBalanceProblem(FeedbackProblem):
    """Torque pendulum, angle from upright; LQR designed on the (possibly wrong) point-mass model."""

    def __init__(self, spec: RobotSpec, layout: Sequence[tuple[str, int]], options: ProblemOptions,
                 mass: float = 1.0, length: float = 0.5, state_cost: Sequence[float] = (1.0, 0.01),
                 effort_cost: float = 0.01) -> None:
        if spec.command_kind is not CommandKind.JOINT_EFFORT or spec.action_size != 1:
            raise ModelError(f"pendulum problem needs one effort command, {spec.name} takes "
                             f"{spec.action_size} {spec.command_kind.value} commands")
        self.spec = spec
        self.angle = find_block(layout, ("joint_pos",), 1, "pendulum angle")
        self.velocity = find_block(layout, ("joint_vel",), 1, "pendulum angular velocity")
        self.model = Pendulum(dt=spec.control_period_s, mass=mass, length=length).scaled(options.model_param_scale)
        self.state_weights = torch.as_tensor(state_cost, dtype=torch.float64)
        self.effort_cost = float(effort_cost)

    def build_policy(self, options: ProblemOptions) -> FeedbackPolicy:
        gain = lqr_for_model(self.model, np.diag([10.0, 1.0]), np.eye(1) * 0.1)
        return LinearFeedbackPolicy(gain, u_max=float(self.spec.command_high[0]), model_scale=options.model_scale,
                                    hidden=options.hidden)

    def state_and_time(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = features
        return torch.cat((f[..., self.angle], f[..., self.velocity]), dim=-1), f.new_zeros(f.shape[:-1])

    def command(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return u

    def model_input(self, x: torch.Tensor, command: torch.Tensor) -> torch.Tensor:
        return command.to(torch.float64)

    def cost(self, x: torch.Tensor, u: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return (x**2 * self.state_weights).sum(-1) + self.effort_cost * (u**2).sum(-1)


class CarTrackingProblem(FeedbackProblem):
    """Car (twist commands) tracking a periodic reference with the unicycle model and tracker.

    The tracker outputs an acceleration; the policy turns it into a speed command v + a * tau, where tau is
    the car's speed response time (one control period for a car that reaches its commanded speed within
    a step). Task time comes from the phase features (cos, sin), so the exported policy needs no clock.
    """

    def __init__(self, spec: RobotSpec, layout: Sequence[tuple[str, int]], options: ProblemOptions,
                 reference: PeriodicReference, speed_time_constant: float | None = None,
                 speed_cost: float = 1.0 / 30.0, gains: UnicycleTrackerGains = UnicycleTrackerGains()) -> None:
        if spec.command_kind is not CommandKind.TWIST or spec.action_size != 2:
            raise ModelError(f"car tracking needs [linear_x, angular_z] twist commands, {spec.name} takes "
                             f"{spec.action_size} {spec.command_kind.value} commands")
        self.spec = spec
        self.reference = reference
        self.gains = gains
        self.position = find_block(layout, ("position",), 2, "car position (x, y)")
        self.velocity = find_block(layout, ("velocity",), 2, "car planar velocity (v cos yaw, v sin yaw)")
        self.heading = find_block(layout, ("heading_cos_sin",), 2, "car heading (cos, sin)")
        self.phase = find_block(layout, ("phase_cos_sin", "phase"), 2, "task phase (cos, sin)")
        self.tau = spec.control_period_s if not speed_time_constant else float(speed_time_constant)
        self.model = Unicycle(dt=spec.control_period_s).scaled(options.model_param_scale)
        self.speed_cost = float(speed_cost)

    def build_policy(self, options: ProblemOptions) -> FeedbackPolicy:
        return UnicycleTrackingPolicy(self.reference, self.gains, options.model_scale, options.hidden)

    def state_and_time(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = features
        heading = f[..., self.heading]
        # signed forward speed: the planar velocity projected on the heading
        speed = (f[..., self.velocity] * heading).sum(-1, keepdim=True)
        yaw = torch.atan2(heading[..., 1:2], heading[..., 0:1])
        x = torch.cat((f[..., self.position], yaw, speed), dim=-1)
        phase = f[..., self.phase]
        return x, self.reference.time_from_phase(phase[..., 0], phase[..., 1])

    def command(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return torch.stack((x[..., 3] + self.tau * u[..., 0], u[..., 1]), dim=-1)

    def model_input(self, x: torch.Tensor, command: torch.Tensor) -> torch.Tensor:
        command = command.to(torch.float64)
        return torch.stack(((command[..., 0] - x[..., 3]) / self.tau, command[..., 1]), dim=-1)

    def cost(self, x: torch.Tensor, u: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        pos, vel, _ = self.reference(t)
        speed_ref = torch.sqrt((vel**2).sum(-1))
        return ((x[..., :2] - pos) ** 2).sum(-1) + self.speed_cost * (x[..., 3] - speed_ref) ** 2


ProblemFactory = Callable[[object, RobotSpec, ProblemOptions], FeedbackProblem]


def _pendulum(task, spec: RobotSpec, options: ProblemOptions) -> FeedbackProblem:
    state_cost = getattr(task, "state_cost", (1.0, 0.01))
    return PendulumBalanceProblem(spec, task.feature_layout(spec), options, state_cost=tuple(state_cost),
                                  effort_cost=float(getattr(task, "effort_cost", 0.01)))


def _car(task, spec: RobotSpec, options: ProblemOptions) -> FeedbackProblem:
    from robolearn.tasks import figure8

    radius = float(getattr(task, "radius", 1.5))
    period = float(getattr(task, "period", 5.5))
    reference = PeriodicReference.fit(lambda t: figure8.figure_eight_reference(t, radius, period), period)
    return CarTrackingProblem(spec, task.feature_layout(spec), options, reference, options.speed_time_constant)


PROBLEMS: dict[str, ProblemFactory] = {"pendulum": _pendulum, "car": _car}


def problem_for(task, spec: RobotSpec, options: ProblemOptions) -> FeedbackProblem:
    """The feedback problem of `task` on a robot with `spec`, or a clear error."""
    robot = getattr(task, "robot_name", "") or spec.name
    factory = PROBLEMS.get(robot)
    if factory is None:
        raise ModelError(f"feedback PG has no approximate model for robot {robot!r} (task {task.name!r}); "
                         f"supported robots: {sorted(PROBLEMS)}")
    return factory(task, spec, options)


def affine_unscale(command: torch.Tensor, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """Robot command -> policy action in [-1, 1] (the inverse of Task's default scale_to_limits)."""
    span = torch.where(high > low, high - low, torch.ones_like(high))
    return torch.clamp(2.0 * (command - low) / span - 1.0, -1.0, 1.0)


