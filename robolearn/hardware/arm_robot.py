"""A serial-bus servo arm (SO-101 / Koch class) as a `robolearn.robot.Robot`.

Joint positions in radians go through the motor calibration to ticks and back. Layers of protection:
the SafetyController filters every command (in `Robot.send_action`); the calibrated range is written into
each servo's own limit registers at connect, so the firmware enforces it too; commands are clamped to the
calibrated range in software as well; connect reads those registers back and refuses a mismatch. Torque is
only switched on by the first command, with the goal registers holding the measured pose, and it is switched
off on disconnect and on any bus error or servo fault; it stays off while the e-stop is latched.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Sequence

import numpy as np

from robolearn.calibration.files import CalibrationError
from robolearn.calibration.motors import ArmCalibration, MotorCalibration
from robolearn.safety import SafetyController
from robolearn.safety.controller import OVERLOAD, RATE
from robolearn.robot import Robot
from robolearn.robots.registry import robot_definition
from robolearn.spec import CommandKind, Observation, RobotSpec
from robolearn.hardware.errors import (CalibrationMismatchError, FarStartError, HardwareError, MotorFaultError,
                                       StaleFrameError)
from robolearn.hardware.guards import GuardLimits, ServoGuard, Trip
from robolearn.hardware.identity import check_identity, read_identity
from robolearn.hardware.motor_bus import MotorBus
from robolearn.hardware.timing import TickClock

if TYPE_CHECKING:  # OpenCV is only needed when a camera is attached
    from robolearn.hardware.camera import OpenCVCamera

log = logging.getLogger(__name__)

BUS_FAULT = "bus_fault"
CAMERA_STALE = "camera_stale"
# What a first command far from the measured pose does: "refuse" until confirm_far_start(), or "ramp" there at
# the safety layer's rate limit (the operator configured it, so it counts as confirmed).
FAR_START_POLICIES = ("refuse", "ramp")


def arm_spec(safety: SafetyController, image_shape: tuple[int, int, int] | None = None) -> RobotSpec:
    """The arm's spec, from its robot definition (the one the simulated arm uses) and its limits."""
    return robot_definition(safety.limits.robot).spec(safety.limits, image_shape)


class ServoArmRobot(Robot):
    """Joint-position arm on one servo bus, optionally with a camera whose frames join each observation.

    `home`: joint positions `reset()` moves to under the safety layer (None: an episode starts where the
    arm stands). `guard_limits`: stall, overheating and encoder-jump thresholds checked every tick; a trip
    latches the e-stop and switches torque off, except on the joints in `hold_on_fault`, which keep holding
    (a joint that would drop the arm when limp). `far_start`, `max_start_gap`: a first command (torque off)
    more than `max_start_gap` rad from the measured pose on any joint is refused ("refuse", until
    `confirm_far_start()`) or ramped to ("ramp"); a move to `home` by `reset()` is always ramped."""

    supports_torque_off = True

    def __init__(self, bus: MotorBus, calibration: ArmCalibration, safety: SafetyController,
                 camera: OpenCVCamera | None = None, home: Sequence[float] | None = None,
                 home_timeout_s: float = 10.0, guard_limits: GuardLimits | None = None,
                 hold_on_fault: Sequence[str] = (), far_start: str = "refuse", max_start_gap: float = 0.25) -> None:
        if far_start not in FAR_START_POLICIES:
            raise ValueError(f"far_start must be one of {FAR_START_POLICIES}, got {far_start!r}")
        if not max_start_gap > 0:
            raise ValueError(f"max_start_gap must be > 0 rad, got {max_start_gap}")
        if safety.limits.command_kind is not CommandKind.JOINT_POSITION:
            raise ValueError(f"{safety.limits.robot}: a servo arm takes joint_position commands, the limits file "
                             f"says {safety.limits.command_kind.value}")
        if calibration.robot != safety.limits.robot:
            raise CalibrationError(
                f"calibration is for robot {calibration.robot!r} but the limits are for {safety.limits.robot!r}: "
                f"refusing to drive one robot with another's calibration")
        image_shape = tuple(camera.frame_shape) if camera is not None else None
        super().__init__(arm_spec(safety, image_shape), safety)
        self.motors: tuple[MotorCalibration, ...] = calibration.for_joints(self.spec.joint_names)
        for motor in self.motors:
            model = bus.model(motor.model)
            if model.resolution != motor.resolution:
                raise CalibrationError(
                    f"{motor.name}: calibrated with {motor.resolution} ticks/turn but {motor.model} has "
                    f"{model.resolution}: re-run `robolearn calibrate motors`")
        for motor, low, high in zip(self.motors, self.spec.command_low, self.spec.command_high):
            lo, hi = motor.range_radians
            if low < lo - 1e-6 or high > hi + 1e-6:
                log.warning("%s: limits [%.2f, %.2f] rad exceed the recorded range [%.2f, %.2f] rad; commands are "
                            "clamped to the recorded range", motor.name, low, high, lo, hi)
        self.bus = bus
        self.identity = calibration.identity
        self.camera = camera
        self.home = None if home is None else np.asarray(home, dtype=np.float64)
        self.home_timeout_s = home_timeout_s
        self._ids = [m.id for m in self.motors]
        unknown = sorted(set(hold_on_fault) - set(self.spec.joint_names))
        if unknown:
            raise ValueError(f"{self.spec.name}: hold_on_fault names unknown joints {unknown}; joints are "
                             f"{list(self.spec.joint_names)}")
        self._held_on_fault = [m.id for m in self.motors if m.name in hold_on_fault]
        self._guard = ServoGuard(self.spec.joint_names, guard_limits or GuardLimits())
        self._torque_on = False
        self._limp: set[int] = set()  # servos switched off by a fault while others hold: no goal may reach them
        self.far_start = far_start
        self.max_start_gap = max_start_gap
        self._far_start_confirmed = False
        self._last_pose: np.ndarray | None = None
        self._ticks = TickClock(self.spec.control_period_s)

    # ------------------------------------------------------------------------------ start guard
    def confirm_far_start(self) -> None:
        """The operator accepts that the next start may be far from the measured pose: the arm then ramps there
        at the safety layer's rate limit. Holds until torque goes off again."""
        self._far_start_confirmed = True

    def send_action(self, action: np.ndarray, command_time: float | None = None) -> np.ndarray:
        # (An e-stopped arm moves nowhere: the safety layer refuses the command, no need to judge the start.)
        if ((not self._torque_on or self._limp) and self.far_start == "refuse" and not self._far_start_confirmed
                and not self.safety.estopped):
            self._refuse_far_start(self.spec.check_command(action))
        return super().send_action(action, command_time)

    def _refuse_far_start(self, command: np.ndarray) -> None:
        if self._last_pose is None:
            return  # nothing measured yet: the safety layer refuses the command as stale
        gap = np.abs(command - self._last_pose)
        far = np.flatnonzero(gap > self.max_start_gap)  # a NaN is never "far": the safety layer stops on it
        if far.size:
            i = far[np.argmax(gap[far])]
            raise FarStartError(
                f"{self.spec.name}: the first command with torque off puts {self.spec.joint_names[i]} {gap[i]:.2f} rad from where it "
                f"stands ({self._last_pose[i]:.2f} rad measured, {command[i]:.2f} rad commanded; start limit "
                f"{self.max_start_gap:.2f} rad); torque stays off. Move the arm (or the leader arm) to the start "
                f"pose, or confirm the move (confirm_far_start(), or far_start: ramp) to ramp there slowly")

    # ------------------------------------------------------------------------------ primitives
    def _connect(self) -> None:
        self.bus.open()
        try:
            self.bus.check_models({m.id: m.model for m in self.motors})
            self.bus.set_torque(self._ids, False)
            if self.identity is not None:  # before anything is written: this may be another arm
                check_identity(self.identity, read_identity(self.bus, self._ids), self.motors, self.bus.port)
            self.bus.set_position_mode(self._ids)
            for motor in self.motors:
                self.bus.write_position_limits(motor.id, motor.range_min, motor.range_max)
            self.bus.begin_period(None)  # set-up is not bound to a control period
            self._verify_calibration_registers()
            self._check_encoder_range({i: s.position for i, s in self.bus.read_state(self._ids).items()})
            if self.camera is not None:
                self.camera.start()
                self.camera.wait_for_frame()
        except BaseException:
            self._torque_off_quietly()
            self.bus.close()
            if self.camera is not None:
                self.camera.stop()
            raise
        self._torque_on = False
        self._guard.restart()
        self._ticks.restart()

    def _disconnect(self) -> None:
        try:
            self._torque_off_quietly()
        finally:
            self.bus.close()
            if self.camera is not None:
                self.camera.stop()

    def _now(self) -> float:
        return time.monotonic()

    def _read(self) -> Observation:
        # A tick's bus work (this read, then the command's write) may retry only within the control period.
        self.bus.begin_period(self.spec.control_period_s)
        try:
            states = self.bus.read_state(self._ids)
        except MotorFaultError as exc:
            self._fail_safe(OVERLOAD if "overload" in exc.flags else BUS_FAULT)
            raise
        except HardwareError:
            self._fail_safe(BUS_FAULT)
            raise
        stamp = self._now()
        temperatures = [states[m.id].temperature_c for m in self.motors]
        trip = self._guard.check(np.array([states[m.id].position for m in self.motors], dtype=float),
                                 np.array([states[m.id].load for m in self.motors]),
                                 None if None in temperatures else np.array(temperatures, dtype=float))
        if trip is not None and not self.safety.estopped:
            self._guard_stop(trip)
        pos = np.array([m.to_radians(states[m.id].position) for m in self.motors])
        self._last_pose = pos
        vel = np.array([m.velocity_to_radians(states[m.id].velocity) for m in self.motors])
        effort = np.array([m.direction * states[m.id].load * self.bus.model(m.model).stall_torque_nm
                           for m in self.motors])
        obs = Observation(timestamp=stamp, values={"joint_pos": pos, "joint_vel": vel, "joint_effort": effort})
        if self.camera is not None:
            try:
                obs.image, obs.image_timestamp = self.camera.read()
            except StaleFrameError:
                # Holding position is safer than dropping the arm: latch the e-stop, keep torque.
                self.safety.trigger_estop(CAMERA_STALE)
                raise
        return obs

    def _write(self, command: np.ndarray | None) -> None:
        if command is None or (self.safety.estopped and not self._torque_on):
            # After a fault torque stays off until the e-stop is explicitly reset: never re-energise by a stop.
            return
        # Torque comes on (all servos at the start, or those a fault left limp once the e-stop was reset) holding
        # the pose just measured: no jump, whatever an earlier program left in the goal registers; the command
        # follows, already rate-limited by the safety layer from the measured state.
        energise = [] if self.safety.estopped else sorted(self._limp) if self._torque_on else self._ids
        # While stopped no goal may reach a servo the fault switched off (an STS servo switches on for a goal).
        goals = {m.id: m.to_ticks(float(q)) for m, q in zip(self.motors, command)
                 if m.id not in self._limp or m.id in energise}
        try:
            if energise:
                measured = self.bus.read_state(energise)
                self._check_encoder_range({i: s.position for i, s in measured.items()})
                self.bus.write_goal_positions({i: s.position for i, s in measured.items()})
                self.bus.set_torque(energise, True)
                self._torque_on = True
                self._limp = set()
            self.bus.write_goal_positions(goals)
        except HardwareError:
            self._fail_safe(BUS_FAULT)
            raise

    def _torque_off(self) -> None:
        """After a long hold (limits file's torque_off_after_hold_s): torque off except on the joints configured
        to hold on a fault, which would drop the arm; the next command re-energises all from the measured pose."""
        limp = [i for i in self._ids if i not in self._held_on_fault]
        if limp:
            self._torque_off_quietly(limp)
        self._torque_on = False
        self._far_start_confirmed = False  # a confirmation holds until torque goes off

    def _advance(self) -> None:
        self._ticks.wait()

    def _reset(self, seed: int | None, options: dict) -> None:
        """Move to `options['home']` (or the configured home) under the safety layer; none: stay put."""
        home = options.get("home", self.home)
        if home is None or self.safety.estopped:
            return
        home = self.spec.check_command(home)
        obs = self.observe()
        self.safety.reset(self._now() - 1e-9)
        deadline = self._now() + self.home_timeout_s
        # Until home itself was sent: a step the rate limiter shortened (it scales with the measured time
        # between commands) may end within the tolerance but short of home.
        rate_limited = False
        while rate_limited or np.max(np.abs(obs["joint_pos"] - home)) > 0.02:
            if self._now() > deadline:
                raise HardwareError(
                    f"{self.spec.name}: did not reach home within {self.home_timeout_s} s (max error "
                    f"{np.max(np.abs(obs['joint_pos'] - home)):.3f} rad); check for obstacles or a blocked joint")
            Robot.send_action(self, home)  # a configured home is ramped to, never refused as a far start
            if self.last_decision is not None and self.last_decision.stopped:
                return
            rate_limited = self.last_decision is not None and RATE in self.last_decision.interventions
            self.wait()
            obs = self.observe()

    # --------------------------------------------------------------------------------- helpers
    def _verify_calibration_registers(self) -> None:
        """Read back every register connect wrote: a servo that silently kept an old value (failed EEPROM write,
        a replaced servo, a reply taken for another's) must not be driven. Torque is still off here."""
        for motor in self.motors:
            limits = self.bus.read_position_limits(motor.id)
            if limits != (motor.range_min, motor.range_max):
                raise CalibrationMismatchError(
                    f"{motor.name} (servo {motor.id}): position limit registers read back {limits}, the "
                    f"calibration wrote ({motor.range_min}, {motor.range_max}); torque stays off. Check the servo "
                    f"(EEPROM lock, a replaced servo) and re-run `robolearn calibrate motors` if it was replaced")
            if not self.bus.in_position_mode(motor.id):
                raise CalibrationMismatchError(
                    f"{motor.name} (servo {motor.id}): operating mode register reads back a mode other than "
                    f"position control after it was written; torque stays off. Power-cycle the servo and retry")

    def _check_encoder_range(self, ticks: dict[int, int]) -> None:
        """A reading outside one turn means the servo applies an offset the calibration does not know (homing
        offset overflow, multi-turn mode): every radian computed from it would be wrong."""
        for motor in self.motors:
            if motor.id in ticks and not 0 <= ticks[motor.id] < motor.resolution:
                raise CalibrationMismatchError(
                    f"{motor.name} (servo {motor.id}): present position {ticks[motor.id]} ticks lies outside "
                    f"0..{motor.resolution - 1}; the servo holds a homing offset or mode the calibration does "
                    f"not know. Reset the servo's homing offset to 0 and re-run `robolearn calibrate motors`")

    def _guard_stop(self, trip: Trip) -> None:
        """Latch the stop; torque off except on the joints configured to hold (they keep the latched stop pose)."""
        self.safety.trigger_estop(trip.reason)
        limp = [i for i in self._ids if i not in self._held_on_fault]
        log.error("%s: %s on %s (%s): e-stop latched, torque off on servos %s%s; find the cause (obstacle, load, "
                  "heat, loose encoder magnet) before resetting the e-stop", self.spec.name, trip.reason, trip.joint,
                  trip.detail, limp, f", servos {self._held_on_fault} hold" if self._held_on_fault else "")
        try:
            if limp:
                self.bus.set_torque(limp, False)
        except HardwareError:
            self._fail_safe(BUS_FAULT)
            raise
        if self._held_on_fault:
            self._limp = set(limp)
        else:
            self._torque_on = False
            self._far_start_confirmed = False

    def _fail_safe(self, reason: str) -> None:
        """Latch the stop and switch torque off, except on the joints configured to hold: a servo holds its last
        goal on its own, so a joint that would drop the arm stays up even with the bus gone."""
        self.safety.trigger_estop(reason)
        if self._held_on_fault and self._torque_on:
            log.error("%s: %s: servos %s keep holding their last goal; support the arm before cutting power",
                      self.spec.name, reason, self._held_on_fault)
            self._limp = {i for i in self._ids if i not in self._held_on_fault}
            self._torque_off_quietly(sorted(self._limp))
        else:
            self._torque_off_quietly()

    def _torque_off_quietly(self, ids: list[int] | None = None) -> None:
        # Best effort: the bus may be the thing that failed, and this runs while another error is raised.
        try:
            self.bus.set_torque(self._ids if ids is None else ids, False)
        except HardwareError as exc:
            log.error("%s: could not switch torque off (%s); cut the servo power if the arm is energised",
                      self.spec.name, exc)
        if ids is None:
            self._torque_on = False
            self._far_start_confirmed = False
