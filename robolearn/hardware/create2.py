"""The iRobot Create 2 Open Interface over serial (pyserial), ROS-free.

Facts from the iRobot Create 2 Open Interface Spec: 115200 baud 8N1; opcodes Start 128, Safe 131, Full 132,
Drive Direct 145 (right, left wheel velocity in mm/s, signed 16-bit big-endian, -500..500), Stream 148,
Pause/Resume Stream 150. A stream frame is `19, n, (id, data)..., checksum`, where all bytes of the frame
sum to 0 mod 256; the robot sends one every 15 ms. Encoder counts (packets 43/44) wrap at 16 bits;
508.8 counts per wheel turn, 72 mm wheels, 235 mm between wheels.
"""

from __future__ import annotations

import enum
import struct
import time
from dataclasses import dataclass

import serial

from robolearn.hardware.errors import BusError, HardwareError
from robolearn.hardware.serial_port import SERIAL_FAILURES, open_serial, port_error

BAUDRATE = 115200
MAX_WHEEL_MM_S = 500
STREAM_HEADER = 19
OP_START, OP_SAFE, OP_FULL, OP_DRIVE_DIRECT, OP_STREAM, OP_PAUSE_STREAM = 128, 131, 132, 145, 148, 150

# packet id -> struct format (big-endian)
SENSOR_PACKETS: dict[int, str] = {
    7: "B",  # bumps and wheel drops
    9: "B", 10: "B", 11: "B", 12: "B",  # cliff left, front left, front right, right
    22: "H",  # battery voltage, mV
    23: "h",  # battery current, mA
    25: "H", 26: "H",  # battery charge, capacity, mAh
    35: "B",  # OI mode
    43: "h", 44: "h",  # left, right encoder counts
}
FRAME_BODY_LEN = sum(1 + struct.calcsize(">" + f) for f in SENSOR_PACKETS.values())


class OIMode(enum.IntEnum):
    OFF = 0
    PASSIVE = 1
    SAFE = 2
    FULL = 3


@dataclass(frozen=True)
class Create2Sensors:
    received_at: float  # host monotonic time the frame was parsed
    bump_left: bool
    bump_right: bool
    wheel_drop_left: bool
    wheel_drop_right: bool
    cliff: bool  # any of the four cliff sensors
    voltage_v: float
    current_a: float
    charge_ratio: float
    mode: OIMode
    left_counts: int
    right_counts: int


def parse_stream_frame(frame: bytes, received_at: float) -> Create2Sensors:
    """Decode a complete, checksum-verified stream frame."""
    values: dict[int, int] = {}
    i = 2
    for packet_id, fmt in SENSOR_PACKETS.items():
        if frame[i] != packet_id:
            raise ValueError(f"stream frame has packet {frame[i]} where {packet_id} was requested")
        size = struct.calcsize(">" + fmt)
        (values[packet_id],) = struct.unpack(">" + fmt, frame[i + 1: i + 1 + size])
        i += 1 + size
    bumps = values[7]
    capacity = values[26]
    return Create2Sensors(
        received_at=received_at,
        bump_right=bool(bumps & 0x01), bump_left=bool(bumps & 0x02),
        wheel_drop_right=bool(bumps & 0x04), wheel_drop_left=bool(bumps & 0x08),
        cliff=any(values[k] for k in (9, 10, 11, 12)),
        voltage_v=values[22] / 1000.0, current_a=values[23] / 1000.0,
        charge_ratio=values[25] / capacity if capacity else 0.0,
        mode=OIMode(values[35]) if values[35] in OIMode._value2member_map_ else OIMode.OFF,
        left_counts=values[43], right_counts=values[44],
    )


class StreamParser:
    """Finds checksum-valid frames in a byte stream; resynchronises after garbage or a corrupt frame."""

    frame_len = 2 + FRAME_BODY_LEN + 1

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.corrupt_frames = 0

    def feed(self, data: bytes, received_at: float) -> Create2Sensors | None:
        """Add bytes; return the newest complete valid frame among them, if any."""
        self._buffer.extend(data)
        newest = None
        buf = self._buffer
        while True:
            start = buf.find(bytes([STREAM_HEADER, FRAME_BODY_LEN]))
            if start < 0:
                del buf[: max(0, len(buf) - 1)]
                return newest
            del buf[:start]
            if len(buf) < self.frame_len:
                return newest
            frame = bytes(buf[: self.frame_len])
            if sum(frame) & 0xFF == 0:
                try:
                    newest = parse_stream_frame(frame, received_at)
                    del buf[: self.frame_len]
                    continue
                except ValueError:
                    pass
            # Not a frame (a data byte that looked like a header, or corruption): skip one byte, resync.
            self.corrupt_frames += 1
            del buf[:1]


class Create2:
    """A Create 2 on a serial port: modes, wheel velocities, and the sensor stream."""

    def __init__(self, port: str, full_mode: bool = False, sensor_timeout_s: float = 0.1) -> None:
        self.port = port
        self.full_mode = full_mode
        self.sensor_timeout_s = sensor_timeout_s
        self._serial: serial.Serial | None = None
        self._parser = StreamParser()
        self.latest: Create2Sensors | None = None

    @property
    def is_open(self) -> bool:
        return self._serial is not None

    def open(self) -> None:
        """Open the port, enter Safe (or Full) mode, stop the wheels, start the sensor stream, await a frame."""
        self._serial = open_serial(self.port, BAUDRATE, timeout=0)
        try:
            self._send(bytes([OP_START, OP_FULL if self.full_mode else OP_SAFE]))
            self.drive_direct(0, 0)
            ids = list(SENSOR_PACKETS)
            self._send(bytes([OP_STREAM, len(ids), *ids]))
            self.read_sensors(timeout_s=max(1.0, self.sensor_timeout_s))
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._serial is None:
            return
        try:
            # Stop the wheels, stop the stream, and leave the robot in Passive mode.
            self._send(bytes([OP_DRIVE_DIRECT, 0, 0, 0, 0, OP_PAUSE_STREAM, 0, OP_START]))
        except HardwareError:
            pass
        finally:
            self._serial.close()
            self._serial = None

    def drive_direct(self, right_mm_s: float, left_mm_s: float) -> None:
        right = int(round(max(-MAX_WHEEL_MM_S, min(MAX_WHEEL_MM_S, right_mm_s))))
        left = int(round(max(-MAX_WHEEL_MM_S, min(MAX_WHEEL_MM_S, left_mm_s))))
        self._send(struct.pack(">Bhh", OP_DRIVE_DIRECT, right, left))

    def read_sensors(self, timeout_s: float | None = None) -> Create2Sensors:
        """The newest sensor frame, waiting up to `timeout_s` for one newer than the last returned."""
        timeout_s = self.sensor_timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout_s
        previous = self.latest
        while True:
            data = self._receive()
            if data:
                frame = self._parser.feed(data, time.monotonic())
                if frame is not None:
                    self.latest = frame
            if self.latest is not previous and self.latest is not None:
                return self.latest
            if time.monotonic() > deadline:
                raise BusError(
                    f"no valid sensor frame from the Create 2 on {self.port} within {timeout_s:.2f} s "
                    f"({self._parser.corrupt_frames} corrupt): is it switched on, awake (press Clean), and "
                    f"connected at {BAUDRATE} baud?")
            time.sleep(0.002)

    @property
    def corrupt_frames(self) -> int:
        return self._parser.corrupt_frames

    def _send(self, data: bytes) -> None:
        if self._serial is None:
            raise BusError(f"Create 2 on {self.port} is not open")
        try:
            self._serial.write(data)
        except SERIAL_FAILURES as exc:
            raise port_error(self.port, exc) from exc

    def _receive(self) -> bytes:
        if self._serial is None:
            raise BusError(f"Create 2 on {self.port} is not open")
        try:
            return self._serial.read(4096)
        except SERIAL_FAILURES as exc:
            raise port_error(self.port, exc) from exc
