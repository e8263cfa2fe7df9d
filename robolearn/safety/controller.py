"""The one safety filter every command to an actuator passes through, in simulation and on hardware.

Pure Python and clock-free: the caller passes `now` (simulated or node time), which is what makes it
testable and identical in the sim and in the driver node. Each call returns a `SafetyDecision` with the
command to send and the interventions made; every intervention is counted by kind in `counts`.

Order of checks for one command (the first that stops wins, the later ones still see the result):
clock sanity, latched e-stop, freshness after a reset, NaN/inf, stale observation, watchdog, absolute
limits, rate limit, measured-position limits, workspace.

A stop has one rule, `stop(reason)`, used by this filter, by `Robot.stop` and by the driver loop: its target
is latched once, when the stop begins, and never re-derived from later measurements while it lasts. A
position robot holds the position measured at that moment (or the last command that passed, where its
limits file sets `hold: last_command`); a velocity, effort or twist robot ramps its last
command to zero at the limits file's rate limit (its deceleration limit), except on an e-stop, a hazard, an
overload or a disconnect, where zero is immediate. `stop_reason` says why the robot is stopped.

Where the limits file sets `torque_off_after_hold_s`, a stop that has lasted that long is due for torque-off
(`torque_off_due`); the caller switches the actuators off (`Robot.torque_off`) and reports it here
(`torque_switched_off`). From then on a stop sends nothing, and the next command that passes is rate-limited
from the measured position (a limp arm has moved away from its hold) and switches the torque on again.
"""

from __future__ import annotations

import collections
import math
from typing import Callable, NamedTuple, Protocol

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
DISCONNECT = "disconnect"
IDLE = "no_command"  # stopped because no command has passed yet (or since the last reset)
# Stops where braking gently is not safe: the command drops to zero at once.
IMMEDIATE_STOPS = frozenset({ESTOP, HAZARD, OVERLOAD, DISCONNECT})


class WorkspaceModel(Protocol):
    """Maps robot state (and a candidate command) to the point the workspace box constrains.

    For an arm: forward kinematics of the measured joints / the commanded joint targets. For a base: the
    measured position / the position after one control period at the commanded twist.
    """

    def current(self, observation: Observation) -> np.ndarray: ...

    def predicted(self, command: np.ndarray, observation: Observation, dt: float) -> np.ndarray: ...


class SafetyDecision(NamedTuple):
    """`command` is what to send to the actuator (None: send nothing, e.g. no state known yet to hold).

    A NamedTuple rather than a frozen dataclass: one is built per command, and it is 3x cheaper to build."""

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
        """`workspace`: the model behind the limits' workspace box (an arm's: `robolearn.robots.workspace.
        ArmWorkspace(fk)` with any forward-kinematics callable)."""
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
        self._last_applied: np.ndarray | None = None  # the newest command that passed (kept across stops)
        self._last_now: float | None = None
        self._reset_time = -np.inf
        # The stop in progress ("" while commands pass), latched when it begins: a position robot's hold
        # target, or the command a velocity robot ramps down from and when that ramp started.
        self._stop_reason = ""
        self._hold: np.ndarray | None = None
        self._ramp_from: np.ndarray | None = None
        self._ramp_start = 0.0
        self._stop_since: float | None = None  # the first clock reading in the stop in progress
        self.torque_off = False  # the actuators were switched off during the stop in progress
        self._zero = np.zeros_like(self._low).clip(self._low, self._high)
        self._hold_last_command = limits.hold == "last_command"
        self._ws_low, self._ws_high = limits.workspace_low, limits.workspace_high
        self._max_step_per_period = self._max_rate * self._dt
        self._unlimited = ~np.isfinite(self._max_rate)
        self._finite_rate = np.where(self._unlimited, 0.0, self._max_rate)

    # ----------------------------------------------------------------------------------- inputs
    def update_observation(self, observation: Observation) -> None:
        """Record the newest measurement; latches the e-stop on overload or a reported hazard."""
        self._observation = observation
        # np.count_nonzero and ndarray.clip rather than np.any / np.clip here and in `filter`: on a few joints
        # numpy's Python-level dispatch costs more than the arithmetic, 2-3x (bench/bench_safety.py).
        effort = observation.values.get("joint_effort")
        if effort is not None and np.count_nonzero(np.abs(effort) > self._effort[: len(effort)]):
            self.trigger_estop(OVERLOAD)
        hazards = observation.values.get("hazards")
        if hazards is not None and np.count_nonzero(np.asarray(hazards) > 0.5):
            self.trigger_estop(HAZARD)

    def trigger_estop(self, reason: str = ESTOP) -> None:
        """Latch the e-stop. Only `reset()` followed by a command issued after the reset clears it."""
        if not self.estopped:
            self._count(reason, "e-stop latched")
        self.estopped = True
        self.estop_reason = reason
        self.stop(reason)

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
        self._last_applied = None  # a reset starts from rest
        # The next stop is latched afresh, at the pose measured after the reset (a sim reset teleports the robot).
        self.release_hold()

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
        if np.count_nonzero(np.isfinite(cmd)) != cmd.size:
            self._count(NONFINITE, f"command {cmd.tolist()}")
            return self._stop((NONFINITE,))
        stop = self._check_freshness(now, command_time)
        if stop is not None:
            return stop

        interventions: list[str] = []
        safe = cmd.clip(self._low, self._high)
        if np.count_nonzero(safe != cmd):
            interventions.append(LIMIT)
        reference = self._rate_reference()
        if reference is not None:
            # Rate limits are per second (as ros2_control's joint_limits) times the time measured since the
            # last command, capped at one control period so a stalled loop does not release a jump.
            # From the measured state (no previous command since a reset or stop) one full period is allowed.
            elapsed = (self._dt if self._last_command is None or self._last_applied_at is None
                       else now - self._last_applied_at)
            max_step = self._max_step_per_period if elapsed >= self._dt else self._max_step(elapsed)
            # The reference (the last command, a hold or a ramp) always lies within the absolute limits, and
            # so does `safe`: clipping `safe` towards it cannot leave them.
            limited = safe.clip(reference - max_step, reference + max_step)
            if np.count_nonzero(limited != safe):
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
        self._last_applied = safe
        self._last_command_time = command_time
        self._last_applied_at = now
        self.release_hold()  # moving again: the next stop latches a new target
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
            return self._stop((), IDLE)
        stop = self._check_freshness(now, self._last_command_time)
        if stop is not None:
            return stop
        return SafetyDecision(self._last_command.copy(), False, ())

    @property
    def workspace(self) -> WorkspaceModel | None:
        """The workspace model, so another controller for the same robot (e.g. a client's mirror) can share it."""
        return self._workspace

    def stop(self, reason: str) -> SafetyDecision:
        """Stop the robot for `reason`: the one stop rule of every path (filter, `Robot.stop`, driver loop).

        A stop already in progress keeps its latched target and its reason; an e-stop or another immediate
        reason arriving during a velocity ramp drops the command to zero at once.
        """
        self._last_command = None
        if not self._stop_reason:
            self._stop_reason = reason or IDLE
            # Counted from the next clock reading (`torque_off_due`), not the last one: a stop asked for between
            # two ticks (an e-stop) began after the last reading, and a hold must never be cut short.
            self._stop_since = None
            if self.kind is CommandKind.JOINT_POSITION:
                self._hold = (self._last_applied.copy() if self._hold_last_command and self._last_applied is not None
                              else self._measured_position())
            else:
                # Ramp down from what the actuators were last told; the first stop command is already one
                # period of deceleration below it.
                self._ramp_from = self._last_applied
                self._ramp_start = (self._last_now if self._last_now is not None else 0.0) - self._dt
        if reason in IMMEDIATE_STOPS:
            self._ramp_from = None
        return SafetyDecision(self.stop_command(), True, (reason,) if reason and reason != IDLE else ())

    def stop_command(self) -> np.ndarray | None:
        """The command of the stop in progress (or of one that began now), without entering a stop.

        Position robots: the latched hold (None while no position was ever measured: send nothing).
        Velocity, effort and twist robots: the ramp towards zero at this time, zero once it has ended.
        None for every robot once its torque was switched off: a stop never re-energises it.
        """
        if self.torque_off:
            return None
        if self.kind is CommandKind.JOINT_POSITION:
            if self._hold is None:
                self._hold = self._measured_position()
            return None if self._hold is None else self._hold.copy()
        if self._ramp_from is None or self.estopped:
            return self._zero.copy()
        now = self._last_now if self._last_now is not None else self._ramp_start
        braked = self._max_step(now - self._ramp_start)  # a command without a rate limit stops at once
        remaining = np.abs(self._ramp_from) - braked
        # Whatever float rounding leaves of a finished ramp is zero, not a creep of 1e-17.
        ramp = np.where(remaining > 1e-9 * np.abs(self._ramp_from), np.sign(self._ramp_from) * remaining, 0.0)
        if not np.any(ramp):
            self._ramp_from = None  # the ramp has ended: zero from now on
            return self._zero.copy()
        return np.clip(ramp, self._low, self._high)

    @property
    def stop_reason(self) -> str:
        """Why the robot is stopped ("" while commands pass): the e-stop's reason, else the first reason of
        the stop in progress."""
        return self.estop_reason if self.estopped else self._stop_reason

    @property
    def ramping(self) -> bool:
        """True while a velocity, effort or twist robot is still braking towards zero: keep sending
        `stop_command()` every control tick until this turns false."""
        return self._ramp_from is not None and not self.estopped

    @property
    def holding(self) -> np.ndarray | None:
        """The latched hold target while a position robot is stopped, else None."""
        return None if self._hold is None else self._hold.copy()

    def release_hold(self) -> None:
        """End the stop in progress (the robot is commanded again, here or by a client mirroring this
        controller's stop rule): forget its latched target; the next stop latches anew."""
        self._stop_reason = ""
        self._hold = None
        self._ramp_from = None
        self._stop_since = None
        self.torque_off = False

    def torque_off_due(self, now: float) -> bool:
        """True while a stop has held for the limits file's `torque_off_after_hold_s` (never without it) and
        the torque is still on; a velocity robot still braking is not due until its ramp has ended."""
        after = self.limits.torque_off_after_hold_s
        if after is None or self.torque_off or not self._stop_reason or self.ramping:
            return False
        if self._stop_since is None:  # the first reading since the stop began: count from it
            self._stop_since = now
        return now - self._stop_since >= after

    def torque_switched_off(self) -> None:
        """Record that the caller switched the actuators off during the stop in progress."""
        self.torque_off = True
        self._hold = None
        self._ramp_from = None

    def _measured_position(self) -> np.ndarray | None:
        if self._observation is None or "joint_pos" not in self._observation.values:
            return None
        held = np.asarray(self._observation.values["joint_pos"], dtype=np.float64)[: self._low.size]
        if held.shape != self._low.shape or not np.all(np.isfinite(held)):
            return None
        return np.clip(held, self._low, self._high)

    def status(self) -> dict:
        """A snapshot for diagnostics and logs."""
        return {
            "estopped": self.estopped,
            "estop_reason": self.estop_reason,
            "stop_reason": self.stop_reason,
            "counts": dict(self.counts),
            "last_command": None if self._last_command is None else self._last_command.tolist(),
            "torque_off": self.torque_off,
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
        # After a stop, rate-limit from the stop's own command (the hold, or where the ramp has got to); after
        # torque-off from where the limp robot is now (a velocity robot: from rest).
        if self._last_command is not None:
            return self._last_command
        if self.torque_off:
            return self._measured_position() if self.kind is CommandKind.JOINT_POSITION else self._zero.copy()
        return self.stop_command()

    def _max_step(self, elapsed: float) -> np.ndarray:
        # A command without a rate limit may change by any amount, even with no time elapsed (inf * 0 is nan).
        step = self._finite_rate * max(elapsed, 0.0)
        step[self._unlimited] = np.inf
        return step

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
        return out.clip(self._low, self._high), True

    def _leaves_workspace(self, cmd: np.ndarray) -> bool:
        assert self._workspace is not None and self._observation is not None
        low, high = self._ws_low, self._ws_high
        predicted = np.asarray(self._workspace.predicted(cmd, self._observation, self._dt), dtype=np.float64)
        if not np.count_nonzero(predicted < low) and not np.count_nonzero(predicted > high):
            return False  # the common case, decided without the distance
        excess_next = _box_excess(predicted, low, high)
        current = np.asarray(self._workspace.current(self._observation), dtype=np.float64)
        # Outside already: allow commands that bring the robot back, refuse ones that take it further out.
        return excess_next > _box_excess(current, low, high) - 1e-9

    def _stop(self, interventions: tuple[str, ...], reason: str | None = None) -> SafetyDecision:
        decision = self.stop(reason if reason is not None else interventions[-1])
        return SafetyDecision(decision.command, True, interventions)

    def _count(self, kind: str, detail: str) -> None:
        self.counts[kind] += 1
        if self._on_intervention is not None:
            self._on_intervention(kind, detail)


def _box_excess(point: np.ndarray, low: np.ndarray, high: np.ndarray) -> float:
    """How far `point` lies outside the box (0 inside)."""
    outside = np.maximum(low - point, 0.0) + np.maximum(point - high, 0.0)
    return math.sqrt(float(outside @ outside))
