"""Which arm a calibration belongs to: servo ids, model numbers and firmware versions as the servos report
them, and the USB adapter's serial number (servo control tables hold no serial number; see
`robolearn.calibration.motors`). Read when a calibration is recorded, compared at every connect."""

from __future__ import annotations

import logging
from typing import Sequence

from robolearn.calibration.motors import BusIdentity, MotorCalibration, ServoIdentity
from robolearn.hardware.errors import CalibrationMismatchError
from robolearn.hardware.motor_bus import MotorBus
from robolearn.hardware.serial_port import adapter_serial

log = logging.getLogger(__name__)

RECALIBRATE = "re-run `robolearn calibrate motors` for this arm"


def read_identity(bus: MotorBus, motor_ids: Sequence[int]) -> BusIdentity:
    """Ask every servo for its model and firmware (no write) and look up the adapter's serial number."""
    servos = []
    for motor_id in motor_ids:
        health = bus.read_health(motor_id)
        servos.append(ServoIdentity(motor_id, health.model_number, health.firmware))
    return BusIdentity(adapter_serial(bus.port), tuple(servos))


def identity_problems(recorded: BusIdentity, found: BusIdentity, motors: Sequence[MotorCalibration],
                      port: str) -> list[str]:
    """What differs from the arm a calibration was recorded on (adapter serial; each servo's model and firmware),
    each naming the servo, what changed and what to do. Servos missing from `found` are not judged here."""
    problems = []
    if recorded.adapter_serial and found.adapter_serial and recorded.adapter_serial != found.adapter_serial:
        problems.append(
            f"this calibration was recorded on the arm whose USB adapter has serial {recorded.adapter_serial}, but "
            f"the adapter on {port} has serial {found.adapter_serial}: it is another arm (or the adapter was "
            f"swapped). Pass this arm's calibration file, or {RECALIBRATE}")
    for motor in motors:
        before, now = recorded.servo(motor.id), found.servo(motor.id)
        if before is None or now is None:
            continue
        changed = [f"{what} {old} at calibration, {new} now" for what, old, new in (
            ("model number", before.model_number, now.model_number), ("firmware", before.firmware, now.firmware))
            if old != new]
        if changed:
            problems.append(
                f"{motor.name} (servo {motor.id}) is not the servo this calibration was recorded with: "
                f"{'; '.join(changed)}. A replaced servo's horn sits at another encoder angle, so its offset and "
                f"range no longer hold: {RECALIBRATE}")
    return problems


def check_identity(recorded: BusIdentity, found: BusIdentity, motors: Sequence[MotorCalibration],
                   port: str) -> None:
    """Refuse a calibration recorded on another arm or before a servo was replaced (torque is still off)."""
    if recorded.adapter_serial and not found.adapter_serial:
        log.warning("%s reports no USB serial number: cannot confirm this is the arm the calibration was recorded "
                    "on (adapter %s)", port, recorded.adapter_serial)
    problems = identity_problems(recorded, found, motors, port)
    if problems:
        raise CalibrationMismatchError(f"{problems[0]} (torque stays off)")
