"""Safety limits as data, loaded and validated from a robot's `calibration/<robot>/limits.yaml`.

Schema (version 2)::

    schema_version: 2
    robot: so101_arm
    command_kind: joint_position        # joint_position | joint_velocity | joint_effort | twist
    control_rate_hz: 50
    watchdog_timeout_s: 0.5             # no fresh command for this long: stop
    stale_observation_s: 0.2            # newest observation older than this: stop
    commands:                           # one entry per action element, in action order
      - name: shoulder_pan
        low: -1.9                       # absolute command limits
        high: 1.9
        max_velocity: 3.0               # rate limit in SI units per second, as ros2_control's joint_limits:
                                        #   max_velocity (joint_position commands, rad/s or m/s),
                                        #   max_acceleration (joint_velocity and twist commands),
                                        #   max_effort_rate (joint_effort commands, N·m/s);
                                        # the controller multiplies it by the measured time between commands
        position: [-2.0, 2.0]           # optional: measured-position limits (velocity/effort commands)
        effort: 3.0                     # optional: |measured effort| above this latches the e-stop
    hold: measured                      # optional, position commands: what a stop holds, latched once when
                                        #   it begins: the position measured then (default), or the last
                                        #   command that passed (last_command; stiffer under load)
    torque_off_after_hold_s: 30         # optional, default never: once a stop has held this long, switch the
                                        #   actuators' torque off (only for robots that can: the Robot says);
                                        #   the next command that passes switches it on again
    workspace:                          # optional box on the point the robot's workspace model reports
      low: [-0.4, -0.4, 0.0]
      high: [0.4, 0.4, 0.5]

Every problem is reported with the file and the field, so a user knows what to fix. Version 1 files gave
the rate limit per control step (`max_step`), which tied a file to one loop rate; they are refused with the
converted value to write instead.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from robolearn.data_dirs import project_data_dir
from robolearn.files import read_yaml
from robolearn.spec import CommandKind

SCHEMA_VERSION = 2
# The rate-limit key of each command kind: the derivative of the command, named as ros2_control names it.
RATE_KEY = {
    CommandKind.JOINT_POSITION: "max_velocity",
    CommandKind.JOINT_VELOCITY: "max_acceleration",
    CommandKind.TWIST: "max_acceleration",
    CommandKind.JOINT_EFFORT: "max_effort_rate",
}


class LimitsError(ValueError):
    """A limits file is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class CommandLimit:
    name: str
    low: float
    high: float
    max_rate: float = math.inf  # largest change of the command per second (SI units)
    position: tuple[float, float] | None = None
    effort: float | None = None


@dataclass(frozen=True)
class SafetyLimits:
    robot: str
    command_kind: CommandKind
    control_rate_hz: float
    commands: tuple[CommandLimit, ...]
    watchdog_timeout_s: float = 0.5
    stale_observation_s: float = 0.25
    workspace_low: np.ndarray | None = None
    workspace_high: np.ndarray | None = None
    hold: str = "measured"  # position robots' stop target: one of HOLD_TARGETS
    torque_off_after_hold_s: float | None = None  # None: a stop holds for as long as it lasts
    source: str = "<dict>"  # the file these limits were read from, for every message about them

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.commands)

    @property
    def low(self) -> np.ndarray:
        return np.array([c.low for c in self.commands], dtype=np.float64)

    @property
    def high(self) -> np.ndarray:
        return np.array([c.high for c in self.commands], dtype=np.float64)

    @property
    def max_rate(self) -> np.ndarray:
        """Largest change of each command per second (units of the command per s)."""
        return np.array([c.max_rate for c in self.commands], dtype=np.float64)

    @property
    def period_s(self) -> float:
        return 1.0 / self.control_rate_hz

    @classmethod
    def from_dict(cls, data: Any, source: str = "<dict>") -> "SafetyLimits":
        return _parse(data, source)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> "SafetyLimits":
        data = read_yaml(path, LimitsError,
                         f"limits file {path} does not exist; create it (see calibration/README.md for the schema) "
                         f"or pass the path of the robot's limits.yaml")
        return _parse(data, str(path))

    def to_dict(self) -> dict:
        out: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "robot": self.robot,
            "command_kind": self.command_kind.value,
            "control_rate_hz": self.control_rate_hz,
            "watchdog_timeout_s": self.watchdog_timeout_s,
            "stale_observation_s": self.stale_observation_s,
            "commands": [],
        }
        if self.hold != "measured":
            out["hold"] = self.hold
        if self.torque_off_after_hold_s is not None:
            out["torque_off_after_hold_s"] = self.torque_off_after_hold_s
        for c in self.commands:
            entry: dict[str, Any] = {"name": c.name, "low": c.low, "high": c.high}
            if math.isfinite(c.max_rate):
                entry[RATE_KEY[self.command_kind]] = c.max_rate
            if c.position is not None:
                entry["position"] = list(c.position)
            if c.effort is not None:
                entry["effort"] = c.effort
            out["commands"].append(entry)
        if self.workspace_low is not None:
            out["workspace"] = {"low": self.workspace_low.tolist(), "high": self.workspace_high.tolist()}
        return out


def calibration_dir() -> Path:
    """Where per-robot calibration lives: $ROBOLEARN_CALIBRATION_DIR, else the checkout's calibration/ (or
    the copy an installed wheel keeps under <prefix>/share/robolearn/)."""
    env = os.environ.get("ROBOLEARN_CALIBRATION_DIR")
    if env:
        return Path(env)
    return project_data_dir("calibration")


def default_limits_path(robot: str) -> Path:
    """`<calibration dir>/<robot>/limits.yaml`, honouring $ROBOLEARN_CALIBRATION_DIR."""
    return calibration_dir() / robot / "limits.yaml"


def load_robot_limits(robot: str, path: str | os.PathLike | None = None) -> SafetyLimits:
    """Load the limits of `robot` from `path` or from `calibration/<robot>/limits.yaml`."""
    limits = SafetyLimits.from_yaml(path if path is not None else default_limits_path(robot))
    if limits.robot != robot:
        raise LimitsError(
            f"limits file {limits.source} is for robot {limits.robot!r}, not {robot!r}: refusing to drive one "
            f"robot with another's limits"
        )
    return limits


def _per_step_message(data: Mapping[str, Any], source: str) -> str:
    """How to convert a version-1 file (rate limits per control step) to SI units, with its own numbers."""
    try:
        kind = CommandKind(data.get("command_kind"))
        rate = float(data["control_rate_hz"])
    except (KeyError, TypeError, ValueError):
        kind, rate = None, None
    key = RATE_KEY.get(kind, "max_velocity") if kind else "max_velocity (or max_acceleration for velocity commands)"
    lines = []
    for entry in data.get("commands") or []:
        if isinstance(entry, Mapping) and "max_step" in entry and rate is not None:
            try:
                lines.append(f"{entry.get('name')}: {key}: {float(entry['max_step']) * rate:g}")
            except (TypeError, ValueError):
                pass
    converted = ("; write " + ", ".join(lines)) if lines else ""
    return (f"{source}: rate limits per control step (max_step, schema_version 1) are no longer read: they tied "
            f"the file to one loop rate. Give them per second as {key} = max_step x control_rate_hz and set "
            f"schema_version: {SCHEMA_VERSION}{converted}")


def _number(value: Any, where: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LimitsError(f"{where}: expected a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise LimitsError(f"{where}: must be finite, got {value}")
    if positive and value <= 0:
        raise LimitsError(f"{where}: must be > 0, got {value}")
    return value


def _pair(value: Any, where: str) -> tuple[float, float]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise LimitsError(f"{where}: expected [low, high], got {value!r}")
    lo, hi = _number(value[0], f"{where}[0]"), _number(value[1], f"{where}[1]")
    if lo > hi:
        raise LimitsError(f"{where}: low {lo} is above high {hi}")
    return lo, hi


_TOP_KEYS = {
    "schema_version", "robot", "command_kind", "control_rate_hz", "watchdog_timeout_s",
    "stale_observation_s", "commands", "workspace", "hold", "torque_off_after_hold_s",
}
HOLD_TARGETS = ("measured", "last_command")
_COMMAND_KEYS = {"name", "low", "high", "position", "effort"}


def _parse(data: Any, source: str) -> SafetyLimits:
    if not isinstance(data, Mapping):
        raise LimitsError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise LimitsError(f"{source}: unknown keys {sorted(unknown)}; allowed: {sorted(_TOP_KEYS)}")
    for key in ("schema_version", "robot", "command_kind", "control_rate_hz", "commands"):
        if key not in data:
            raise LimitsError(f"{source}: missing required key {key!r}")
    if data["schema_version"] == 1 or any(isinstance(c, Mapping) and "max_step" in c
                                          for c in data.get("commands") or []):
        raise LimitsError(_per_step_message(data, source))
    if data["schema_version"] != SCHEMA_VERSION:
        raise LimitsError(
            f"{source}: schema_version {data['schema_version']!r} is not supported (this robolearn reads "
            f"{SCHEMA_VERSION}); re-run calibration or migrate the file"
        )
    try:
        kind = CommandKind(data["command_kind"])
    except ValueError:
        raise LimitsError(
            f"{source}: command_kind {data['command_kind']!r} unknown; use one of {[k.value for k in CommandKind]}"
        ) from None
    commands = data["commands"]
    if not isinstance(commands, list) or not commands:
        raise LimitsError(f"{source}: 'commands' must be a non-empty list")
    parsed: list[CommandLimit] = []
    for i, entry in enumerate(commands):
        where = f"{source}: commands[{i}]"
        if not isinstance(entry, Mapping):
            raise LimitsError(f"{where}: expected a mapping")
        rate_key = RATE_KEY[kind]
        bad = set(entry) - _COMMAND_KEYS - {rate_key}
        if bad:
            other = sorted(bad & set(RATE_KEY.values()))
            hint = f" ({other[0]} is for other command kinds; a {kind.value} command takes {rate_key})" if other else ""
            raise LimitsError(f"{where}: unknown keys {sorted(bad)}; allowed: {sorted(_COMMAND_KEYS | {rate_key})}"
                              f"{hint}")
        for key in ("name", "low", "high"):
            if key not in entry:
                raise LimitsError(f"{where}: missing {key!r}")
        low, high = _pair([entry["low"], entry["high"]], f"{where} low/high")
        parsed.append(
            CommandLimit(
                name=str(entry["name"]),
                low=low,
                high=high,
                max_rate=_number(entry[rate_key], f"{where}.{rate_key}", positive=True)
                if rate_key in entry else math.inf,
                position=_pair(entry["position"], f"{where}.position") if "position" in entry else None,
                effort=_number(entry["effort"], f"{where}.effort", positive=True) if "effort" in entry else None,
            )
        )
    rate_hz = _number(data["control_rate_hz"], f"{source}: control_rate_hz", positive=True)
    for i, c in enumerate(parsed):
        step = c.max_rate / rate_hz
        # For every kind: a step that can cross the command's whole range in one period never limits anything.
        if math.isfinite(step) and step > c.high - c.low:
            raise LimitsError(
                f"{source}: commands[{i}].{RATE_KEY[kind]} = {c.max_rate:g} allows a step of {step:g} per control "
                f"period at {rate_hz:g} Hz, more than {c.name}'s whole range [{c.low:g}, {c.high:g}]: the rate "
                f"limit would never act. Use at most {(c.high - c.low) * rate_hz:g}, or omit it deliberately")
    names = [c.name for c in parsed]
    if len(set(names)) != len(names):
        raise LimitsError(f"{source}: duplicate command names in {names}")
    ws_low = ws_high = None
    if "workspace" in data:
        ws = data["workspace"]
        if not isinstance(ws, Mapping) or set(ws) != {"low", "high"}:
            raise LimitsError(f"{source}: workspace must be a mapping with exactly 'low' and 'high'")
        ws_low = np.array([_number(v, f"{source}: workspace.low") for v in ws["low"]])
        ws_high = np.array([_number(v, f"{source}: workspace.high") for v in ws["high"]])
        if ws_low.shape != ws_high.shape or np.any(ws_low > ws_high):
            raise LimitsError(f"{source}: workspace low/high must have equal length and low <= high")
    return SafetyLimits(
        robot=str(data["robot"]),
        command_kind=kind,
        control_rate_hz=rate_hz,
        commands=tuple(parsed),
        watchdog_timeout_s=_number(data.get("watchdog_timeout_s", 0.5), f"{source}: watchdog_timeout_s",
                                   positive=True),
        stale_observation_s=_number(data.get("stale_observation_s", 0.25), f"{source}: stale_observation_s",
                                    positive=True),
        workspace_low=ws_low,
        workspace_high=ws_high,
        hold=_hold(data.get("hold", "measured"), kind, source),
        torque_off_after_hold_s=(_number(data["torque_off_after_hold_s"], f"{source}: torque_off_after_hold_s",
                                         positive=True) if data.get("torque_off_after_hold_s") is not None else None),
        source=source,
    )


def _hold(value: Any, kind: CommandKind, source: str) -> str:
    if value not in HOLD_TARGETS:
        raise LimitsError(f"{source}: hold {value!r} unknown; use one of {list(HOLD_TARGETS)}")
    if value != "measured" and kind is not CommandKind.JOINT_POSITION:
        raise LimitsError(f"{source}: hold: {value} applies to joint_position commands only; a "
                          f"{kind.value} robot's stop is a ramp to zero")
    return value
