"""PyBullet robots behind the same Robot interface as the hardware: arm, diff-drive base, car, pendulum,
cart-pole; with domain randomisation, action latency, observation noise and rendered cameras."""

from robolearn_sim.base import SimRobot
from robolearn_sim.config import CameraConfig, SimConfig
from robolearn_sim.factory import ROBOTS, make_robot, robot_class

__all__ = ["ROBOTS", "CameraConfig", "SimConfig", "SimRobot", "make_robot", "robot_class"]
