"""Humans in the loop: teleop devices and the sources that mix a human with a policy.

Every device produces an action in the task's policy space ([-1, 1]^n); it reaches the robot through
`RobotEnv.step` -> `Robot.send_action`, so the same SafetyController filters it as a policy's action.
"""

from robolearn.teleop.base import DeviceUnplugged, TeleopDevice, TeleopReading
from robolearn.teleop.sources import SimulatedHuman, TakeoverSource, TeleopSource

__all__ = ["DeviceUnplugged", "SimulatedHuman", "TakeoverSource", "TeleopDevice", "TeleopReading", "TeleopSource"]
