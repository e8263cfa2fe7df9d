"""The one safety filter every command to an actuator passes through, in simulation and on hardware.

Pure Python and clock-free: the caller passes `now` (simulated or node time), which is what makes it
testable and identical in the sim and in the driver node. Each call returns a `SafetyDecision` with the
command to send and the interventions made; every intervention is counted by kind in `counts`.

Order of checks for one command (the first that stops wins, the later ones still see the result):
clock sanity, latched e-stop, freshness after a reset, NaN/inf, stale observation, watchdog, absolute
limits, rate limit, measured-position limits, workspace. A stop means: hold the measured position
(position commands) or zero (velocity, effort, twist).
"""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np

from robolearn.safety.limits import SafetyLimits
from robolearn.spec import CommandKind, Observation

# Kinds of intervention; the keys of SafetyController.counts.
CLOCK = "clock_backwards"
ESTOP = "estop"
NOT_FRESH = "command_before_reset"
NONFINITE = "nonfinite_command"
NO_OBSERVATION = "no_observation"
STALE = "stale_observation"
WATCHDOG = "watchdog"
LIMIT = "command_limit"
RATE = "rate_limit"
POSITION_LIMIT = "position_limit"
WORKSPACE = "workspace"
OVERLOAD = "overload"
HAZARD = "hazard"


class WorkspaceModel(Protocol):
    """Maps robot state (and a candidate command) to the point the workspace box constrains.

    For an arm: forward kinematics of the measured joints / the commanded joint targets. For a base: the
    measured position / the position after one control period at the commanded twist.
    """

    def current(self, observation: Observation) -> np.ndarray: ...

    def predicted(self, command: np.ndarray, observation: Observation, dt: float) -> np.ndarray: ...


@dataclass(frozen=True)
class SafetyDecision:
    """`command` is what to send to the actuator (None: send nothing, e.g. no state known yet to hold)."""

    command: np.ndarray | None
    stopped: bool
    interventions: tuple[str, ...]


class SafetyController:
    def __init__(
        self,
        limits: SafetyLimits,
        workspace: WorkspaceModel | None = None,
        on_intervention: Callable[[str, str], None] | None = None,
    ) -> None:
        if (limits.workspace_low is None) != (workspace is None):
            raise ValueError(
                f"{limits.robot}: a workspace box needs a workspace model and vice versa "
                f"(box set: {limits.workspace_low is not None}, model given: {workspace is not None})"
            )
        self.limits = limits
        self.kind = limits.command_kind
        self._low = limits.low
        self._high = limits.high
        self._max_rate = limits.max_rate
        self._dt = limits.period_s
        self._workspace = workspace
        self._on_intervention = on_intervention
        self._pos_low = np.array([c.position[0] if c.position else -np.inf for c in limits.commands])
        self._pos_high = np.array([c.position[1] if c.position else np.inf for c in limits.commands])
        self._effort = np.array([c.effort if c.effort is not None else np.inf for c in limits.commands])
        self._position_limited = (self.kind in (CommandKind.JOINT_VELOCITY, CommandKind.JOINT_EFFORT)
                                  and bool(np.isfinite(self._pos_low).any() or np.isfinite(self._pos_high).any()))
        self.counts: collections.Counter[str] = collections.Counter()
        self.estopped = False
        self.estop_reason = ""
        self._observation: Observation | None = None
        self._last_command: np.ndarray | None = None
        self._last_command_time: float | None = None
        self._last_applied_at: float | None = None  # `now` when _last_command was let through
        self._last_now: float | None = None
        self._reset_time = -np.inf
        self._hold: np.ndarray | None = None  # the latched stop target of a position robot

    # ----------------------------------------------------------------------------------- inputs
    def update_observation(self, observation: Observation) -> None:
        """Record the newest measurement; latches the e-stop on overload or a reported hazard."""
        self._observation = observation
        effort = observation.values.get("joint_effort")
        if effort is not None and (np.abs(np.asarray(effort)) > self._effort[: len(effort)]).any():
            self.trigger_estop(OVERLOAD)
        hazards = observation.values.get("hazards")
        if hazards is not None and (np.asarray(hazards) > 0.5).any():
            self.trigger_estop(HAZARD)

    def trigger_estop(self, reason: str = ESTOP) -> None:
        """Latch the e-stop. Only `reset()` followed by a command issued after the reset clears it."""
        if not self.estopped:
            self._count(reason, "e-stop latched")
        self.estopped = True
        self.estop_reason = reason
        self._last_command = None

    def reset(self, now: float) -> None:
        """Clear the e-stop. Commands issued at or before `now` stay rejected: the caller must send a fresh one.

        `now` also restarts the clock check: a simulation rebuilt at reset starts its clock again at 0.
        """
        self.estopped = False
        self.estop_reason = ""
        self._reset_time = float(now)
        if self._last_now is not None and now < self._last_now:
            self._last_now = float(now)
        self._last_command = None
        self._last_command_time = None
        self._hold = None  # re-latched at the pose measured after the reset (a sim reset teleports the robot)

    # ---------------------------------------------------------------------------------- filters
    def filter(self, command: np.ndarray, now: float, command_time: float | None = None) -> SafetyDecision:
        """Make `command` (issued at `command_time`, default `now`) safe to send at time `now`."""
        command_time = now if command_time is None else command_time
        if self._last_now is not None and now < self._last_now:
            self._count(CLOCK, f"now={now} after {self._last_now}")
            return self._stop((CLOCK,))
        self._last_now = now
        if self.estopped:
            self._count(ESTOP, "command refused: the e-stop is latched")
            return self._stop((ESTOP,))
        if command_time <= self._reset_time:
            self._count(NOT_FRESH, "command issued before the last reset")
            return self._stop((NOT_FRESH,))
        cmd = np.asarray(command, dtype=np.float64).reshape(-1)
        if cmd.shape != self._low.shape:
            raise ValueError(
                f"{self.limits.robot}: command has {cmd.size} values, expected {self._low.size} "
                f"ordered as {list(self.limits.names)}"
            )
        if not np.isfinite(cmd).all():
            self._count(NONFINITE, f"command {cmd.tolist()}")
            return self._stop((NONFINITE,))
        stop = self._check_freshness(now, command_time)
        if stop is not None:
            return stop

        # ufuncs rather than numpy's Python-level wrappers (np.clip, np.array_equal): this runs on every command.
        interventions: list[str] = []
        safe = np.minimum(np.maximum(cmd, self._low), self._high)
        if not (safe == cmd).all():
            interventions.append(LIMIT)
        reference = self._rate_reference()
        if reference is not None:
            # Rate limits are per second (as ros2_control's joint_limits) times the time measured since the
            # last command, capped at one control period so a stalled loop does not release a jump.
            # From the measured state (no previous command since a reset or stop) one full period is allowed.
            elapsed = (self._dt if self._last_command is None or self._last_applied_at is None
                       else min(max(now - self._last_applied_at, 0.0), self._dt))
            max_step = self._max_rate * elapsed
            limited = np.minimum(np.maximum(safe, reference - max_step), reference + max_step)
            # The reference may itself lie outside the limits (a measured position past a soft limit):
            # clip again so the absolute limits always win.
            limited = np.minimum(np.maximum(limited, self._low), self._high)
            if not (limited == safe).all():
                interventions.append(RATE)
            safe = limited
        if self._position_limited:
            safe, clipped = self._block_outward_motion(safe)
            if clipped:
                interventions.append(POSITION_LIMIT)
        if self._workspace is not None and self._leaves_workspace(safe):
            for kind in interventions:
                self._count(kind, f"command {cmd.tolist()} -> {safe.tolist()}")
            self._count(WORKSPACE, f"command {safe.tolist()} leaves the workspace box")
            return self._stop(tuple(interventions) + (WORKSPACE,))
        for kind in interventions:
            self._count(kind, f"command {cmd.tolist()} -> {safe.tolist()}")
        self._last_command = safe
        self._last_command_time = command_time
        self._last_applied_at = now
        self._hold = None  # moving again: the next stop latches a new target
        return SafetyDecision(safe.copy(), False, tuple(interventions))

    def tick(self, now: float) -> SafetyDecision:
        """For a control loop between commands: repeat the last command, or stop if the watchdog expired."""
        if self._last_now is not None and now < self._last_now:
            self._count(CLOCK, f"now={now} after {self._last_now}")
            return self._stop((CLOCK,))
        self._last_now = now
        if self.estopped:
            return self._stop((ESTOP,))
        if self._last_command is None or self._last_command_time is None:
            return self._stop(())
        stop = self._check_freshness(now, self._last_command_time)
        if stop is not None:
            return stop
        return SafetyDecision(self._last_command.copy(), False, ())

    @property
    def workspace(self) -> WorkspaceModel | None:
        """The workspace model, so another controller for the same robot (e.g. a client's mirror) can share it."""
        return self._workspace

    def stop_command(self) -> np.ndarray | None:
        """The command that stops the robot (the one stop rule of every path): a position robot holds the
        position measured when it stopped, latched once and kept until a command passes again, because a
        target re-read from each new measurement follows a loaded joint's sag and lets the arm creep down;
        velocity, effort and twist robots get zero."""
        if self.kind is CommandKind.JOINT_POSITION:
            if self._hold is None:
                self._hold = self._measured_position()
            return None if self._hold is None else self._hold.copy()
        # Zero is always a permitted command for velocity, effort and twist robots.
        return np.clip(np.zeros_like(self._low), self._low, self._high)

    def release_hold(self) -> None:
        """Forget the latched hold target (the robot is commanded again); the next stop latches anew."""
        self._hold = None

    @property
    def holding(self) -> np.ndarray | None:
        """The latched hold target while a position robot is stopped, else None."""
        return None if self._hold is None else self._hold.copy()

    def _measured_position(self) -> np.ndarray | None:
        if self._observation is None or "joint_pos" not in self._observation.values:
            return None
        held = np.asarray(self._observation.values["joint_pos"], dtype=np.float64)[: self._low.size]
        if held.shape != self._low.shape or not np.all(np.isfinite(held)):
            return None
        return np.clip(held, self._low, self._high)
        # Zero is always a permitted command for velocity, effort and twist robots.
        return np.clip(np.zeros_like(self._low), self._low, self._high)

    def status(self) -> dict:
        """A snapshot for diagnostics and logs."""
        return {
            "estopped": self.estopped,
            "estop_reason": self.estop_reason,
            "counts": dict(self.counts),
            "last_command": None if self._last_command is None else self._last_command.tolist(),
        }

    # --------------------------------------------------------------------------------- internals
    def _check_freshness(self, now: float, command_time: float) -> SafetyDecision | None:
        if self._observation is None:
            self._count(NO_OBSERVATION, "no observation received yet")
            return self._stop((NO_OBSERVATION,))
        age = now - self._observation.timestamp
        if age > self.limits.stale_observation_s:
            self._count(STALE, f"newest observation is {age:.3f} s old")
            return self._stop((STALE,))
        if now - command_time > self.limits.watchdog_timeout_s:
            self._count(WATCHDOG, f"last command is {now - command_time:.3f} s old")
            return self._stop((WATCHDOG,))
        return None

    def _rate_reference(self) -> np.ndarray | None:
        if self._last_command is not None:
            return self._last_command
        if self.kind is CommandKind.JOINT_POSITION:
            return self.stop_command()
        return np.zeros_like(self._low)

    def _block_outward_motion(self, cmd: np.ndarray) -> tuple[np.ndarray, bool]:
        obs = self._observation
        if obs is None or "joint_pos" not in obs.values:
            return cmd, False
        pos = np.asarray(obs.values["joint_pos"], dtype=np.float64)[: cmd.size]
        outward = ((pos <= self._pos_low) & (cmd < 0)) | ((pos >= self._pos_high) & (cmd > 0))
        if not outward.any():
            return cmd, False
        out = cmd.copy()
        out[outward] = 0.0
        return np.minimum(np.maximum(out, self._low), self._high), True

    def _leaves_workspace(self, cmd: np.ndarray) -> bool:
        assert self._workspace is not None and self._observation is not None
        low, high = self.limits.workspace_low, self.limits.workspace_high
        predicted = np.asarray(self._workspace.predicted(cmd, self._observation, self._dt), dtype=np.float64)
        excess_next = _box_excess(predicted, low, high)
        if excess_next <= 0.0:
            return False
        current = np.asarray(self._workspace.current(self._observation), dtype=np.float64)
        # Outside already: allow commands that bring the robot back, refuse ones that take it further out.
        return excess_next > _box_excess(current, low, high) - 1e-9

    def _stop(self, interventions: tuple[str, ...]) -> SafetyDecision:
        self._last_command = None
        return SafetyDecision(self.stop_command(), True, interventions)

    def _count(self, kind: str, detail: str) -> None:
        self.counts[kind] += 1
        if self._on_intervention is not None:
            self._on_intervention(kind, detail)


def _box_excess(point: np.ndarray, low: np.ndarray, high: np.ndarray) -> float:
    """How far `point` lies outside the box (0 inside)."""
    outside = np.maximum(low - point, 0.0) + np.maximum(point - high, 0.0)
    return math.sqrt(float(outside @ outside))
