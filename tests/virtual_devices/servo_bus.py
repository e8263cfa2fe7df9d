"""Virtual serial servo buses: Dynamixel Protocol 2.0 (CRC-16, byte stuffing, status error byte with the
alert bit) and Feetech STS (one-byte checksum, error bits), with faults a test can inject.

Each servo is a 256-byte control table. A servo with torque on moves to its goal at once. The Dynamixel
bus refuses a goal past the position limits with Data Limit error (X-series firmware; in a sync write the old
goal is silently kept); the Feetech servo keeps the goal it was sent but steers to the nearest limit (see
`VirtualFeetechBus`); with torque off a test sets `position` as if a hand moved it. Written from the vendors'
protocol documentation; checksums are computed here independently of the SDKs.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

from virtual_devices.pty_device import PtyDevice


@dataclass
class RegisterMap:
    model: int
    torque: int
    goal_position: tuple[int, int]
    goal_velocity: tuple[int, int]
    min_limit: tuple[int, int]
    max_limit: tuple[int, int]
    position: tuple[int, int]
    velocity: tuple[int, int]
    load: tuple[int, int]
    operating_mode: int
    position_mode: int
    eeprom_end: int  # registers below this are EEPROM
    torque_limit: tuple[int, int]  # a RAM register capping the output (Dynamixel Goal PWM, STS Torque Limit)
    torque_limit_full: int  # its value at full output
    goal_enables_torque: bool = False  # a goal written with torque off switches torque on (STS firmware)


DYNAMIXEL_X = RegisterMap(model=0, torque=64, goal_position=(116, 4), goal_velocity=(104, 4), min_limit=(52, 4),
                          max_limit=(48, 4), position=(132, 4), velocity=(128, 4), load=(126, 2), operating_mode=11,
                          position_mode=3, eeprom_end=64, torque_limit=(100, 2), torque_limit_full=885)
FEETECH_STS = RegisterMap(model=3, torque=40, goal_position=(42, 2), goal_velocity=(46, 2), min_limit=(9, 2),
                          max_limit=(11, 2), position=(56, 2), velocity=(58, 2), load=(60, 2), operating_mode=33,
                          position_mode=0, eeprom_end=40, torque_limit=(48, 2), torque_limit_full=1000,
                          goal_enables_torque=True)


@dataclass
class VirtualServo:
    regs: RegisterMap
    model_number: int
    table: bytearray = field(default_factory=lambda: bytearray(256))
    error: int = 0  # status error byte bits (Feetech) / hardware error status (Dynamixel)
    position_writes: int = 0
    goals_at_torque_on: list = field(default_factory=list)  # (goal, position) each time torque came on
    stuck_addresses: set = field(default_factory=set)  # bytes a write acknowledges but never changes (worn EEPROM)
    hard_stop: tuple[int, int] | None = None  # mechanical stops: pushing past one stalls the servo
    stall_load_raw: int = 1000  # what the load register reads while stalled (0.68 of stall on XL330, 100 % on STS)

    def __post_init__(self) -> None:
        self.table[self.regs.model: self.regs.model + 2] = self.model_number.to_bytes(2, "little")
        self.set(self.regs.min_limit, 0)
        self.set(self.regs.max_limit, 4095)
        self.table[self.regs.operating_mode] = self.regs.position_mode
        self.set(self.regs.torque_limit, self.regs.torque_limit_full)
        self.position = 2048

    def get(self, reg: tuple[int, int], signed: bool = False) -> int:
        return int.from_bytes(self.table[reg[0]: reg[0] + reg[1]], "little", signed=signed)

    def set(self, reg: tuple[int, int], value: int) -> None:
        self.table[reg[0]: reg[0] + reg[1]] = (value & ((1 << 8 * reg[1]) - 1)).to_bytes(reg[1], "little")

    @property
    def torque(self) -> bool:
        return bool(self.table[self.regs.torque])

    @property
    def position(self) -> int:
        return self.get(self.regs.position)

    @position.setter
    def position(self, ticks: int) -> None:
        self.set(self.regs.position, ticks)

    @property
    def limits(self) -> tuple[int, int]:
        return self.get(self.regs.min_limit), self.get(self.regs.max_limit)

    def write(self, address: int, data: bytes) -> None:
        torque_was_on = self.torque
        for offset, byte in enumerate(data):
            if address + offset not in self.stuck_addresses:
                self.table[address + offset] = byte
        if address <= self.regs.goal_position[0] < address + len(data):
            self.position_writes += 1
            if self.regs.goal_enables_torque and not self.error:
                self.table[self.regs.torque] = 1
        if self.torque and not torque_was_on:
            self.goals_at_torque_on.append((self.get(self.regs.goal_position, signed=True), self.position))
        self.step()

    def step(self) -> None:
        if self.error:
            self.table[self.regs.torque] = 0  # a servo in a hardware-error state keeps its torque off
        if self.torque and self.table[self.regs.operating_mode] == self.regs.position_mode:
            low, high = self.limits
            goal = min(max(self.get(self.regs.goal_position), low), high)
            if self.hard_stop is not None:
                stopped = min(max(goal, self.hard_stop[0]), self.hard_stop[1])
                # pushing on a stop draws what the output cap allows
                cap = self.regs.torque_limit_full
                output = min(self.get(self.regs.torque_limit), cap) / cap
                self.set(self.regs.load, round(self.stall_load_raw * output) if stopped != goal else 0)
                goal = stopped
            self.position = goal


class VirtualServoBus(PtyDevice):
    """Common fault injection and dispatch; subclasses frame packets."""

    def __init__(self, servos: dict[int, VirtualServo]) -> None:
        super().__init__()
        self.servos = servos
        self._buffer = bytearray()
        self.drop_replies = 0  # the next N replies are not sent
        self.drop_instructions = 0  # the next N instruction packets are lost on the wire
        self.corrupt_replies = 0  # the next N replies carry a wrong checksum
        self.replies_sent = 0
        # Seconds between consecutive replies. A real servo answers after its return delay time, and in a sync
        # read each servo waits for the one before it, so the last replies of a sync read arrive late.
        self.reply_gap_s = 0.0
        # Random faults per reply (a noisy cable), seeded so runs compare: probability of drop / of corruption.
        self.drop_probability = 0.0
        self.corrupt_probability = 0.0
        self.rng = random.Random(0)
        # Every reply replaced by as many random bytes, never a header (a wrong baud rate, a ground loop): the
        # servos still act on what they receive, only their answers are unreadable.
        self.garbage_replies = False
        self._pending: list[tuple[float, bytes]] = []  # (due time, frame)

    def tick(self, now: float) -> None:
        while self._pending and self._pending[0][0] <= now:
            self.send(self._pending.pop(0)[1])

    def on_bytes(self, data: bytes) -> None:
        self._buffer.extend(data)
        while True:
            packet = self._take_packet()
            if packet is None:
                return
            if self.drop_instructions > 0:
                self.drop_instructions -= 1
                continue
            self._dispatch(*packet)

    def reply(self, servo_id: int, error: int, params: bytes = b"") -> None:
        if self.drop_replies > 0 or (self.drop_probability and self.rng.random() < self.drop_probability):
            self.drop_replies = max(0, self.drop_replies - 1)
            return
        frame = bytearray(self._frame_status(servo_id, error, params))
        if self.garbage_replies:
            frame = bytearray(self.rng.randrange(0, 0xFF) for _ in frame)
        if self.corrupt_replies > 0 or (self.corrupt_probability and self.rng.random() < self.corrupt_probability):
            self.corrupt_replies = max(0, self.corrupt_replies - 1)
            frame[-1] ^= 0x5A
        self.replies_sent += 1
        if self.reply_gap_s <= 0:
            self.send(bytes(frame))
            return
        after = self._pending[-1][0] if self._pending else time.monotonic()
        self._pending.append((after + self.reply_gap_s, bytes(frame)))

    def _dispatch(self, servo_id: int, instruction: int, params: bytes) -> None:
        raise NotImplementedError

    def _take_packet(self) -> tuple[int, int, bytes] | None:
        raise NotImplementedError

    def _frame_status(self, servo_id: int, error: int, params: bytes) -> bytes:
        raise NotImplementedError


# --------------------------------------------------------------------------------------- Dynamixel
def dynamixel_crc(data: bytes) -> int:
    """CRC-16 with polynomial 0x8005, initial value 0, no reflection (Protocol 2.0)."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8005) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def stuff(payload: bytes) -> bytes:
    """Insert 0xFD after every FF FF FD inside a packet so it cannot be taken for a header."""
    out = bytearray()
    for byte in payload:
        out.append(byte)
        if len(out) >= 3 and out[-3:] == b"\xff\xff\xfd":
            out.append(0xFD)
    return bytes(out)


def unstuff(payload: bytes) -> bytes:
    out = bytearray()
    i = 0
    while i < len(payload):
        out.append(payload[i])
        if len(out) >= 3 and out[-3:] == b"\xff\xff\xfd" and i + 1 < len(payload) and payload[i + 1] == 0xFD:
            i += 1
        i += 1
    return bytes(out)


# Protocol 2.0 status error numbers (e-Manual, protocol2 "Error" field); bit 7 is the hardware Alert.
RESULT_FAIL, INSTRUCTION_ERROR, CRC_ERROR, DATA_RANGE_ERROR, DATA_LENGTH_ERROR, DATA_LIMIT_ERROR, ACCESS_ERROR = \
    range(1, 8)
ALERT = 0x80
BROADCAST_ID = 0xFE
# X-series read-only items: model number/info and firmware (0-6), hardware error status (70), and the present
# values from Moving (122) to Present Temperature (146).
X_READ_ONLY = set(range(0, 7)) | {70} | set(range(122, 147))
X_FIRMWARE = 0x2D
X_PRESENT_VOLTAGE = (144, 2)  # 0.1 V
X_PRESENT_TEMPERATURE = (146, 1)  # degrees C


class VirtualDynamixelBus(VirtualServoBus):
    """X-series servos behind Protocol 2.0, answering every instruction as the firmware does, errors included."""

    HEADER = b"\xff\xff\xfd\x00"

    def __init__(self, models: dict[int, int]) -> None:
        super().__init__({i: VirtualServo(DYNAMIXEL_X, m) for i, m in models.items()})
        self.crc_errors = 0
        for servo in self.servos.values():
            servo.set(X_PRESENT_VOLTAGE, 50)
            servo.set(X_PRESENT_TEMPERATURE, 30)
            servo.table[6] = X_FIRMWARE

    def _take_packet(self) -> tuple[int, int, bytes] | None:
        buf = self._buffer
        while True:
            start = buf.find(self.HEADER)
            if start < 0:
                del buf[: max(0, len(buf) - 3)]
                return None
            del buf[:start]
            if len(buf) < 7:
                return None
            length = buf[5] | buf[6] << 8
            if len(buf) < 7 + length:
                return None
            packet = bytes(buf[: 7 + length])
            del buf[: 7 + length]
            if dynamixel_crc(packet[:-2]) != (packet[-2] | packet[-1] << 8):
                self.crc_errors += 1
                # The addressed servo answers a damaged instruction with a CRC error (a broadcast gets none).
                servo = self.servos.get(packet[4])
                if servo is not None:
                    self.reply(packet[4], self._status_error(servo) | CRC_ERROR)
                continue
            body = unstuff(packet[7:-2])
            return packet[4], body[0], body[1:]

    def _frame_status(self, servo_id: int, error: int, params: bytes) -> bytes:
        body = stuff(bytes([0x55, error]) + params)
        head = self.HEADER + bytes([servo_id]) + (len(body) + 2).to_bytes(2, "little")
        crc = dynamixel_crc(head + body)
        return head + body + crc.to_bytes(2, "little")

    def _status_error(self, servo: VirtualServo) -> int:
        return ALERT if servo.error else 0

    def _write_error(self, servo: VirtualServo, address: int, data: bytes) -> int:
        """The error a write of `data` at `address` gets, 0 if the firmware accepts it."""
        if any(a in X_READ_ONLY for a in range(address, address + len(data))):
            return ACCESS_ERROR
        if address < DYNAMIXEL_X.eeprom_end and servo.torque:
            return ACCESS_ERROR  # EEPROM is locked while torque is on
        goal_address, goal_size = DYNAMIXEL_X.goal_position
        if address <= goal_address and goal_address + goal_size <= address + len(data):
            offset = goal_address - address
            goal = int.from_bytes(data[offset: offset + goal_size], "little", signed=True)
            low, high = servo.limits
            if servo.table[DYNAMIXEL_X.operating_mode] == DYNAMIXEL_X.position_mode and not low <= goal <= high:
                return DATA_LIMIT_ERROR  # beyond Min/Max Position Limit: the old goal is kept
        return 0

    def _read_block(self, servo: VirtualServo, address: int, length: int) -> bytes:
        servo.table[70] = servo.error
        return bytes(servo.table[address: address + length])

    def _dispatch(self, servo_id: int, instruction: int, params: bytes) -> None:
        if instruction == 0x82:  # sync read: each listed servo answers in turn
            address, length = params[0] | params[1] << 8, params[2] | params[3] << 8
            for target in params[4:]:
                servo = self.servos.get(target)
                if servo is not None:
                    self.reply(target, self._status_error(servo), self._read_block(servo, address, length))
            return
        if instruction == 0x92:  # bulk read: (id, address, length) per servo, answered in that order
            for i in range(0, len(params) - 4, 5):
                target = params[i]
                address, length = params[i + 1] | params[i + 2] << 8, params[i + 3] | params[i + 4] << 8
                servo = self.servos.get(target)
                if servo is not None:
                    self.reply(target, self._status_error(servo), self._read_block(servo, address, length))
            return
        if instruction == 0x83:  # sync write: no reply; a rejected value is silently not applied
            address, length = params[0] | params[1] << 8, params[2] | params[3] << 8
            chunks = params[4:]
            for i in range(0, len(chunks), length + 1):
                self._silent_write(chunks[i], address, chunks[i + 1: i + 1 + length])
            return
        if instruction == 0x93:  # bulk write: (id, address, length, data) per servo, no reply
            i = 0
            while i + 5 <= len(params):
                address, length = params[i + 1] | params[i + 2] << 8, params[i + 3] | params[i + 4] << 8
                self._silent_write(params[i], address, params[i + 5: i + 5 + length])
                i += 5 + length
            return
        if servo_id == BROADCAST_ID:  # every servo acts; only a ping is answered (lowest id first)
            for target in sorted(self.servos):
                self._answer(target, self.servos[target], instruction, params, broadcast=True)
            return
        servo = self.servos.get(servo_id)
        if servo is not None:  # nobody with this id on the bus: silence
            self._answer(servo_id, servo, instruction, params, broadcast=False)

    def _silent_write(self, servo_id: int, address: int, data: bytes) -> None:
        servo = self.servos.get(servo_id)
        if servo is not None and self._write_error(servo, address, data) == 0:
            servo.write(address, data)

    def _answer(self, servo_id: int, servo: VirtualServo, instruction: int, params: bytes,
                broadcast: bool) -> None:
        status = self._status_error(servo)
        reply = (lambda error, data=b"": self.reply(servo_id, error, data)) if not broadcast or instruction == 0x01 \
            else (lambda error, data=b"": None)
        if instruction == 0x01:  # ping: model number and firmware version
            reply(status, servo.model_number.to_bytes(2, "little") + bytes([X_FIRMWARE]))
        elif instruction == 0x02:  # read
            if len(params) != 4:
                reply(status | DATA_LENGTH_ERROR)
                return
            address, length = params[0] | params[1] << 8, params[2] | params[3] << 8
            reply(status, self._read_block(servo, address, length))
        elif instruction == 0x03:  # write
            if len(params) < 3:
                reply(status | DATA_LENGTH_ERROR)
                return
            address, data = params[0] | params[1] << 8, params[2:]
            error = self._write_error(servo, address, data)
            if error == 0:
                servo.write(address, data)
            reply(status | error)
        elif instruction == 0x08:  # reboot: the only way out of a hardware-error shutdown; torque comes up off
            reply(status)
            servo.error = 0
            servo.table[DYNAMIXEL_X.torque] = 0
        elif instruction == 0x06:  # factory reset: refused while torque is on (it rewrites EEPROM)
            if servo.torque:
                reply(status | ACCESS_ERROR)
                return
            reply(status)
            servo.set(DYNAMIXEL_X.min_limit, 0)
            servo.set(DYNAMIXEL_X.max_limit, 4095)
            servo.table[DYNAMIXEL_X.operating_mode] = DYNAMIXEL_X.position_mode
        else:
            reply(status | INSTRUCTION_ERROR)


# ----------------------------------------------------------------------------------------- Feetech
def feetech_checksum(body: bytes) -> int:
    return ~sum(body) & 0xFF


# STS/SMS memory table (Feetech, as documented in the FTServo SDK headers `SMS_STS.h` and the STS memory-table
# sheet): 0-4 firmware and model version bytes (read-only), 5-39 EEPROM, 40-55 RAM the host writes, 56-70 present
# values and the status byte (read-only), 80-86 factory parameters (read-only).
STS_READ_ONLY = set(range(0, 5)) | set(range(56, 71)) | set(range(80, 87))
STS_RESPONSE_LEVEL = 8  # 0: only read and ping are answered; 1 (default): every instruction addressed to one servo
STS_MAX_TORQUE = (16, 2)  # EEPROM default loaded into Torque Limit (48) at power-on
STS_LOCK = 55  # 1 (default): EEPROM writes act but are not saved; 0: they are saved
STS_STATUS = 65  # mirrors the status byte's error bits
STS_FIRMWARE = 3  # firmware major version (address 0)
STS_BROADCAST_ID = 0xFE


class VirtualFeetechBus(VirtualServoBus):
    """STS3215-class servos behind Feetech's protocol ("protocol 0" in `scservo_sdk`), as the firmware answers.

    Facts (sources: FTServo/SCServo SDK `protocol_packet_handler` and `SMS_STS` memory table; lerobot issue
    huggingface/lerobot#3585 and PR #3615 for the limit behaviour measured on STS3215):
    - The status byte carries hardware bits only (1 voltage, 2 angle sensor, 4 overheating, 8 overcurrent,
      32 overload); there is no instruction, checksum, range or access bit as in Dynamixel Protocol 2.0. So a
      damaged instruction and an unknown instruction get no answer at all (the host sees a timeout), and a write
      to a read-only register is acknowledged with a clean status but changes nothing.
    - A goal past Min/Max Angle Limit is accepted and kept in the Goal Position register; the servo steers to
      the nearest limit. A goal written with torque off switches torque on.
    - EEPROM (5-39) writes act at once; with Lock (55) = 1 ("do not save" in the memory table) they are not
      saved, so a power cycle (`power_cycle()`) brings the saved values back. No torque-on restriction is
      documented (unlike X-series' Access error), so none is modelled.
    - The broadcast id 0xFE acts on every servo and only a ping is answered (one reply per servo; lerobot's
      broadcast ping relies on it). Reg write (4) holds a write until Action (5).
    """

    def __init__(self, models: dict[int, int]) -> None:
        super().__init__({i: VirtualServo(FEETECH_STS, m) for i, m in models.items()})
        for servo in self.servos.values():
            servo.table[STS_LOCK] = 1  # EEPROM locked, as shipped
            servo.table[0] = STS_FIRMWARE
            servo.table[STS_RESPONSE_LEVEL] = 1
            servo.set(STS_MAX_TORQUE, FEETECH_STS.torque_limit_full)
            servo.table[62] = 74  # 7.4 V supply, in 0.1 V
            servo.table[63] = 30  # degrees C
        self.saved_eeprom = {i: bytes(s.table[:FEETECH_STS.eeprom_end]) for i, s in self.servos.items()}
        self._registered: dict[int, tuple[int, bytes]] = {}
        self.checksum_errors = 0
        self.unknown_instructions = 0
        self.unlocked_eeprom_writes = 0

    def power_cycle(self) -> None:
        """Power off and on: unsaved EEPROM writes are lost, RAM comes up with torque off and EEPROM locked."""
        for servo_id, servo in self.servos.items():
            servo.table[:FEETECH_STS.eeprom_end] = self.saved_eeprom[servo_id]
            servo.table[FEETECH_STS.torque] = 0
            servo.table[STS_LOCK] = 1
            servo.set(FEETECH_STS.torque_limit, servo.get(STS_MAX_TORQUE))
        self._registered.clear()

    def _take_packet(self) -> tuple[int, int, bytes] | None:
        buf = self._buffer
        while True:
            start = buf.find(b"\xff\xff")
            if start < 0:
                del buf[: max(0, len(buf) - 1)]
                return None
            del buf[:start]
            if len(buf) < 4:
                return None
            length = buf[3]
            if len(buf) < 4 + length:
                return None
            packet = bytes(buf[: 4 + length])
            del buf[: 4 + length]
            if feetech_checksum(packet[2:-1]) != packet[-1]:
                self.checksum_errors += 1  # no error bit exists for it: the servo stays silent
                continue
            return packet[2], packet[4], packet[5:-1]

    def _frame_status(self, servo_id: int, error: int, params: bytes) -> bytes:
        body = bytes([servo_id, len(params) + 2, error]) + params
        return b"\xff\xff" + body + bytes([feetech_checksum(body)])

    def _read_block(self, servo: VirtualServo, address: int, length: int) -> bytes:
        servo.table[STS_STATUS] = servo.error
        return bytes(servo.table[address: address + length])

    def _write(self, servo_id: int, servo: VirtualServo, address: int, data: bytes) -> None:
        writable = bytearray(servo.table[address: address + len(data)])
        for offset, byte in enumerate(data):
            if address + offset not in STS_READ_ONLY:
                writable[offset] = byte
        servo.write(address, bytes(writable))
        if address < FEETECH_STS.eeprom_end and servo.table[STS_LOCK] == 0:
            self.unlocked_eeprom_writes += 1
            self.saved_eeprom[servo_id] = bytes(servo.table[:FEETECH_STS.eeprom_end])

    def _dispatch(self, servo_id: int, instruction: int, params: bytes) -> None:
        if instruction == 0x82:  # sync read: each listed servo answers in turn
            address, length = params[0], params[1]
            for target in params[2:]:
                servo = self.servos.get(target)
                if servo is not None:
                    self.reply(target, servo.error, self._read_block(servo, address, length))
            return
        if instruction == 0x83:  # sync write: no reply
            address, length = params[0], params[1]
            chunks = params[2:]
            for i in range(0, len(chunks), length + 1):
                servo = self.servos.get(chunks[i])
                if servo is not None:
                    self._write(chunks[i], servo, address, chunks[i + 1: i + 1 + length])
            return
        targets = sorted(self.servos) if servo_id == STS_BROADCAST_ID else [servo_id]
        for target in targets:
            servo = self.servos.get(target)
            if servo is not None:  # nobody with this id: silence
                self._answer(target, servo, instruction, params, broadcast=servo_id == STS_BROADCAST_ID)

    def _answer(self, servo_id: int, servo: VirtualServo, instruction: int, params: bytes,
                broadcast: bool) -> None:
        def acknowledge(data: bytes = b"") -> None:
            answers_all = servo.table[STS_RESPONSE_LEVEL] != 0
            if instruction == 0x01 or (not broadcast and (instruction == 0x02 or answers_all)):
                self.reply(servo_id, servo.error, data)

        if instruction not in (0x01, 0x02, 0x03, 0x04, 0x05):
            self.unknown_instructions += 1  # no status bit can say so: silence
        elif instruction in (0x02, 0x03, 0x04) and len(params) < 2:
            return  # too short to act on; no status bit for it either
        elif instruction == 0x01:  # ping
            acknowledge()
        elif instruction == 0x02:  # read
            acknowledge(self._read_block(servo, params[0], params[1]))
        elif instruction == 0x03:  # write
            self._write(servo_id, servo, params[0], params[1:])
            acknowledge()
        elif instruction == 0x04:  # reg write: held until Action
            self._registered[servo_id] = (params[0], params[1:])
            acknowledge()
        else:  # action: every held write is applied now
            held = self._registered.pop(servo_id, None)
            if held is not None:
                self._write(servo_id, servo, *held)
            acknowledge()
