"""A safe excitation sequence for system identification, checked before anything moves, and its recording.

`excitation_plan` builds, for each command in turn (a joint, or a base's linear and angular speed), a
chirp (a sine sweeping from `f_low` to `f_high`) followed by steps up, down and back, around the start
state (a position robot's measured pose, zero for speed and effort commands), slew-limited to a fraction
of the limits file's rate limit. `check_plan` refuses the whole plan, before the first command, where any
command would leave the limits file's command range, rate limit (max_velocity of position commands,
max_acceleration of speed commands), the optional acceleration bound, or the workspace box (an arm's
gripper tip by forward kinematics of every target; a base's predicted position, braking included, along
the path the commanded twists integrate to). `excite` then plays it through `Robot.send_action` (the
SafetyController, the same on the sim and on hardware) and records it; a safety stop during the run stops
the robot and raises ExcitationAborted saying why.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from robolearn.robot import Robot
from robolearn.safety import SafetyLimits, WorkspaceModel
from robolearn.sim2real.recording import Recording
from robolearn.spec import CommandKind, Observation, RobotSpec

# Default amplitude, as a fraction of each command's half range: small moves for a position robot
# (0.1 of the arm's +-1.9 rad is 0.19 rad), larger for speeds (0.4 of a base's 0.5 m/s is 0.2 m/s).
DEFAULT_AMPLITUDE = {CommandKind.JOINT_POSITION: 0.1, CommandKind.JOINT_VELOCITY: 0.4,
                     CommandKind.TWIST: 0.4, CommandKind.JOINT_EFFORT: 0.4}


class ExcitationRefused(ValueError):
    """The excitation would leave the robot's limits; nothing was sent."""


class ExcitationAborted(RuntimeError):
    """The safety layer stopped the robot during the excitation; the robot was stopped."""


@dataclass(frozen=True)
class ExcitationConfig:
    """How hard and how long to excite. `amplitude`: fraction of each command's half range (None: the
    command kind's default); `segment_s`: seconds per excited command (60 % chirp, 40 % steps and settle);
    `commands`: names of the commands to excite (None: all; the others hold their start value);
    `rate_fraction`: the plan's slew limit as a fraction of the limits file's rate limit;
    `max_acceleration`: an extra bound on the plan's second derivative (units/s^2 of the command's rate),
    checked where set."""

    amplitude: float | None = None
    segment_s: float = 3.0
    f_low: float = 0.3
    f_high: float = 2.0
    commands: tuple[str, ...] | None = None
    rate_fraction: float = 0.3
    max_acceleration: float | None = None

    def __post_init__(self) -> None:
        if self.amplitude is not None and not 0 < self.amplitude <= 1:
            raise ValueError(f"excitation amplitude must be in (0, 1] (a fraction of each command's half range), "
                             f"got {self.amplitude}")
        if not 0.5 <= self.segment_s <= 600:
            raise ValueError(f"excitation segment_s must be in [0.5, 600] s, got {self.segment_s}")
        if not 0 < self.f_low < self.f_high:
            raise ValueError(f"excitation needs 0 < f_low < f_high, got {self.f_low}, {self.f_high}")
        if not 0 < self.rate_fraction <= 1:
            raise ValueError(f"excitation rate_fraction must be in (0, 1], got {self.rate_fraction}")
        if self.max_acceleration is not None and not self.max_acceleration > 0:
            raise ValueError(f"excitation max_acceleration must be > 0, got {self.max_acceleration}")


def start_command(spec: RobotSpec, observation: Observation) -> np.ndarray:
    """Where the plan starts and returns to: a position robot's measured pose, zero otherwise."""
    if spec.command_kind is CommandKind.JOINT_POSITION:
        return np.asarray(observation["joint_pos"], dtype=np.float64).reshape(-1)[:spec.action_size].copy()
    return np.zeros(spec.action_size)


def excitation_plan(spec: RobotSpec, limits: SafetyLimits, start: np.ndarray,
                    config: ExcitationConfig = ExcitationConfig()) -> np.ndarray:
    """(T, n) absolute commands at the control rate: chirp + steps on each excited command in turn."""
    names = list(spec.command_names)
    chosen = names if config.commands is None else list(config.commands)
    unknown = [c for c in chosen if c not in names]
    if unknown or not chosen:
        raise ExcitationRefused(f"{spec.name}: cannot excite {unknown or 'no commands'}; its commands are {names}")
    dt = spec.control_period_s
    fraction = config.amplitude if config.amplitude is not None else DEFAULT_AMPLITUDE[spec.command_kind]
    half_range = (limits.high - limits.low) / 2.0
    steps_per_segment = int(round(config.segment_s / dt))
    n_chirp = int(0.6 * steps_per_segment)
    n_step = (steps_per_segment - n_chirp) // 4
    t = np.arange(n_chirp) * dt
    duration = n_chirp * dt
    phase = 2 * math.pi * (config.f_low * t + (config.f_high - config.f_low) * t ** 2 / (2 * duration))
    rows = []
    for name in chosen:
        i = names.index(name)
        amplitude = fraction * half_range[i]
        wave = np.concatenate([amplitude * np.sin(phase), np.full(n_step, amplitude), np.full(n_step, -amplitude),
                               np.zeros(steps_per_segment - n_chirp - 2 * n_step)])
        block = np.repeat(start[None, :], len(wave), axis=0)
        block[:, i] += wave
        rows.append(block)
    plan = np.concatenate(rows)
    return _slew(plan, start, limits.max_rate * config.rate_fraction * dt)


def _slew(plan: np.ndarray, start: np.ndarray, max_step: np.ndarray) -> np.ndarray:
    """Follow `plan` no faster than `max_step` per control period (steps become ramps)."""
    out = np.empty_like(plan)
    previous = start
    for k, target in enumerate(plan):
        previous = previous + np.clip(target - previous, -max_step, max_step)
        out[k] = previous
    return out


def check_plan(plan: np.ndarray, spec: RobotSpec, limits: SafetyLimits, start_observation: Observation,
               workspace: WorkspaceModel | None = None, max_acceleration: float | None = None) -> None:
    """Raise ExcitationRefused naming the first step and command that would leave the limits."""
    names = spec.command_names
    dt = spec.control_period_s
    if plan.ndim != 2 or plan.shape[1] != spec.action_size or not len(plan):
        raise ExcitationRefused(f"{spec.name}: an excitation plan must be (steps, {spec.action_size}), got "
                                f"{plan.shape}")
    if not np.all(np.isfinite(plan)):
        raise ExcitationRefused(f"{spec.name}: the excitation plan has non-finite commands")
    bad = np.argwhere((plan < limits.low - 1e-12) | (plan > limits.high + 1e-12))
    if len(bad):
        k, i = bad[0]
        raise ExcitationRefused(
            f"{spec.name}: the excitation would command {names[i]} = {plan[k, i]:.4g} at step {k} "
            f"({k * dt:.2f} s), outside its limits [{limits.low[i]:g}, {limits.high[i]:g}] "
            f"({limits.source}); lower the amplitude or start further from the limit. Nothing was sent")
    rate_name = {CommandKind.JOINT_POSITION: "velocity", CommandKind.JOINT_VELOCITY: "acceleration",
                 CommandKind.TWIST: "acceleration", CommandKind.JOINT_EFFORT: "effort rate"}[spec.command_kind]
    rates = np.diff(np.vstack([start_command(spec, start_observation), plan]), axis=0) / dt
    _refuse_over(spec, rates, limits.max_rate * (1 + 1e-9), rate_name, limits.source)
    if max_acceleration is not None and spec.command_kind is CommandKind.JOINT_POSITION:
        accelerations = np.diff(rates, axis=0) / dt
        _refuse_over(spec, accelerations, np.full(spec.action_size, max_acceleration), "acceleration",
                     "the excitation's max_acceleration")
    if workspace is not None and limits.workspace_low is not None:
        _check_workspace(plan, spec, limits, start_observation, workspace)


def _refuse_over(spec: RobotSpec, values: np.ndarray, bound: np.ndarray, what: str, source: str) -> None:
    bad = np.argwhere(np.abs(values) > bound)
    if len(bad):
        k, i = bad[0]
        raise ExcitationRefused(
            f"{spec.name}: the excitation's {what} of {spec.command_names[i]} would be {values[k, i]:.4g} at step "
            f"{k}, over its limit {bound[i]:g} ({source}); lower the amplitude or f_high. Nothing was sent")


def _check_workspace(plan: np.ndarray, spec: RobotSpec, limits: SafetyLimits, start: Observation,
                     workspace: WorkspaceModel) -> None:
    dt = spec.control_period_s
    low, high = limits.workspace_low, limits.workspace_high
    kind = spec.command_kind
    if kind not in (CommandKind.JOINT_POSITION, CommandKind.TWIST):
        raise ExcitationRefused(f"{spec.name}: cannot predict where {kind.value} commands take the robot, so the "
                                f"excitation cannot be checked against its workspace box; nothing was sent")
    values = {k: np.asarray(v, dtype=np.float64).copy() for k, v in start.values.items()}
    for k, command in enumerate(plan):
        if kind is CommandKind.TWIST:  # where the base is when this command is sent: integrate the plan
            x, y, yaw = values["base_pose"]
            previous = plan[k - 1] if k else np.zeros(2)
            heading = yaw + previous[1] * dt / 2
            values["base_pose"] = np.array([x + previous[0] * dt * math.cos(heading),
                                            y + previous[0] * dt * math.sin(heading), yaw + previous[1] * dt])
            values["base_twist"] = previous.copy()
        point = np.asarray(workspace.predicted(command, Observation(k * dt, values), dt))
        if np.any(point < low) or np.any(point > high):
            raise ExcitationRefused(
                f"{spec.name}: at step {k} ({k * dt:.2f} s) the excitation would take the robot to "
                f"{np.round(point, 3).tolist()}, outside the workspace box {low.tolist()}..{high.tolist()} "
                f"({limits.source}); lower the amplitude or start nearer the box's centre. Nothing was sent")
        if kind is CommandKind.JOINT_POSITION:
            values["joint_pos"] = command.copy()


def excite(robot: Robot, config: ExcitationConfig = ExcitationConfig(), meta: dict[str, Any] | None = None
           ) -> Recording:
    """Plan from the robot's current state, check the plan, play it through the safety layer, record it.

    `robot` must be connected and at its start state (after `reset()`). Raises ExcitationRefused before
    any command if the plan would leave the limits, ExcitationAborted (robot stopped) if the safety layer
    stops it on the way."""
    spec, safety = robot.spec, robot.safety
    first = robot.observe()
    start = start_command(spec, first)
    plan = excitation_plan(spec, safety.limits, start, config)
    check_plan(plan, spec, safety.limits, first, safety.workspace, config.max_acceleration)
    keys = sorted(spec.observation_shapes)
    observations = {k: [np.asarray(first[k], dtype=np.float64)] for k in keys}
    obs_times, command_times, applied = [first.timestamp], [], []
    counts_before = dict(safety.counts)
    for k, command in enumerate(plan):
        command_times.append(robot.now())
        sent = robot.send_action(command)
        decision = robot.last_decision
        if decision is not None and decision.stopped:
            reason = safety.stop_reason or ", ".join(decision.interventions)
            robot.stop(reason)
            raise ExcitationAborted(f"{spec.name}: the safety layer stopped the excitation at step {k} "
                                    f"({k * spec.control_period_s:.2f} s): {reason}; the robot was stopped and "
                                    f"nothing was written")
        applied.append(sent)
        robot.wait()
        obs = robot.observe()
        for key in keys:
            observations[key].append(np.asarray(obs[key], dtype=np.float64))
        obs_times.append(obs.timestamp)
    interventions = {k: v - counts_before.get(k, 0) for k, v in safety.counts.items() if v - counts_before.get(k, 0)}
    settings = asdict(config)  # JSON-able: the chosen commands as a list
    settings["commands"] = list(config.commands) if config.commands is not None else None
    info = {"excitation": {**settings, "interventions": interventions}, **(meta or {})}
    return Recording(robot=spec.name, control_rate_hz=spec.control_rate_hz, commands=plan,
                     applied=np.array(applied), command_times=np.array(command_times),
                     observations={k: np.array(v) for k, v in observations.items()}, obs_times=np.array(obs_times),
                     meta=info)
