"""A virtual iRobot Create 2 speaking the Open Interface: modes, Drive Direct, and a checksummed sensor
stream every 15 ms. Wheels follow the commanded velocities and turn the 16-bit encoder counters; tests set
bumps, cliffs and wheel drops. In Safe mode a cliff or wheel drop stops the wheels and falls back to Passive,
as the firmware does."""

from __future__ import annotations

import math
import struct

from virtual_devices.pty_device import PtyDevice

ARGUMENT_BYTES = {128: 0, 131: 0, 132: 0, 145: 4, 150: 1, 173: 0}
COUNTS_PER_MM = 508.8 / (math.pi * 72.0)
FORMATS = {7: "B", 9: "B", 10: "B", 11: "B", 12: "B", 22: "H", 23: "h", 25: "H", 26: "H", 35: "B",
           43: "h", 44: "h"}


class VirtualCreate2(PtyDevice):
    period_s = 0.015

    def __init__(self) -> None:
        super().__init__()
        self._buffer = bytearray()
        self.mode = 0
        self.right_mm_s = self.left_mm_s = 0
        self.left_counts = self.right_counts = 0.0
        self.stream_ids: list[int] = []
        self.streaming = False
        self.bumps = 0  # bit0 right, bit1 left, bit2 wheel drop right, bit3 wheel drop left
        self.cliff_front_left = 0
        self.corrupt_frames = 0
        self.silent = False
        self.frames_sent = 0
        self.drive_commands: list[tuple[int, int]] = []
        self._last_tick: float | None = None

    def on_bytes(self, data: bytes) -> None:
        self._buffer.extend(data)
        buf = self._buffer
        while buf:
            opcode = buf[0]
            if opcode == 148:
                if len(buf) < 2 or len(buf) < 2 + buf[1]:
                    return
                self.stream_ids = list(buf[2: 2 + buf[1]])
                self.streaming = True
                del buf[: 2 + buf[1]]
                continue
            need = ARGUMENT_BYTES.get(opcode)
            if need is None:
                del buf[:1]  # unknown opcode: the real robot ignores it too
                continue
            if len(buf) < 1 + need:
                return
            args = bytes(buf[1: 1 + need])
            del buf[: 1 + need]
            self._execute(opcode, args)

    def _execute(self, opcode: int, args: bytes) -> None:
        if opcode == 128:
            self.mode = 1
            self.right_mm_s = self.left_mm_s = 0
        elif opcode == 131:
            self.mode = 2
        elif opcode == 132:
            self.mode = 3
        elif opcode == 173:
            self.mode = 0
            self.streaming = False
        elif opcode == 150:
            self.streaming = bool(args[0])
        elif opcode == 145 and self.mode >= 2:  # ignored in Passive mode
            self.right_mm_s, self.left_mm_s = struct.unpack(">hh", args)
            self.drive_commands.append((self.right_mm_s, self.left_mm_s))

    def tick(self, now: float) -> None:
        if self._last_tick is None:
            self._last_tick = now
        dt = now - self._last_tick
        if dt < self.period_s:
            return
        self._last_tick = now
        if self.mode == 2 and (self.bumps & 0x0C or self.cliff_front_left):
            self.mode, self.right_mm_s, self.left_mm_s = 1, 0, 0
        self.left_counts += self.left_mm_s * dt * COUNTS_PER_MM
        self.right_counts += self.right_mm_s * dt * COUNTS_PER_MM
        if self.streaming and not self.silent:
            self.send(self._frame())

    def _value(self, packet_id: int) -> int:
        return {7: self.bumps, 9: 0, 10: self.cliff_front_left, 11: 0, 12: 0, 22: 15800, 23: -900, 25: 2000,
                26: 2600, 35: self.mode,
                43: _wrap16(self.left_counts), 44: _wrap16(self.right_counts)}[packet_id]

    def _frame(self) -> bytes:
        body = bytearray()
        for packet_id in self.stream_ids:
            body.append(packet_id)
            body.extend(struct.pack(">" + FORMATS[packet_id], self._value(packet_id)))
        frame = bytearray([19, len(body)]) + body
        frame.append(-sum(frame) & 0xFF)
        if self.corrupt_frames > 0:
            self.corrupt_frames -= 1
            frame[-1] ^= 0x33
        self.frames_sent += 1
        return bytes(frame)


def _wrap16(counts: float) -> int:
    value = int(round(counts)) & 0xFFFF
    return value - 0x10000 if value >= 0x8000 else value
