"""Motor calibration: which servo drives which joint, and how raw encoder ticks map to radians.

    joint_rad = direction * (ticks - homing_offset) * 2*pi / resolution

`homing_offset` is the tick reading at the joint's zero pose, `direction` (+1/-1) makes the joint turn the
way the robot's model says, and `[range_min, range_max]` (ticks) is the range of motion recorded by hand.
The offset is applied in software (not written to the servo) so that both bus families behave the same.

File (calibration/<robot>/<id>.yaml)::

    schema_version: 1
    kind: motors
    robot: so101_arm
    bus: feetech                 # feetech | dynamixel
    motors:
      - {name: shoulder_pan, id: 1, model: sts3215, resolution: 4096,
         homing_offset: 2048, direction: 1, range_min: 1024, range_max: 3072}
    identity:                    # optional: what the calibration was recorded on (checked at connect)
      adapter_serial: 5A46083073 # the USB serial adapter's serial number (null: it reports none)
      servos:
      - {id: 1, model_number: 777, firmware: 3}

Neither the XL330 nor the STS3215 control table holds a serial number, so a servo is identified by its id, model
number and firmware version, and the arm by its USB adapter's serial number: a file for another arm, or a servo
replaced by one with other firmware, is refused at connect. (A replacement of the same model and firmware cannot
be told apart from the original by any register.)

The procedures below are non-interactive: they take readings and a stop condition; the prompts live in
`robolearn calibrate motors`.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

from robolearn.calibration.files import (
    CalibrationError, load_calibration_yaml, require, require_int, save_calibration_yaml,
)

KIND = "motors"
BUS_TYPES = ("dynamixel", "feetech")


@dataclass(frozen=True)
class MotorCalibration:
    name: str
    id: int
    model: str
    resolution: int
    homing_offset: int
    direction: int
    range_min: int
    range_max: int

    def __post_init__(self) -> None:
        where = f"motor {self.name!r}"
        if self.direction not in (1, -1):
            raise CalibrationError(f"{where}: direction must be 1 or -1, got {self.direction}")
        if self.resolution <= 0:
            raise CalibrationError(f"{where}: resolution must be > 0, got {self.resolution}")
        if not 0 <= self.id <= 252:
            raise CalibrationError(f"{where}: id must be in 0..252, got {self.id}")
        if self.range_min >= self.range_max:
            raise CalibrationError(
                f"{where}: range_min {self.range_min} must be below range_max {self.range_max}; "
                f"re-record the range of motion"
            )
        if not self.range_min <= self.homing_offset <= self.range_max:
            raise CalibrationError(
                f"{where}: homing_offset {self.homing_offset} lies outside the recorded range "
                f"[{self.range_min}, {self.range_max}]; re-run the calibration"
            )

    @property
    def rad_per_tick(self) -> float:
        return 2.0 * math.pi / self.resolution

    def to_radians(self, ticks: float) -> float:
        return self.direction * (ticks - self.homing_offset) * self.rad_per_tick

    def to_ticks(self, radians: float) -> int:
        """Nearest tick for `radians`, clamped to the recorded range (never command past a hard stop)."""
        ticks = round(self.homing_offset + self.direction * radians / self.rad_per_tick)
        return int(min(max(ticks, self.range_min), self.range_max))

    def velocity_to_radians(self, ticks_per_s: float) -> float:
        return self.direction * ticks_per_s * self.rad_per_tick

    def velocity_to_ticks(self, rad_per_s: float) -> float:
        return self.direction * rad_per_s / self.rad_per_tick

    @property
    def range_radians(self) -> tuple[float, float]:
        ends = sorted((self.to_radians(self.range_min), self.to_radians(self.range_max)))
        return ends[0], ends[1]


@dataclass(frozen=True)
class ServoIdentity:
    id: int
    model_number: int
    firmware: int


@dataclass(frozen=True)
class BusIdentity:
    """What a calibration was recorded on: the servos as they identified themselves, and the USB adapter."""

    adapter_serial: str | None
    servos: tuple[ServoIdentity, ...]

    def servo(self, motor_id: int) -> ServoIdentity | None:
        return next((s for s in self.servos if s.id == motor_id), None)

    def to_dict(self) -> dict:
        return {"adapter_serial": self.adapter_serial, "servos": [asdict(s) for s in self.servos]}

    @classmethod
    def from_dict(cls, data: object, where: str) -> "BusIdentity":
        if not isinstance(data, Mapping) or not isinstance(data.get("servos"), list):
            raise CalibrationError(f"{where}: identity must be a mapping with a list of servos")
        serial = data.get("adapter_serial")
        servos = []
        for i, entry in enumerate(data["servos"]):
            at = f"{where}: identity.servos[{i}]"
            if not isinstance(entry, Mapping):
                raise CalibrationError(f"{at}: expected a mapping")
            servos.append(ServoIdentity(require_int(entry, "id", at), require_int(entry, "model_number", at),
                                        require_int(entry, "firmware", at)))
        return cls(None if serial is None else str(serial), tuple(servos))


@dataclass(frozen=True)
class ArmCalibration:
    robot: str
    bus: str
    motors: tuple[MotorCalibration, ...]
    identity: BusIdentity | None = None  # None: recorded before identities were kept; nothing to check

    def __post_init__(self) -> None:
        if self.bus not in BUS_TYPES:
            raise CalibrationError(f"{self.robot}: bus must be one of {BUS_TYPES}, got {self.bus!r}")
        names = [m.name for m in self.motors]
        ids = [m.id for m in self.motors]
        if not names:
            raise CalibrationError(f"{self.robot}: calibration lists no motors")
        if len(set(names)) != len(names) or len(set(ids)) != len(ids):
            raise CalibrationError(f"{self.robot}: motor names {names} and ids {ids} must be unique")
        if self.identity is not None and sorted(s.id for s in self.identity.servos) != sorted(ids):
            raise CalibrationError(
                f"{self.robot}: the identity lists servos {sorted(s.id for s in self.identity.servos)} but the motors "
                f"are {sorted(ids)}; re-run `robolearn calibrate motors`")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.motors)

    def for_joints(self, joint_names: Sequence[str]) -> tuple[MotorCalibration, ...]:
        """The motors in `joint_names` order; refuses a calibration that does not cover exactly those joints."""
        if sorted(joint_names) != sorted(self.names):
            raise CalibrationError(
                f"{self.robot}: calibration covers joints {list(self.names)} but the robot has "
                f"{list(joint_names)}; calibrate this robot with `robolearn calibrate motors`"
            )
        by_name = {m.name: m for m in self.motors}
        return tuple(by_name[n] for n in joint_names)

    def to_dict(self) -> dict:
        body = {"robot": self.robot, "bus": self.bus, "motors": [asdict(m) for m in self.motors]}
        if self.identity is not None:
            body["identity"] = self.identity.to_dict()
        return body

    def save(self, path: str | os.PathLike) -> Path:
        return save_calibration_yaml(path, KIND, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike, robot: str | None = None,
             allow_example: bool = False) -> "ArmCalibration":
        """Load and validate; with `robot` given, refuse a file written for another robot."""
        data = load_calibration_yaml(path, KIND, allow_example)
        where = str(path)
        file_robot = str(require(data, "robot", where))
        if robot is not None and file_robot != robot:
            raise CalibrationError(
                f"{path} calibrates robot {file_robot!r}, not {robot!r}: refusing to drive one robot with "
                f"another's calibration"
            )
        motors_data = require(data, "motors", where)
        if not isinstance(motors_data, list):
            raise CalibrationError(f"{where}: motors must be a list")
        motors = []
        for i, entry in enumerate(motors_data):
            at = f"{where}: motors[{i}]"
            if not isinstance(entry, Mapping):
                raise CalibrationError(f"{at}: expected a mapping")
            motors.append(MotorCalibration(
                name=str(require(entry, "name", at)),
                id=require_int(entry, "id", at),
                model=str(require(entry, "model", at)),
                resolution=require_int(entry, "resolution", at),
                homing_offset=require_int(entry, "homing_offset", at),
                direction=require_int(entry, "direction", at),
                range_min=require_int(entry, "range_min", at),
                range_max=require_int(entry, "range_max", at),
            ))
        identity = None if data.get("identity") is None else BusIdentity.from_dict(data["identity"], where)
        return cls(robot=file_robot, bus=str(require(data, "bus", where)), motors=tuple(motors), identity=identity)


# ----------------------------------------------------------------------------------- procedures
class RangeRecorder:
    """Tracks each joint's min/max while the user moves it by hand; refuses a pass across the encoder wrap."""

    def __init__(self, resolution: Mapping[str, int]) -> None:
        self._resolution = dict(resolution)
        self.low: dict[str, int] = {}
        self.high: dict[str, int] = {}
        self._last: dict[str, int] = {}
        self.samples = 0

    def update(self, positions: Mapping[str, int]) -> None:
        for name, ticks in positions.items():
            ticks = int(ticks)
            last = self._last.get(name)
            if last is not None and abs(ticks - last) > self._resolution[name] // 2:
                raise CalibrationError(
                    f"joint {name!r} jumped from {last} to {ticks} ticks: its range crosses the encoder's wrap "
                    f"point. Re-seat the horn (or set the servo's own offset) so the range lies inside one turn"
                )
            self._last[name] = ticks
            self.low[name] = min(self.low.get(name, ticks), ticks)
            self.high[name] = max(self.high.get(name, ticks), ticks)
        self.samples += 1

    def ranges(self, min_span: int = 1) -> dict[str, tuple[int, int]]:
        """The recorded ranges; a joint that moved less than `min_span` ticks is an error (not moved)."""
        unmoved = [n for n in self._resolution if self.high.get(n, 0) - self.low.get(n, 0) < min_span]
        if unmoved:
            raise CalibrationError(
                f"joints {unmoved} moved less than {min_span} ticks while recording: move every joint "
                f"through its full range of motion"
            )
        return {n: (self.low[n], self.high[n]) for n in self._resolution}


def record_ranges(
    read_positions: Callable[[], Mapping[str, int]],
    should_stop: Callable[[], bool],
    resolution: Mapping[str, int],
    period_s: float = 0.02,
    min_span: int = 20,
    timeout_s: float = 600.0,
    start: Mapping[str, int] | None = None,
) -> dict[str, tuple[int, int]]:
    """Poll `read_positions` every `period_s` until `should_stop()`; return each joint's (min, max) ticks.

    `start`: a reading to include first (the zero pose), so the range always contains the homing offset."""
    recorder = RangeRecorder(resolution)
    if start is not None:
        recorder.update(start)
    deadline = time.monotonic() + timeout_s
    while True:
        recorder.update(read_positions())
        if should_stop():
            break
        if time.monotonic() > deadline:
            raise CalibrationError(f"range recording ran {timeout_s} s without a stop signal")
        time.sleep(period_s)
    return recorder.ranges(min_span)


def directions_from_motion(
    before: Mapping[str, int], after: Mapping[str, int], min_move: int = 20
) -> dict[str, int]:
    """Directions from a move the user made in each joint's *positive* direction (per the robot's model)."""
    result = {}
    for name, start in before.items():
        delta = int(after[name]) - int(start)
        if abs(delta) < min_move:
            raise CalibrationError(
                f"joint {name!r} moved {delta} ticks; move it clearly (more than {min_move} ticks) in its "
                f"positive direction"
            )
        result[name] = 1 if delta > 0 else -1
    return result


def build_calibration(
    robot: str,
    bus: str,
    motors: Sequence[tuple[str, int, str, int]],
    homing: Mapping[str, int],
    directions: Mapping[str, int],
    ranges: Mapping[str, tuple[int, int]],
    identity: BusIdentity | None = None,
) -> ArmCalibration:
    """Assemble the file contents. `motors` are (name, id, model, resolution) in joint order."""
    return ArmCalibration(robot=robot, bus=bus, identity=identity, motors=tuple(
        MotorCalibration(name=name, id=motor_id, model=model, resolution=resolution,
                         homing_offset=int(homing[name]), direction=int(directions[name]),
                         range_min=int(ranges[name][0]), range_max=int(ranges[name][1]))
        for name, motor_id, model, resolution in motors
    ))



def range_by_stall(
    read: Callable[[], tuple[int, float]],
    move_to: Callable[[int], None],
    resolution: int,
    step: int = 20,
    stall_load: float = 0.3,
    margin: int = 40,
    name: str = "joint",
) -> tuple[int, int]:
    """Find a joint's range by driving it slowly to each hard stop: (min, max) ticks, `margin` inside the stops.

    `read()` -> (position ticks, |load| as a fraction of stall torque); `move_to(ticks)` sets the goal (torque
    on, and a low current/torque limit set by the caller so that a stop is met gently). The joint advances
    `step` ticks at a time; a reading with load at or over `stall_load` that did not advance means the stop is
    reached, and the goal is pulled back to the last position at once, so the servo never keeps pushing."""
    start, _ = read()
    stops = []
    for direction in (-1, 1):
        position = start
        while True:
            goal = position + direction * step
            if not 0 <= goal < resolution:
                raise CalibrationError(
                    f"{name}: reached the end of the encoder turn ({goal} ticks) without meeting a stop: the "
                    f"range crosses the encoder's wrap point or the joint has no hard stop; record it by hand")
            move_to(goal)
            reached, load = read()
            if abs(load) >= stall_load and direction * (reached - position) < step // 2:
                move_to(reached)  # stop pushing: hold where it stalled
                stops.append(reached)
                break
            position = reached
        move_to(start)
    low, high = stops[0] + margin, stops[1] - margin
    if low >= high:
        raise CalibrationError(f"{name}: the stops at {stops[0]} and {stops[1]} ticks leave no range inside a "
                               f"{margin}-tick margin; check that the joint moves freely")
    return low, high
