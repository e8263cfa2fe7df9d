"""The iRobot Create 2 as a `robolearn.robot.Robot` (the diffdrive_base): twist in, odometry and hazards out.

Bumpers, cliff sensors and wheel drops become the `hazards` observation [bump_left, bump_right, cliff,
wheel_drop]; the SafetyController latches its e-stop when any is set, so the base stops. In Safe mode the
robot's own firmware also stops on cliffs and wheel drops: a second, independent layer.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from robolearn.safety import SafetyController
from robolearn.robot import Robot
from robolearn.robots.diffdrive_base import DEFINITION as DIFFDRIVE_BASE
from robolearn.spec import CommandKind, Observation, RobotSpec
from robolearn.hardware.create2 import Create2
from robolearn.hardware.errors import HardwareError
from robolearn.hardware.odometry import CREATE2_GEOMETRY, DiffDriveOdometry, WheelGeometry
from robolearn.hardware.timing import TickClock

log = logging.getLogger(__name__)

BUS_FAULT = "bus_fault"


def base_spec(safety: SafetyController) -> RobotSpec:
    """The base's spec, from the diffdrive_base definition (the one the simulated base uses) and its limits."""
    return DIFFDRIVE_BASE.spec(safety.limits)


class Create2Robot(Robot):
    def __init__(self, base: Create2, safety: SafetyController, geometry: WheelGeometry = CREATE2_GEOMETRY) -> None:
        if safety.limits.command_kind is not CommandKind.TWIST:
            raise ValueError(f"{safety.limits.robot}: a mobile base takes twist commands, the limits file says "
                             f"{safety.limits.command_kind.value}")
        super().__init__(base_spec(safety), safety)
        self.base = base
        self.geometry = geometry
        self.odometry = DiffDriveOdometry(geometry)
        self._ticks = TickClock(self.spec.control_period_s)

    def _connect(self) -> None:
        self.base.open()
        self.odometry.reset()
        self._ticks.restart()

    def _disconnect(self) -> None:
        self.base.close()

    def _now(self) -> float:
        return time.monotonic()

    def _read(self) -> Observation:
        try:
            s = self.base.read_sensors()
        except HardwareError:
            self._fail_safe()
            raise
        self.odometry.update(s.left_counts, s.right_counts, s.received_at)
        odo = self.odometry
        hazards = np.array([s.bump_left, s.bump_right, s.cliff, s.wheel_drop_left or s.wheel_drop_right],
                           dtype=np.float64)
        return Observation(
            timestamp=s.received_at,
            values={"base_pose": np.array([odo.x, odo.y, odo.yaw]), "base_twist": np.array([odo.v, odo.omega]),
                    "hazards": hazards},
            info={"battery_voltage_v": s.voltage_v, "battery_charge": s.charge_ratio, "oi_mode": s.mode.name},
        )

    def _write(self, command: np.ndarray | None) -> None:
        linear, angular = (0.0, 0.0) if command is None else (float(command[0]), float(command[1]))
        half_track = 0.5 * self.geometry.wheel_base_m
        right, left = 1000.0 * (linear + angular * half_track), 1000.0 * (linear - angular * half_track)
        # Scale both wheels down together past the motor limit, so the path's curvature is kept.
        scale = max(1.0, abs(right) / 500.0, abs(left) / 500.0)
        try:
            self.base.drive_direct(right / scale, left / scale)
        except HardwareError as exc:
            if self.safety.estopped and right == left == 0.0:
                # A stop after the link already failed (e.g. on disconnect): reported once, when it failed.
                log.error("%s: could not send the stop command (%s); the Create 2 stops by itself in Safe "
                          "mode only on hazards: switch it off if it is moving", self.spec.name, exc)
                return
            self._fail_safe()
            raise

    def _advance(self) -> None:
        self._ticks.wait()

    def _reset(self, seed: int | None, options: dict) -> None:
        # A real base is not teleported: the episode starts where it stands, with odometry re-zeroed.
        self._write(None)
        self.odometry.reset()

    def _fail_safe(self) -> None:
        self.safety.trigger_estop(BUS_FAULT)
        try:
            self.base.drive_direct(0, 0)
        except HardwareError:
            pass
