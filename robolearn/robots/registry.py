"""`robot_definition(name)`: the one table of robots. Each robot's module is imported on demand."""

from __future__ import annotations

import importlib

from robolearn.robots.definition import RobotDefinition

# model name -> module under robolearn.robots holding its DEFINITION
_MODULES: dict[str, str] = {
    "so101_arm": "so101_arm",
    "diffdrive_base": "diffdrive_base",
    "create2": "diffdrive_base",  # the Create 2 is the real diffdrive_base
    "car": "car",
    "pendulum": "pendulum",
    "cartpole": "cartpole",
}

ROBOT_NAMES: tuple[str, ...] = tuple(sorted(_MODULES))


def robot_definition(name: str) -> RobotDefinition:
    if name not in _MODULES:
        raise ValueError(f"unknown robot {name!r}; known robots: {list(ROBOT_NAMES)}")
    return importlib.import_module(f"robolearn.robots.{_MODULES[name]}").DEFINITION
