"""Feetech STS/SMS servos (the SO-100/SO-101 arms' STS3215), through Feetech's `scservo_sdk`.

Register addresses are from the Feetech STS memory table: positions 0..4095 ticks per turn, velocities in
ticks/s with the sign in bit 15, load in 0.1 % of max torque with the sign in bit 10. EEPROM registers
(the position limits) are write-protected by the Lock register, which is opened for the write only.
"""

from __future__ import annotations

from typing import Any

import scservo_sdk

from robolearn.hardware.errors import MotorFaultError
from robolearn.hardware.motor_bus import MotorModel, MotorState
from robolearn.hardware.sdk_bus import ControlTable, Register, SdkMotorBus

FEETECH_MODELS = {
    m.name: m for m in (
        MotorModel("sts3215", 777, 4096, stall_torque_nm=1.91, velocity_unit=1.0, load_unit=0.001),
        MotorModel("sts3250", 2825, 4096, stall_torque_nm=4.9, velocity_unit=1.0, load_unit=0.001),
    )
}

LOCK = Register(55, 1)
_STATUS_ERRORS = {0x01: "input voltage", 0x02: "angle sensor", 0x04: "overheating", 0x08: "overcurrent",
                  0x20: "overload"}
_STS_LITTLE_ENDIAN = 0  # the SDK's "protocol_end" for STS/SMS; SCS servos are big-endian (1)


class FeetechBus(SdkMotorBus):
    sdk = scservo_sdk
    status_overhead = 6  # FF FF, id, length, error, checksum
    models = FEETECH_MODELS
    table = ControlTable(
        torque_enable=Register(40, 1),
        goal_position=Register(42, 2),
        goal_velocity=Register(46, 2),
        min_position_limit=Register(9, 2),
        max_position_limit=Register(11, 2),
        operating_mode=Register(33, 1),
        position_mode=0,
        state_block=Register(56, 8),  # present position (2), velocity (2), load (2), voltage (1), temperature (1)
        firmware=Register(0, 1),  # firmware major version
        present_voltage=Register(62, 1),
        present_temperature=Register(63, 1),
        torque_limit=Register(48, 2),  # Torque Limit, 0.1 % of max torque; loaded from Max Torque (16) at power-on
        torque_limit_full=1000,
    )

    def _sdk_port_class(self) -> type:
        return scservo_sdk.PortHandler

    def _make_packet_handler(self) -> Any:
        return scservo_sdk.PacketHandler(_STS_LITTLE_ENDIAN)

    def _sync_read_tx(self, start: int, length: int, ids: list[int]) -> int:
        return self._packets.syncReadTx(self._port_handler, start, length, ids, len(ids))

    def _decode_state(self, model: MotorModel, data: list[int]) -> MotorState:
        position = data[0] | data[1] << 8
        velocity = _from_sign_magnitude(data[2] | data[3] << 8, 15)
        load = _from_sign_magnitude(data[4] | data[5] << 8, 10)
        return MotorState(position=position, velocity=velocity * model.velocity_unit, load=load * model.load_unit,
                          temperature_c=float(data[7]))

    def _encode_position(self, ticks: int) -> int:
        if not 0 <= ticks <= 4095:
            raise ValueError(f"Feetech position {ticks} is outside 0..4095 ticks")
        return ticks

    def _encode_velocity(self, ticks_per_s: float) -> int:
        return _to_sign_magnitude(round(ticks_per_s), 15)

    def _write_eeprom(self, motor_id: int, writes: list[tuple[Register, int]]) -> None:
        self._write(motor_id, LOCK, 0)
        try:
            for register, value in writes:
                self._write(motor_id, register, value)
        finally:
            self._write(motor_id, LOCK, 1)

    def _fault(self, motor_id: int, error: int) -> Exception | None:
        if not error:
            return None
        flags = tuple(name for bit, name in _STATUS_ERRORS.items() if error & bit) or (f"error bits {error:#04x}",)
        return MotorFaultError(
            f"Feetech servo {motor_id} on {self.port} reports: {', '.join(flags)}. Remove the cause (load, heat, "
            f"supply voltage) before enabling torque again", motor_id, flags)


def _from_sign_magnitude(raw: int, sign_bit: int) -> int:
    magnitude = raw & ((1 << sign_bit) - 1)
    return -magnitude if raw & (1 << sign_bit) else magnitude


def _to_sign_magnitude(value: int, sign_bit: int) -> int:
    limit = (1 << sign_bit) - 1
    if abs(value) > limit:
        raise ValueError(f"{value} does not fit a sign-magnitude field of {sign_bit} bits")
    return (abs(value) | (1 << sign_bit)) if value < 0 else value
