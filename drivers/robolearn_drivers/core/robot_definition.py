"""A robot model's RobotSpec and a SafetyController for it, without connecting to anything.

The simulated robots define the spec of the hardware they stand for (same joints, keys, limits file), so
clients that need a spec but must not own the robot (the policy node, RosRobot) take it from an
unconnected sim robot, together with its SafetyController (workspace model included).
"""

from __future__ import annotations

import importlib

from robolearn.safety import LimitsError, SafetyController
from robolearn.spec import RobotSpec

from robolearn_drivers.core.errors import ConfigurationError


def robot_definition(model: str, limits_file: str = "") -> tuple[RobotSpec, SafetyController]:
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
