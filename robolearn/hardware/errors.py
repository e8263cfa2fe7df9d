"""Errors raised by hardware access. All are `RobotError`s: whoever sees one knows the actuators were stopped
(or could not be reached), and the message says what was wrong and what to do."""

from __future__ import annotations

from robolearn.robot import RobotError


class HardwareError(RobotError):
    """Base class of every hardware-access failure."""


class PortError(HardwareError):
    """The serial port does not exist, is held by another process, or was unplugged."""


class BusError(HardwareError):
    """A device did not answer correctly within the retry budget (timeouts, corrupt replies)."""


class MotorFaultError(HardwareError):
    """A servo answered but reports a hardware fault (overload, overheating, voltage, encoder)."""

    def __init__(self, message: str, motor_id: int, flags: tuple[str, ...]) -> None:
        super().__init__(message)
        self.motor_id = motor_id
        self.flags = flags


class ModelMismatchError(HardwareError):
    """A servo's model number differs from the one the calibration was recorded with."""


class CalibrationMismatchError(HardwareError):
    """A servo's registers, read back after connect wrote them, differ from the calibration, or a reading lies
    outside what the calibration can map (homing-offset overflow, encoder out of range)."""


class FarStartError(HardwareError):
    """The first command after torque-off lies far from the measured pose and no operator confirmed the move."""


class StaleFrameError(HardwareError):
    """The newest camera frame is older than the allowed age (camera stalled or unplugged)."""
