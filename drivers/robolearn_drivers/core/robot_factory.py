"""Builds the Robot a driver node owns: the PyBullet robot (use_sim) or the real hardware.

Both are imported lazily so that a driver for one never needs the other's dependencies, and so that a
missing package becomes a ConfigurationError that the node reports instead of a crash.
"""

from __future__ import annotations

import importlib
import math

from robolearn.robot import Robot
from robolearn.safety import LimitsError

from robolearn_drivers.core.errors import ConfigurationError
from robolearn_drivers.core.params import DriverParams


def build_robot(params: DriverParams) -> Robot:
    """Create (not connect) the robot named by `params`; raises ConfigurationError with what to fix."""
    try:
        robot = _build_sim(params) if params.use_sim else _build_hardware(params)
    except ConfigurationError:
        raise
    except (LimitsError, FileNotFoundError) as exc:
        raise ConfigurationError(f"cannot build {params.robot_model}: {exc}") from exc
    except (KeyError, ValueError) as exc:
        # Both factories raise these for an unknown model, with the list of known names in the message.
        raise ConfigurationError(f"cannot build robot_model={params.robot_model!r}: {_message(exc)}") from exc
    check_rate(params, robot.spec.control_rate_hz)
    return robot


def check_rate(params: DriverParams, robot_rate_hz: float) -> None:
    """The safety rate limit is per control step, so the loop must run at the rate the limits were written for."""
    if params.control_rate_hz and not math.isclose(params.control_rate_hz, robot_rate_hz, rel_tol=0.01):
        raise ConfigurationError(
            f"parameter control_rate_hz={params.control_rate_hz:g} differs from {params.robot_model}'s "
            f"{robot_rate_hz:g} Hz: its limits file and its control period (the cap on one rate-limited step) are written for "
            f"{robot_rate_hz:g} Hz; set control_rate_hz to 0 or change the rate in its limits.yaml"
        )


def _build_sim(params: DriverParams) -> Robot:
    module = _import("robolearn_sim", "the PyBullet robots (pip install 'robolearn[sim]')")
    return module.make_robot(params.robot_model, seed=params.sim_seed, limits_path=params.limits_file or None)


def _build_hardware(params: DriverParams) -> Robot:
    module = _import("robolearn.hardware", "the hardware drivers (pip install 'robolearn[hardware]')")
    factory = getattr(module, "make_hardware_robot", None)
    if factory is None:
        raise ConfigurationError(
            "robolearn.hardware has no make_hardware_robot: this installation lacks the hardware drivers"
        )
    if not params.port:
        raise ConfigurationError(
            f"parameter port is empty: set it to the serial port of the {params.robot_model} (e.g. /dev/ttyACM0)"
        )
    # far_start is an arm option: the default is the factory's own, so the base is built without it.
    options = {} if params.far_start == "refuse" else {"far_start": params.far_start}
    return factory(params.robot_model, port=params.port, calibration=params.calibration_file,
                   limits=params.limits_file or None, **options)


def _import(name: str, what: str):
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ConfigurationError(f"cannot import {name} ({what}): {exc}") from exc


def _message(exc: BaseException) -> str:
    # KeyError reprs its message in quotes; show the text itself.
    return str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
