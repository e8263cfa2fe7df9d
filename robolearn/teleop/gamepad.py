"""Gamepad (and SpaceMouse-class 6-DoF) input from a Linux evdev node, decoded from the kernel's own
`struct input_event` records, so no X, no SDL and no extra library is needed.

Axes map to action entries in `axes` order, scaled from the axis range to [-1, 1] with a dead zone;
buttons end the episode (BTN_SOUTH/A success, BTN_EAST/B failure, BTN_NORTH/Y discard). A read error
(the device unplugged) raises DeviceUnplugged so the recorder stops the robot.
"""

from __future__ import annotations

import os
import select
import struct
from pathlib import Path

import numpy as np

from robolearn.teleop.base import DeviceUnplugged, TeleopDevice, TeleopReading

EVENT = struct.Struct("llHHi")  # struct input_event: timeval, type, code, value
EV_KEY, EV_ABS, EV_REL = 0x01, 0x03, 0x02
ABS_X, ABS_Y, ABS_Z, ABS_RX, ABS_RY, ABS_RZ = 0x00, 0x01, 0x02, 0x03, 0x04, 0x05
REL_X, REL_Y, REL_Z, REL_RX, REL_RY, REL_RZ = 0x00, 0x01, 0x02, 0x03, 0x04, 0x05
BTN_SOUTH, BTN_EAST, BTN_NORTH = 0x130, 0x131, 0x133
BUTTON_EVENTS = {BTN_SOUTH: "success", BTN_EAST: "failure", BTN_NORTH: "discard"}
GAMEPAD_AXES = ((EV_ABS, ABS_X), (EV_ABS, ABS_Y), (EV_ABS, ABS_RX), (EV_ABS, ABS_RY), (EV_ABS, ABS_Z),
                (EV_ABS, ABS_RZ))
SPACEMOUSE_AXES = ((EV_REL, REL_X), (EV_REL, REL_Y), (EV_REL, REL_Z), (EV_REL, REL_RX), (EV_REL, REL_RY),
                   (EV_REL, REL_RZ))


class EvdevGamepad(TeleopDevice):
    def __init__(self, action_size: int, path: str | os.PathLike | None = None, fd: int | None = None,
                 axes=GAMEPAD_AXES, axis_range: tuple[int, int] = (-32768, 32767), dead_zone: float = 0.1) -> None:
        super().__init__(action_size)
        if (path is None) == (fd is None):
            raise ValueError("give the evdev node's path (/dev/input/eventN) or an open fd")
        if path is not None and not Path(path).exists():
            raise DeviceUnplugged(f"{path} does not exist: plug the gamepad in, and check `ls /dev/input/by-id`")
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK) if path is not None else fd
        self._owns_fd = path is not None
        self.axes = tuple(axes)[:action_size]
        if len(self.axes) < action_size:
            raise ValueError(f"the device has {len(self.axes)} axes, the task's action has {action_size}")
        self.low, self.high = axis_range
        self.dead_zone = dead_zone
        self._raw = np.zeros(action_size)
        self._buffer = b""

    def read(self) -> TeleopReading:
        event = None
        for ev_type, code, value in self._events():
            if ev_type == EV_KEY and value == 1 and code in BUTTON_EVENTS:
                event = BUTTON_EVENTS[code]
            elif (ev_type, code) in self.axes:
                self._raw[self.axes.index((ev_type, code))] = value
        mid, half = (self.high + self.low) / 2.0, (self.high - self.low) / 2.0
        action = np.clip((self._raw - mid) / half, -1.0, 1.0)
        action[np.abs(action) < self.dead_zone] = 0.0
        return TeleopReading(action, bool(np.any(action != 0.0)), event)

    def _events(self) -> list[tuple[int, int, int]]:
        while select.select([self.fd], [], [], 0)[0]:
            try:
                data = os.read(self.fd, EVENT.size * 64)
            except BlockingIOError:
                break
            except OSError as exc:  # ENODEV once the device is unplugged
                raise DeviceUnplugged(f"input device read failed ({exc}): it was unplugged") from exc
            if not data:
                raise DeviceUnplugged("input device closed: it was unplugged")
            self._buffer += data
        n = len(self._buffer) // EVENT.size
        records = [EVENT.unpack_from(self._buffer, i * EVENT.size)[2:] for i in range(n)]
        self._buffer = self._buffer[n * EVENT.size:]
        return records

    def close(self) -> None:
        if self._owns_fd:
            os.close(self.fd)
            self._owns_fd = False
