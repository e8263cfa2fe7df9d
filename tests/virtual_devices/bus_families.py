"""Bus families for the hardware tests: each virtual bus paired with the real bus class that drives it."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Callable

import pytest

from robolearn.hardware.dynamixel import DynamixelBus
from robolearn.hardware.feetech import FeetechBus
from virtual_devices.servo_bus import VirtualDynamixelBus, VirtualFeetechBus

# Reply timeout = 2 x latency + 2 ms: short enough for fast fault tests, long enough for a loaded 2-core
# machine. The virtual device is a thread of the test process, so the interpreter is also asked to switch
# threads more often than its 5 ms default.
TEST_LATENCY_MS = 25.0


@dataclass(frozen=True)
class Family:
    name: str
    virtual: type
    bus: type
    model: str
    number: int
    other_number: int  # a different servo model of the same family


FAMILIES = {
    "dynamixel": Family("dynamixel", VirtualDynamixelBus, DynamixelBus, "xl330-m288", 1200, 1060),
    "feetech": Family("feetech", VirtualFeetechBus, FeetechBus, "sts3215", 777, 2825),
}


@pytest.fixture(autouse=True)
def fast_thread_switching():
    previous = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    yield
    sys.setswitchinterval(previous)


def eventually(condition: Callable[[], bool], timeout_s: float = 2.0) -> bool:
    """Broadcast writes get no reply, so the device may apply them a moment after the call returns."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True
