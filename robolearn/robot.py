"""The one Robot interface shared by the PyBullet robots and the real hardware (through ROS 2).

A task, a learner and a policy only ever see this class. Implementations provide four primitives
(`_connect`, `_disconnect`, `_read`, `_write`, plus `_reset` and `_advance`); the safety filter, the shape
checks and the bookkeeping live here once, so no robot can forget them.
"""

from __future__ import annotations

import abc
from types import TracebackType

import numpy as np

from robolearn.safety import SafetyController, SafetyDecision
from robolearn.safety.controller import DISCONNECT, HAZARD, OVERLOAD

# E-stops the robot's own measurement raises (not a person's, not a bus fault).
STATE_FAULTS = frozenset({OVERLOAD, HAZARD})
from robolearn.spec import Observation, RobotSpec


class RobotError(RuntimeError):
    """The robot cannot do what was asked (not connected, hardware fault); the actuators were stopped."""


class Robot(abc.ABC):
    """A robot, simulated or real.

    Use as a context manager (`with robot:`) so it is always disconnected, and its actuators stopped, on
    exit. One control step is: `send_action(a)` (returns the command applied after safety), `wait()`
    (advance the simulation, or sleep to the next control tick on hardware), `observe()`.
    """

    spec: RobotSpec
    safety: SafetyController
    # True where reset() recreates the world (a simulation): an overload or hazard e-stop latched by the last
    # episode's state is then cleared with it, or one overload would silently stop all the training after it.
    # A real robot's reset moves the same hardware, so there such a latch stays until a person resets it.
    reset_clears_state_faults: bool = False
    # True where `_torque_off` can make the actuators limp; a limits file may ask for torque-off after a long
    # hold (`torque_off_after_hold_s`) only for such a robot.
    supports_torque_off: bool = False

    def __init__(self, spec: RobotSpec, safety: SafetyController) -> None:
        if tuple(safety.limits.names) != tuple(spec.command_names):
            raise ValueError(
                f"{spec.name}: safety limits name commands {list(safety.limits.names)} but the robot's are "
                f"{list(spec.command_names)}"
            )
        if safety.limits.command_kind is not spec.command_kind:
            raise ValueError(
                f"{spec.name}: safety limits are for {safety.limits.command_kind.value} commands, the robot "
                f"takes {spec.command_kind.value}"
            )
        if safety.limits.torque_off_after_hold_s is not None and not self.supports_torque_off:
            raise ValueError(
                f"{spec.name}: limits file {safety.limits.source} sets torque_off_after_hold_s, but this robot's "
                f"actuators cannot be switched off by software; remove the field (a stop then holds as long as "
                f"it lasts)")
        self.spec = spec
        self.safety = safety
        self._connected = False
        self.last_decision: SafetyDecision | None = None

    # -------------------------------------------------------------------------- public interface
    @property
    def is_connected(self) -> bool:
        return self._connected

    def connect(self) -> None:
        if not self._connected:
            self._connect()
            self._connected = True

    def disconnect(self) -> None:
        if self._connected:
            try:
                self.stop(DISCONNECT)
            finally:
                self._disconnect()
                self._connected = False

    def __enter__(self) -> "Robot":
        self.connect()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.disconnect()

    def now(self) -> float:
        """The robot's clock in seconds (simulated time in sim)."""
        return self._now()

    def observe(self) -> Observation:
        """Read the newest measurement and hand it to the safety layer."""
        self._require_connected()
        obs = self._read()
        self.safety.update_observation(obs)
        return obs

    def send_action(self, action: np.ndarray, command_time: float | None = None) -> np.ndarray:
        """Filter `action` through the safety layer, send it, and return what was sent.

        A wrong shape raises ValueError (a programming error). A NaN, a limit violation, an e-stop or a
        stale observation is handled by the safety layer: the robot stops or the command is clipped, and
        the intervention is counted in `self.safety.counts` and kept in `self.last_decision`.
        `command_time` (robot clock, default now) is when the command was issued or received, so that a
        driver applying a queued command lets the watchdog and the post-reset freshness check see its age.
        """
        self._require_connected()
        command = self.spec.check_command(action)
        decision = self.safety.filter(command, self.now(), command_time)
        self.last_decision = decision
        self._write(decision.command)
        return self._applied(decision)

    def wait(self) -> None:
        """Advance one control period: step the physics in sim, sleep to the next tick on hardware."""
        self._require_connected()
        self._advance()

    def reset(self, seed: int | None = None, options: dict | None = None) -> Observation:
        """Bring the robot to a start state (sim: teleport and randomise; real: move home under safety)."""
        self._require_connected()
        self._reset(seed, options or {})
        if (self.reset_clears_state_faults and self.safety.estopped
                and self.safety.estop_reason in STATE_FAULTS):
            # The rebuilt scene has none of the state that raised the fault; if the new start state still
            # overloads a joint or touches a hazard, the observation below latches the stop again.
            self.safety.reset(self.now() - 1e-9)
        obs = self.observe()
        if not self.safety.estopped:
            # A fresh episode rate-limits from the measured state, not from the last episode's commands, and
            # its first stop latches a hold at the new pose. Any other latched e-stop (an operator's, a bus
            # fault, a real overload) is deliberately left latched: only an explicit safety reset clears it.
            self.safety.reset(self.now() - 1e-9)
        return obs

    def true_state(self) -> dict[str, np.ndarray] | None:
        """The noise-free, undelayed measurement behind the latest observation, where one exists (a
        simulator); None on hardware. Privileged: for evaluation and asymmetric critics, never a policy input."""
        return None

    def stop(self, reason: str = "stop") -> np.ndarray | None:
        """Stop the actuators now by the safety layer's one stop rule (`SafetyController.stop`: a latched
        hold, or a ramp to zero) and return what was written (None: nothing, no state to hold yet)."""
        if not self._connected:
            return None
        command = self.safety.stop(reason).command
        self._write(command)
        return command

    def torque_off(self) -> None:
        """Switch the actuators' torque off during a stop (the safety layer's `torque_off_due` says when).
        Nothing is sent while the stop lasts; the next command that passes the safety layer switches the
        torque on again, starting from the measured pose."""
        self._require_connected()
        self._torque_off()
        self.safety.torque_switched_off()

    # ------------------------------------------------------------------ implementation primitives
    @abc.abstractmethod
    def _connect(self) -> None: ...

    @abc.abstractmethod
    def _disconnect(self) -> None: ...

    @abc.abstractmethod
    def _now(self) -> float: ...

    @abc.abstractmethod
    def _read(self) -> Observation: ...

    @abc.abstractmethod
    def _write(self, command: np.ndarray | None) -> None:
        """Send `command` to the actuators; None means send nothing new (the hardware keeps its state)."""

    def _torque_off(self) -> None:
        """Make the actuators limp (robots with `supports_torque_off`)."""
        raise NotImplementedError(f"{self.spec.name} cannot switch its actuators off")

    @abc.abstractmethod
    def _advance(self) -> None: ...

    @abc.abstractmethod
    def _reset(self, seed: int | None, options: dict) -> None: ...

    # ----------------------------------------------------------------------------------- helpers
    def _applied(self, decision: SafetyDecision) -> np.ndarray:
        if decision.command is not None:
            return decision.command.copy()
        # Nothing could be sent (no state to hold yet): report that nothing moves.
        return np.full(self.spec.action_size, np.nan)

    def _require_connected(self) -> None:
        if not self._connected:
            raise RobotError(f"{self.spec.name} is not connected: use `with robot:` or call connect() first")
