"""Keeping a hardware control loop on its tick."""

from __future__ import annotations

import time
from typing import Callable


class TickClock:
    """Sleeps to the next multiple of `period_s`; after an overrun it restarts the schedule instead of
    bursting to catch up (a burst of commands is what a rate limit exists to prevent)."""

    def __init__(self, period_s: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.period_s = period_s
        self._clock = clock
        self._sleep = sleep
        self._next: float | None = None
        self.overruns = 0

    def wait(self) -> None:
        now = self._clock()
        if self._next is None:
            self._next = now + self.period_s
        if now > self._next:
            self.overruns += 1
            self._next = now + self.period_s
            return
        self._sleep(self._next - now)
        self._next += self.period_s

    def restart(self) -> None:
        self._next = None
