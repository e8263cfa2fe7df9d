"""`make_hardware_robot`: build the Robot for a named real robot from its port and calibration files.

Used by the ROS driver node (which only passes parameters through) and by scripts. Nothing here moves
hardware: the robot connects on `connect()` / `with robot:`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from robolearn.calibration.files import CalibrationError
from robolearn.calibration.motors import ArmCalibration
from robolearn.robot import Robot
from robolearn.spec import RobotSpec
from robolearn.safety import SafetyController, SafetyLimits, WorkspaceModel, load_robot_limits
from robolearn.robots.workspace import ArmWorkspace, PlanarBaseWorkspace
from robolearn.hardware.arm_robot import ServoArmRobot, arm_spec
from robolearn.hardware.create2 import Create2
from robolearn.hardware.create2_robot import Create2Robot, base_spec
from robolearn.hardware.dynamixel import DynamixelBus
from robolearn.hardware.feetech import FeetechBus
from robolearn.hardware.motor_bus import MotorBus

if TYPE_CHECKING:  # OpenCV is only needed when a camera is attached
    from robolearn.hardware.camera import OpenCVCamera

BUS_CLASSES: dict[str, type[MotorBus]] = {"dynamixel": DynamixelBus, "feetech": FeetechBus}
BASE_MODELS = {"diffdrive_base": "diffdrive_base", "create2": "diffdrive_base"}


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
    `workspace`: the model for the limits' workspace box; by default the same one the simulated robot uses
    (gripper-tip forward kinematics for so101_arm, the braking-distance planar model for the base).
    `hardware_options`: for arms `baudrate`, `retries`, `retries_per_period`, `latency_ms`, `home`,
    `guard_limits` (a GuardLimits), `hold_on_fault` (joints that keep holding when a guard trips); for the base `full_mode`,
    `sensor_timeout_s`.
    """
    robot_name = BASE_MODELS.get(model, model)
    is_base = robot_name in BASE_MODELS.values()
    safety_limits = _limits(robot_name, limits)
    if calibration == "":
        calibration = None  # an unset ROS parameter arrives as an empty string
    if is_base:
        if camera is not None:
            raise ValueError(f"{robot_name}: cameras are supported on arms only; run the camera node for the base")
        options = _pick(hardware_options, ("full_mode", "sensor_timeout_s"), robot_name)
        safety = _safety(robot_name, safety_limits, workspace, on_intervention, is_base)
        return Create2Robot(Create2(port, **options), safety)
    if calibration is None:
        raise CalibrationError(
            f"refusing to drive {robot_name!r} without a motor calibration: run `robolearn calibrate motors "
            f"--robot {robot_name} --port {port}` and pass the file it writes")
    arm_calibration = ArmCalibration.load(calibration, robot=robot_name)
    bus_options = _pick(hardware_options, ("baudrate", "retries", "retries_per_period", "latency_ms", "home",
                                           "guard_limits", "hold_on_fault"), robot_name)
    arm_options = {k: bus_options.pop(k) for k in ("home", "guard_limits", "hold_on_fault") if k in bus_options}
    bus = BUS_CLASSES[arm_calibration.bus](port, **bus_options)
    safety = _safety(robot_name, safety_limits, workspace, on_intervention, is_base)
    return ServoArmRobot(bus, arm_calibration, safety, camera=camera, **arm_options)


def hardware_definition(model: str, limits: str | os.PathLike | SafetyLimits | None = None,
                        ) -> tuple[RobotSpec, SafetyController]:
    """The spec and a SafetyController (workspace model included) of the real robot `model`, without opening a
    port: what clients that must not own the robot (the policy node, RosRobot) need. numpy only."""
    robot_name = BASE_MODELS.get(model, model)
    is_base = robot_name in BASE_MODELS.values()
    safety = _safety(robot_name, _limits(robot_name, limits), None, None, is_base)
    return (base_spec(safety) if is_base else arm_spec(safety)), safety


def _safety(robot: str, limits: SafetyLimits, workspace: WorkspaceModel | None,
            on_intervention: Callable[[str, str], None] | None, is_base: bool) -> SafetyController:
    if workspace is None:
        workspace = _default_workspace(robot, limits, is_base)
    return SafetyController(limits, workspace=workspace, on_intervention=on_intervention)


def _limits(robot: str, limits: str | os.PathLike | SafetyLimits | None) -> SafetyLimits:
    if isinstance(limits, SafetyLimits):
        if limits.robot != robot:
            raise CalibrationError(f"limits are for robot {limits.robot!r}, not {robot!r}")
        return limits
    return load_robot_limits(robot, Path(limits) if limits is not None else None)


def _default_workspace(robot: str, limits: SafetyLimits, is_base: bool) -> WorkspaceModel | None:
    """The workspace model the simulated robot uses too, so the real robot is boxed in exactly as in simulation."""
    if limits.workspace_low is None:
        return None
    if is_base:
        # Brake at the deceleration the rate limit allows, as the simulated base does.
        return PlanarBaseWorkspace(max_decel=float(limits.max_rate[0]))
    if robot == "so101_arm":
        return ArmWorkspace()
    raise ValueError(f"{robot}: its limits set a workspace box but no workspace model is known for it: pass "
                     f"workspace= to make_hardware_robot, or remove the box from its limits.yaml")


def _pick(options: dict[str, Any], allowed: tuple[str, ...], robot: str) -> dict[str, Any]:
    unknown = set(options) - set(allowed)
    if unknown:
        raise ValueError(f"{robot}: unknown hardware options {sorted(unknown)}; allowed: {list(allowed)}")
    return dict(options)
