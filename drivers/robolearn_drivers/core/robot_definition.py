"""A robot model's RobotSpec and a SafetyController for it, without connecting to anything.

Clients that need a spec but must not own the robot (the policy node, RosRobot) take it, with its
SafetyController (workspace model included), from the hardware definition for robots that exist as
hardware (numpy only: a robot-side install has no PyBullet), and from an unconnected sim robot for the
simulation-only ones (pendulum, cart-pole, car). A test checks that the two agree where both exist.
"""

from __future__ import annotations

import importlib

from robolearn.safety import LimitsError, SafetyController
from robolearn.spec import RobotSpec

from robolearn_drivers.core.errors import ConfigurationError

HARDWARE_MODELS = ("so101_arm", "diffdrive_base", "create2")


def robot_definition(model: str, limits_file: str = "") -> tuple[RobotSpec, SafetyController]:
    if model in HARDWARE_MODELS:
        from robolearn.hardware.factory import hardware_definition

        try:
            return hardware_definition(model, limits_file or None)
        except (ValueError, LimitsError, FileNotFoundError) as exc:
            raise ConfigurationError(f"cannot describe robot_model={model!r}: {exc}") from exc
    try:
        sim = importlib.import_module("robolearn_sim")
    except ImportError as exc:
        raise ConfigurationError(
            f"cannot describe robot {model!r}: robolearn_sim (the robot definitions) is not importable: {exc}"
        ) from exc
    try:
        template = sim.make_robot(model, limits_path=limits_file or None)
    except (KeyError, ValueError, LimitsError, FileNotFoundError) as exc:
        raise ConfigurationError(f"cannot describe robot_model={model!r}: {exc}") from exc
    return template.spec, template.safety
