"""Automatic range calibration: each joint is driven slowly to its two hard stops under a low output cap and
stopped on stall (`robolearn.calibration.motors.range_by_stall` decides where the stops are).

The servos' own output caps are lowered first and put back afterwards whatever happens, and torque is off again
when this returns or raises. The servos' position-limit registers are opened to the whole turn for the sweep
(with limits from an earlier calibration the firmware would refuse or clamp goals short of the stops); the next
connect writes the new calibrated limits. The result is only a range: nothing is saved here, so a failure leaves
the last good calibration file as it was.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Mapping

from robolearn.calibration.motors import range_by_stall
from robolearn.hardware.motor_bus import MotorBus


@dataclass(frozen=True)
class AutoRangeSettings:
    torque_fraction: float = 0.2  # output cap during the sweep, fraction of full: a stop is met gently
    step: int = 20  # ticks per move (1.8 degrees on a 4096-tick encoder)
    margin: int = 40  # ticks kept clear of each stop in the recorded range
    # A joint pushing on a stop under the cap reads at least this share of the cap as load (Present Load is the
    # output duty on STS; XL330 present current at its PWM cap reads ~0.68 of stall current).
    stall_share: float = 0.5
    settle_s: float = 0.05  # wait after each move before reading, so a moving joint is not taken for a stalled one

    def __post_init__(self) -> None:
        if not 0.0 < self.torque_fraction <= 0.5:
            raise ValueError(f"auto-range torque_fraction must be in (0, 0.5], got {self.torque_fraction}: a "
                             f"sweep into a hard stop must not use full torque")
        if self.step <= 0 or self.margin < 0 or not 0.0 < self.stall_share <= 1.0 or self.settle_s < 0:
            raise ValueError(f"invalid auto-range settings {self}")


def ranges_by_stall(bus: MotorBus, joints: Mapping[str, int], resolution: int,
                    settings: AutoRangeSettings = AutoRangeSettings()) -> dict[str, tuple[int, int]]:
    """(min, max) ticks for each joint name in `joints` (name -> servo id), one joint at a time while the others
    hold. `bus` must be open with the models checked; the servos' output caps are restored before returning."""
    ids = list(joints.values())
    bus.set_torque(ids, False)
    saved = {motor_id: bus.read_torque_limit(motor_id) for motor_id in ids}
    try:
        for motor_id in ids:
            bus.write_position_limits(motor_id, 0, resolution - 1)
            bus.write_torque_limit(motor_id, settings.torque_fraction)
        held = {i: s.position for i, s in bus.read_state(ids).items()}
        bus.write_goal_positions(held)  # torque comes on where each joint stands
        bus.set_torque(ids, True)
        ranges = {}
        for name, motor_id in joints.items():
            ranges[name] = range_by_stall(_reader(bus, motor_id), _mover(bus, motor_id, settings.settle_s),
                                          resolution, step=settings.step,
                                          stall_load=settings.stall_share * settings.torque_fraction,
                                          margin=settings.margin, name=name)
        return ranges
    finally:
        try:
            bus.set_torque(ids, False)
        finally:
            for motor_id, fraction in saved.items():
                bus.write_torque_limit(motor_id, fraction)


def _reader(bus: MotorBus, motor_id: int):
    def read() -> tuple[int, float]:
        state = bus.read_state([motor_id])[motor_id]
        return state.position, state.load
    return read


def _mover(bus: MotorBus, motor_id: int, settle_s: float):
    def move_to(ticks: int) -> None:
        bus.write_goal_positions({motor_id: ticks})
        if settle_s:
            time.sleep(settle_s)
    return move_to
