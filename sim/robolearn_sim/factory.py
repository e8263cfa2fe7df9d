"""`make_robot(name, **kwargs)`: build any simulated robot by name."""

from __future__ import annotations

import dataclasses
import importlib
import os
from typing import Any

from robolearn_sim.base import SimRobot
from robolearn_sim.config import CameraConfig, SimConfig
from robolearn_sim.perturbation import load_perturbation

# name -> "module:Class"; imported on demand so building one robot never loads the others' code.
ROBOTS: dict[str, str] = {
    "so101_arm": "robolearn_sim.arm:SO101ArmRobot",
    "diffdrive_base": "robolearn_sim.diffdrive:DiffDriveRobot",
    "car": "robolearn_sim.car:CarRobot",
    "pendulum": "robolearn_sim.classic:PendulumRobot",
    "cartpole": "robolearn_sim.classic:CartPoleRobot",
}


def robot_class(name: str) -> type[SimRobot]:
    if name not in ROBOTS:
        raise ValueError(f"unknown sim robot {name!r}; known robots: {sorted(ROBOTS)}")
    module, cls = ROBOTS[name].split(":")
    return getattr(importlib.import_module(module), cls)


def make_robot(name: str, *, config: SimConfig | None = None, image: bool | CameraConfig = False,
               limits_path: str | os.PathLike | None = None, **kwargs: Any) -> SimRobot:
    """Build the sim robot `name` (not yet connected).

    Keyword arguments that are `SimConfig` fields (seed, physics_hz, perturbation) override `config`;
    `perturbation` may also be a preset name of this robot, a YAML file or a dict (`load_perturbation`);
    `image=True` attaches the robot's default camera (or pass a CameraConfig); any other
    keyword goes to the robot's constructor (e.g. `walls=` for the diff-drive base, `actuator=` for the
    opt-in actuator models of the arm and the diff-drive base).
    """
    cls = robot_class(name)
    config_fields = {k: kwargs.pop(k) for k in list(kwargs) if k in SimConfig.field_names()}
    if "perturbation" in config_fields:
        config_fields["perturbation"] = load_perturbation(config_fields["perturbation"], name)
    config = dataclasses.replace(config or SimConfig(), **config_fields)
    if image:
        config = dataclasses.replace(config, camera=image if isinstance(image, CameraConfig) else CameraConfig())
    try:
        return cls(config=config, limits_path=limits_path, **kwargs)
    except TypeError as exc:
        if "unexpected keyword" not in str(exc):
            raise
        raise TypeError(f"{name}: {exc}; SimConfig options are {list(SimConfig.field_names())}") from None
