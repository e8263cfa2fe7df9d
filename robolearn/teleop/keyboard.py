"""Keyboard teleop read from the terminal: works over SSH and without a display (no X or Wayland).

The tty is put in raw mode and read without blocking; escape sequences (arrow keys) are decoded. Keys
come in pairs, one per action entry: q/a, w/s, e/d, r/f, t/g, y/h (then u/j, i/k) push entry 0, 1, ...
towards +1/-1 while repeated; arrow keys drive entries 0 and 1. Space holds (zero action). Enter marks
success, Backspace failure, and 'x' discards the episode. An action entry returns to 0 when its key has
not been seen for `release_s` seconds (terminals send repeats, not key-up events).
"""

from __future__ import annotations

import os
import select
import termios
import time
import tty

import numpy as np

from robolearn.teleop.base import DeviceUnplugged, TeleopDevice, TeleopReading

PAIRS = ("qa", "ws", "ed", "rf", "tg", "yh", "uj", "ik")
ARROWS = {"\x1b[A": (1, +1.0), "\x1b[B": (1, -1.0), "\x1b[C": (0, +1.0), "\x1b[D": (0, -1.0)}
EVENT_KEYS = {"\r": "success", "\n": "success", "\x7f": "failure", "\x08": "failure", "x": "discard"}


class TerminalKeyboard(TeleopDevice):
    def __init__(self, action_size: int, fd: int | None = None, release_s: float = 0.15,
                 clock=time.monotonic) -> None:
        super().__init__(action_size)
        if action_size > len(PAIRS):
            raise ValueError(f"the keyboard drives at most {len(PAIRS)} action entries, the task has {action_size}")
        self.fd = os.open("/dev/tty", os.O_RDONLY) if fd is None else fd
        self._owns_fd = fd is None
        if not os.isatty(self.fd):
            raise ValueError("keyboard teleop needs a terminal: run it in an interactive shell (ssh -t works)")
        self._saved = termios.tcgetattr(self.fd)
        tty.setraw(self.fd)
        self.release_s, self.clock = release_s, clock
        self._action = np.zeros(action_size)
        self._seen = np.full(action_size, -np.inf)
        self._pending = ""

    def read(self) -> TeleopReading:
        event = None
        for key in self._keys():
            if key in EVENT_KEYS:
                event = EVENT_KEYS[key]
            elif key == "\x03":  # raw mode swallows Ctrl-C's signal: give it back
                raise KeyboardInterrupt
            elif key == " ":
                self._action[:] = 0.0
                self._seen[:] = -np.inf
            else:
                self._press(key)
        now = self.clock()
        self._action[now - self._seen > self.release_s] = 0.0
        return TeleopReading(self._action.copy(), bool(np.any(self._action != 0.0)), event)

    def _press(self, key: str) -> None:
        if key in ARROWS:
            index, sign = ARROWS[key]
        else:
            matches = [(i, +1.0 if key == p[0] else -1.0) for i, p in enumerate(PAIRS) if key in p]
            if not matches:
                return
            index, sign = matches[0]
        if index < self.action_size:
            self._action[index] = sign
            self._seen[index] = self.clock()

    def _keys(self) -> list[str]:
        chunks = []
        while select.select([self.fd], [], [], 0)[0]:
            try:
                data = os.read(self.fd, 1024)
            except OSError as exc:
                raise DeviceUnplugged(f"terminal closed ({exc})") from exc
            if not data:
                raise DeviceUnplugged("terminal closed")
            chunks.append(data.decode("latin-1"))
        text, keys = self._pending + "".join(chunks), []
        self._pending = ""
        i = 0
        while i < len(text):
            if text[i] == "\x1b":
                if len(text) - i < 3:  # a sequence split across reads: finish it next time
                    self._pending = text[i:]
                    break
                keys.append(text[i:i + 3])
                i += 3
            else:
                keys.append(text[i])
                i += 1
        return keys

    def close(self) -> None:
        if self._saved is not None:
            try:
                termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
            except termios.error:
                pass
            self._saved = None
        if self._owns_fd:
            os.close(self.fd)
