"""Dynamixel X-series servos over Protocol 2.0, through ROBOTIS' `dynamixel_sdk`.

Register addresses and units are from the ROBOTIS e-Manual X-series control table (position mode:
0..4095 ticks per turn; velocity unit 0.229 rev/min; load as current in mA or as 0.1 % of max torque).
"""

from __future__ import annotations

from typing import Any

import dynamixel_sdk

from robolearn.hardware.errors import BusError, MotorFaultError
from robolearn.hardware.motor_bus import MotorModel, MotorState
from robolearn.hardware.sdk_bus import COMM_SUCCESS, ControlTable, Register, SdkMotorBus

_RPM_UNIT = 0.229 * 4096 / 60.0  # ticks/s per velocity unit

DYNAMIXEL_MODELS = {
    m.name: m for m in (
        MotorModel("xl330-m077", 1190, 4096, stall_torque_nm=0.215, velocity_unit=_RPM_UNIT, load_unit=1 / 1470),
        MotorModel("xl330-m288", 1200, 4096, stall_torque_nm=0.52, velocity_unit=_RPM_UNIT, load_unit=1 / 1470),
        MotorModel("xl430-w250", 1060, 4096, stall_torque_nm=1.4, velocity_unit=_RPM_UNIT, load_unit=0.001),
        MotorModel("xm430-w350", 1020, 4096, stall_torque_nm=4.1, velocity_unit=_RPM_UNIT, load_unit=2.69 / 2300),
    )
}

HARDWARE_ERROR_STATUS = Register(70, 1)
ALERT_BIT = 0x80
_HARDWARE_ERRORS = {0x01: "input voltage", 0x04: "overheating", 0x08: "motor encoder", 0x10: "electrical shock",
                    0x20: "overload"}
_INSTRUCTION_ERRORS = {1: "result fail", 2: "instruction error", 3: "CRC error", 4: "data range error",
                       5: "data length error", 6: "data limit error", 7: "access error (EEPROM written with "
                       "torque on, or a read-only register)"}


class DynamixelBus(SdkMotorBus):
    sdk = dynamixel_sdk
    status_overhead = 11  # FF FF FD 00, id, length (2), 0x55, error, CRC (2)
    models = DYNAMIXEL_MODELS
    table = ControlTable(
        torque_enable=Register(64, 1),
        goal_position=Register(116, 4),
        goal_velocity=Register(104, 4),
        min_position_limit=Register(52, 4),
        max_position_limit=Register(48, 4),
        operating_mode=Register(11, 1),
        position_mode=3,
        # present current (2), velocity (4), position (4), ..., input voltage (2), temperature (1): read each tick
        # so a stall or overheating is seen (11 more bytes per servo, ~0.1 ms at 1 Mbaud)
        state_block=Register(126, 21),
        firmware=Register(6, 1),
        present_voltage=Register(144, 2),
        present_temperature=Register(146, 1),
        # Goal PWM caps the output in every operating mode (Current Limit, 38, is EEPROM and only acts in the
        # current-based modes); 885 is the X-series PWM Limit default, 100 %.
        torque_limit=Register(100, 2),
        torque_limit_full=885,
    )

    def _sdk_port_class(self) -> type:
        return dynamixel_sdk.PortHandler

    def _make_packet_handler(self) -> Any:
        return _StuffingPacketHandler()

    def _sync_read_tx(self, start: int, length: int, ids: list[int]) -> int:
        return self._packets.syncReadTx(self._port_handler, start, length, ids, len(ids), False)

    def _decode_state(self, model: MotorModel, data: list[int]) -> MotorState:
        raw = bytes(data)
        load = int.from_bytes(raw[0:2], "little", signed=True)
        velocity = int.from_bytes(raw[2:6], "little", signed=True)
        position = int.from_bytes(raw[6:10], "little", signed=True)
        return MotorState(position=position, velocity=velocity * model.velocity_unit, load=load * model.load_unit,
                          temperature_c=float(raw[20]))

    def _decode_position(self, raw: int) -> int:
        return raw - (1 << 32) if raw & (1 << 31) else raw

    def _encode_position(self, ticks: int) -> int:
        return ticks & 0xFFFFFFFF

    def _encode_velocity(self, ticks_per_s: float) -> int:
        return round(ticks_per_s / _RPM_UNIT) & 0xFFFFFFFF

    def _fault(self, motor_id: int, error: int) -> Exception | None:
        if error & ALERT_BIT:
            flags = self._hardware_error_flags(motor_id)
            return MotorFaultError(
                f"Dynamixel servo {motor_id} on {self.port} reports a hardware error: {', '.join(flags)}. The servo "
                f"has disabled its torque; remove the cause (load, heat, supply) and reboot the servo",
                motor_id, flags)
        code = error & ~ALERT_BIT
        if code:
            return BusError(f"Dynamixel servo {motor_id} on {self.port} rejected the instruction: "
                            f"{_INSTRUCTION_ERRORS.get(code, f'error {code}')}")
        return None

    def _hardware_error_flags(self, motor_id: int) -> tuple[str, ...]:
        # Read directly: the reply carries the alert bit again, which must not recurse into _fault.
        data, result, _ = self._packets.readTxRx(self._port_handler, motor_id, HARDWARE_ERROR_STATUS.address, 1)
        if result != COMM_SUCCESS or not data:
            return ("unknown (hardware error status unreadable)",)
        flags = tuple(name for bit, name in _HARDWARE_ERRORS.items() if data[0] & bit)
        return flags or ("unknown",)


class _StuffingPacketHandler(dynamixel_sdk.Protocol2PacketHandler):
    """Protocol 2.0 with byte stuffing that reaches the wire.

    dynamixel-sdk 4.1's `addStuffing` builds a longer list when a parameter holds FF FF FD but `txPacket`
    ignores its return value, so such a packet goes out unstuffed (a servo may take it for a new header).
    Stuffing in place makes the caller's packet the stuffed one.
    """

    def addStuffing(self, packet: list[int]) -> list[int]:
        stuffed = super().addStuffing(packet)
        packet[:] = stuffed
        return packet
