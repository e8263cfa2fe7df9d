"""A control-rate thread: calls a function at absolute due times (no drift), and never bursts to catch up.

The driver node ticks its robot on this thread rather than on an rclpy timer, so the control period does not
depend on how busy the executor is with callbacks (the Python executor rebuilds its wait set on every spin),
and a late tick restarts the schedule instead of firing a burst of catch-up ticks at the robot.
"""

from __future__ import annotations

import threading
import time
from typing import Callable


class Ticker:
    def __init__(self, period_s: float, tick: Callable[[], None], name: str = "control") -> None:
        if not period_s > 0:
            raise ValueError(f"period must be > 0 s, got {period_s}")
        self.period_s = period_s
        self._tick = tick
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.overruns = 0  # ticks skipped because one ran longer than a period

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        due = time.monotonic()
        while not self._stop.is_set():
            self._tick()
            due += self.period_s
            now = time.monotonic()
            if now - due > self.period_s:
                # Late by more than a period: restart the schedule rather than run ticks back to back.
                self.overruns += int((now - due) / self.period_s)
                due = now
            self._stop.wait(max(0.0, due - time.monotonic()))
