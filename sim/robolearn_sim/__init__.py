"""PyBullet robots behind the same Robot interface as the hardware: arm, diff-drive base, car, pendulum,
cart-pole; with a public perturbation API (dynamics, latency, sensor errors), named presets and rendered
cameras."""

from robolearn_sim.base import SimRobot
from robolearn_sim.config import CameraConfig, SimConfig
from robolearn_sim.factory import ROBOTS, make_robot, robot_class
from robolearn_sim.perturbation import (Perturbation, PerturbationLayout, PerturbationRanges, load_perturbation,
                                        presets, save_perturbation)

__all__ = ["ROBOTS", "CameraConfig", "Perturbation", "PerturbationLayout", "PerturbationRanges", "SimConfig",
           "SimRobot", "load_perturbation", "make_robot", "presets", "robot_class", "save_perturbation"]
