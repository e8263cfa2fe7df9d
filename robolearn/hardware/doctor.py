"""Hardware check: compare the servos answering on a bus with an arm's calibration, without moving anything.

`diagnose` only pings and reads (model, firmware, voltage, temperature, fault flags); it never writes a
register, so it is safe on an arm that is powered and holding a pose.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from robolearn.calibration.motors import ArmCalibration, BusIdentity, ServoIdentity
from robolearn.hardware.errors import BusError
from robolearn.hardware.identity import identity_problems
from robolearn.hardware.motor_bus import MotorBus, ServoHealth
from robolearn.hardware.serial_port import adapter_serial

HOT_C = 60.0  # below the servos' own shutdown limits (70-80 C on XL330/STS3215): time to let them cool


@dataclass
class Diagnosis:
    lines: list[str] = field(default_factory=list)  # one line per servo, as found
    problems: list[str] = field(default_factory=list)  # what is wrong and what to do

    @property
    def ok(self) -> bool:
        return not self.problems

    def report(self) -> str:
        verdict = ["all servos match the calibration"] if self.ok else [f"problem: {p}" for p in self.problems]
        return "\n".join(self.lines + verdict)


def diagnose(bus: MotorBus, calibration: ArmCalibration, hot_c: float = HOT_C) -> Diagnosis:
    """Every calibrated servo: present, the calibrated model, no fault, not hot, the servo (model, firmware) and
    adapter the calibration was recorded with. `bus` must be open."""
    result = Diagnosis()
    known = {m.number: m.name for m in bus.models.values()}
    found: list[ServoIdentity] = []
    for motor in calibration.motors:
        where = f"{motor.name} (id {motor.id})"
        try:
            health: ServoHealth = bus.read_health(motor.id)
        except BusError as exc:
            result.lines.append(f"{where}: no answer")
            result.problems.append(
                f"{where} does not answer ({exc}). Check its cable and power; if the servo was replaced, set its "
                f"id to {motor.id} and baud rate to {bus.baudrate}")
            continue
        found.append(ServoIdentity(motor.id, health.model_number, health.firmware))
        model = known.get(health.model_number, f"unknown model {health.model_number}")
        result.lines.append(
            f"{where}: {model}, firmware {health.firmware}, {health.voltage_v:.1f} V, {health.temperature_c:.0f} C, "
            f"faults: {', '.join(health.faults) or 'none'}")
        if model != motor.model:
            result.problems.append(
                f"{where} is a {model} but the calibration says {motor.model}: fit the right servo, or re-run "
                f"`robolearn calibrate motors` if the change is intended")
        if health.faults:
            result.problems.append(
                f"{where} reports {', '.join(health.faults)}: remove the cause (load, heat, supply), then power-cycle "
                f"or reboot the servo")
        if health.temperature_c >= hot_c:
            result.problems.append(
                f"{where} is at {health.temperature_c:.0f} C (warning from {hot_c:.0f} C): let it cool and reduce "
                f"the load or duty cycle before running")
    if calibration.identity is not None:  # what changed since the calibration was recorded
        now = BusIdentity(adapter_serial(bus.port), tuple(found))
        result.problems.extend(identity_problems(calibration.identity, now, calibration.motors, bus.port))
    return result
