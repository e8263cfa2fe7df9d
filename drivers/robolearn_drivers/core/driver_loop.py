"""The driver's control loop without ROS: one Robot, its SafetyController, and the commands that arrive.

Commands are queued with their receive time (robot clock) and applied at most one per control tick, so the
safety rate limit keeps its meaning (max change per control step) however fast a client publishes. Each
tick either applies the newest command through `Robot.send_action` or runs the watchdog
(`SafetyController.tick`); every stop, a malformed command's included, goes through `Robot.stop`, i.e. the
safety layer's one stop rule (a hold latched once, or a ramp to zero). A stop that has held for the limits
file's `torque_off_after_hold_s` switches the actuators off (`Robot.torque_off`).
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from robolearn.robot import Robot
from robolearn.safety import SafetyDecision
from robolearn.spec import Observation

from robolearn_drivers.core.errors import MalformedMessageError
from robolearn_drivers.core.state_layout import StateLayout

MALFORMED = "malformed_command"
EXTERNAL_ESTOP = "external_estop"


@dataclass(frozen=True)
class TickResult:
    observation: Observation
    decision: SafetyDecision | None  # None: held because of a malformed command
    applied: np.ndarray | None  # the command written this tick (None: nothing new was written)
    torque_off: bool = False  # the actuators were switched off this tick, after a long hold


class DriverLoop:
    """Owns a connected robot. Call `submit` from command callbacks and `step` from the control timer.

    `advance_physics` is true for simulated robots: each tick then steps the physics by one control period
    (`Robot.wait`), so simulated time follows the node's timer. Real robots move on their own.
    """

    def __init__(self, robot: Robot, advance_physics: bool) -> None:
        self.robot = robot
        self.layout = StateLayout.for_spec(robot.spec)
        self.advance_physics = advance_physics
        self.counts: collections.Counter[str] = collections.Counter()
        self.last_rejection = ""
        self._pending: tuple[np.ndarray, float] | None = None
        self._held_for_malformed = False
        self._clock_offset = 0.0  # robot clock time before the last robot reset (a sim restarts at 0)
        self.last_observation = robot.observe()

    @property
    def safety(self):
        return self.robot.safety

    # ------------------------------------------------------------------------------ callbacks
    def submit(self, values: Sequence[float]) -> bool:
        """Queue a command received now; a malformed one is counted and stops the robot at the next tick."""
        try:
            command = self.layout.parse_command(values)
        except MalformedMessageError as exc:
            self.reject(str(exc))
            return False
        self._pending = (command, self.robot.now())
        self._held_for_malformed = False
        return True

    def reject(self, reason: str) -> None:
        """A command the node could not accept (bad shape, a stamp from the future, a bad trajectory): counted
        as malformed, and the robot stops at the next tick until a valid command arrives."""
        self.counts[MALFORMED] += 1
        self.last_rejection = reason
        self._pending = None
        self._held_for_malformed = True

    def estop(self, reason: str = EXTERNAL_ESTOP) -> None:
        """Latch the e-stop and stop the actuators now, not at the next tick."""
        self.safety.trigger_estop(reason)
        self._pending = None
        self.robot.stop(reason)

    def reset_safety(self) -> None:
        """Clear the e-stop; the robot stays stopped until a command received after this call."""
        # Queued commands are dropped here; the epsilon lets a command received later within the same
        # (simulated) clock reading count as fresh, since a sim clock only moves at control ticks.
        self._pending = None
        self.safety.reset(self.robot.now() - 1e-9)

    def reset_robot(self, seed: int | None = None) -> Observation:
        """A new episode: the robot's own reset (sim: new start state; hardware: its homing under safety)."""
        self._pending = None
        self._held_for_malformed = False
        self._clock_offset += self.robot.now()
        self.last_observation = self.robot.reset(seed=seed)
        return self.last_observation

    def clock(self) -> float:
        """The robot's clock made monotonic across robot resets (a sim's clock restarts at 0 each episode);
        what a sim publishes on /clock."""
        return self._clock_offset + self.robot.now()

    # ------------------------------------------------------------------------------- control tick
    def step(self) -> TickResult:
        robot = self.robot
        applied: np.ndarray | None
        if self._held_for_malformed:
            decision, applied = None, robot.stop(MALFORMED)
        elif self._pending is not None:
            command, received = self._pending
            self._pending = None
            applied = robot.send_action(command, command_time=received)
            decision = robot.last_decision
            if not np.all(np.isfinite(applied)):
                applied = None
        else:
            braking = robot.safety.ramping  # before the tick, so the ramp's final zero is written too
            decision = robot.safety.tick(robot.now())
            applied = None
            # Write the stop when a safety check stops the robot (watchdog, stale state, e-stop) and while a
            # velocity robot is still braking, not on every idle tick: a robot that was never commanded keeps
            # its torque off, a stopped one keeps its latched stop.
            if decision.stopped and (decision.interventions or braking):
                applied = robot.stop(robot.safety.stop_reason)
        torque_off = robot.safety.torque_off_due(robot.now())
        if torque_off:
            robot.torque_off()
        if self.advance_physics:
            robot.wait()
        self.last_observation = robot.observe()
        return TickResult(self.last_observation, decision, applied, torque_off)

    def shutdown(self) -> None:
        """Stop the actuators and disconnect (the Robot writes its stop command on disconnect)."""
        self._pending = None
        self.robot.disconnect()

    # ---------------------------------------------------------------------------------- reporting
    def status(self) -> dict:
        status = self.safety.status()
        counts = dict(status["counts"])
        counts.update(self.counts)
        status["counts"] = counts
        status["last_rejection"] = self.last_rejection
        return status
