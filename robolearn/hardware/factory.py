"""`make_hardware_robot`: build the Robot for a named real robot from its port and calibration files.

Used by the ROS driver node (which only passes parameters through) and by scripts. Nothing here moves
hardware: the robot connects on `connect()` / `with robot:`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable

from robolearn.calibration.files import CalibrationError
from robolearn.calibration.motors import ArmCalibration
from robolearn.robot import Robot
from robolearn.safety import SafetyLimits, WorkspaceModel
from robolearn.robots.registry import robot_definition
from robolearn.hardware.arm_robot import ServoArmRobot
from robolearn.hardware.create2 import Create2
from robolearn.hardware.create2_robot import Create2Robot
from robolearn.hardware.dynamixel import DynamixelBus
from robolearn.hardware.feetech import FeetechBus
from robolearn.hardware.motor_bus import MotorBus

if TYPE_CHECKING:  # OpenCV is only needed when a camera is attached
    from robolearn.hardware.camera import OpenCVCamera

BUS_CLASSES: dict[str, type[MotorBus]] = {"dynamixel": DynamixelBus, "feetech": FeetechBus}


def make_hardware_robot(
    model: str,
    port: str,
    calibration: str | os.PathLike | None = None,
    *,
    limits: str | os.PathLike | SafetyLimits | None = None,
    workspace: WorkspaceModel | None = None,
    on_intervention: Callable[[str, str], None] | None = None,
    camera: OpenCVCamera | None = None,
    **hardware_options: Any,
) -> Robot:
    """The real robot `model` on serial `port`.

    `model`: a servo arm with a limits file (e.g. "so101_arm"), or "diffdrive_base" / "create2" (Create 2).
    `calibration`: the arm's motor calibration YAML (required for arms: an uncalibrated arm is refused).
    `camera`: an OpenCVCamera (arms) whose frames join each observation.
    `limits`: a SafetyLimits or a path; default `calibration/<robot>/limits.yaml`.
    `workspace`: the model for the limits' workspace box; by default the robot definition's, which the
    simulated robot uses too (robolearn/robots/<robot>.py).
    `hardware_options`: for arms `baudrate`, `retries`, `retries_per_period`, `latency_ms`, `home`,
    `guard_limits` (a GuardLimits), `hold_on_fault` (joints that keep holding when a guard trips), `far_start`
    ("refuse" or "ramp") and `max_start_gap` (rad) for a first command far from the measured pose; for the
    base `full_mode`, `sensor_timeout_s`.
    """
    definition = robot_definition(model)
    robot_name = definition.name
    is_base = robot_name == "diffdrive_base"  # the Create 2; every other hardware robot is a servo arm
    safety_limits = definition.load_limits(limits)
    if calibration == "":
        calibration = None  # an unset ROS parameter arrives as an empty string
    if is_base:
        if camera is not None:
            raise ValueError(f"{robot_name}: cameras are supported on arms only; run the camera node for the base")
        options = _pick(hardware_options, ("full_mode", "sensor_timeout_s"), robot_name)
        safety = definition.safety(safety_limits, workspace, on_intervention)
        return Create2Robot(Create2(port, **options), safety)
    if calibration is None:
        raise CalibrationError(
            f"refusing to drive {robot_name!r} without a motor calibration: run `robolearn calibrate motors "
            f"--robot {robot_name} --port {port}` and pass the file it writes")
    arm_calibration = ArmCalibration.load(calibration, robot=robot_name)
    arm_keys = ("home", "guard_limits", "hold_on_fault", "far_start", "max_start_gap")
    bus_options = _pick(hardware_options, ("baudrate", "retries", "retries_per_period", "latency_ms", *arm_keys),
                        robot_name)
    arm_options = {k: bus_options.pop(k) for k in arm_keys if k in bus_options}
    bus = BUS_CLASSES[arm_calibration.bus](port, **bus_options)
    safety = definition.safety(safety_limits, workspace, on_intervention)
    return ServoArmRobot(bus, arm_calibration, safety, camera=camera, **arm_options)


def _pick(options: dict[str, Any], allowed: tuple[str, ...], robot: str) -> dict[str, Any]:
    unknown = set(options) - set(allowed)
    if unknown:
        raise ValueError(f"{robot}: unknown hardware options {sorted(unknown)}; allowed: {list(allowed)}")
    return dict(options)
