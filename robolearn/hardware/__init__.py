"""ROS-free hardware access: servo buses, the Create 2 base, cameras, and the Robot implementations on them.

Import what you need from the submodules; `make_hardware_robot` builds a robot from a model name, a port
and a calibration file (the ROS driver node's only entry point).
"""

from robolearn.hardware.errors import (
    BusError, HardwareError, ModelMismatchError, MotorFaultError, PortError, StaleFrameError,
)
from robolearn.hardware.factory import make_hardware_robot

__all__ = [
    "BusError", "HardwareError", "ModelMismatchError", "MotorFaultError", "PortError", "StaleFrameError",
    "make_hardware_robot",
]
