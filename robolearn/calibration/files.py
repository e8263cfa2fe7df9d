"""Reading and writing calibration YAML files: one header (schema version, kind, robot), atomic saves.

Every calibration file starts with `schema_version` and `kind` (motors, camera_intrinsics, hand_eye). A file
written by an older schema is refused rather than guessed at: the user re-runs the procedure.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import yaml

from robolearn.files import read_yaml, write_atomically

SCHEMA_VERSION = 1


class CalibrationError(ValueError):
    """A calibration file is missing, malformed, from another robot, or from an older schema."""


def load_calibration_yaml(path: str | os.PathLike, kind: str, allow_example: bool = False) -> dict[str, Any]:
    """Load `path`, check it is a calibration of `kind` with the current schema, and return the mapping.

    Files marked `example: true` (the documented samples in calibration/) hold no real robot's numbers and
    are refused unless `allow_example`."""
    path = Path(path)
    data = read_yaml(path, CalibrationError,
                     f"calibration file {path} does not exist: run `robolearn calibrate {_command_for(kind)}` "
                     f"(see calibration/README.md) or pass the right path")
    if not isinstance(data, Mapping):
        raise CalibrationError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise CalibrationError(
            f"{path}: schema_version is {version!r}, this version of robolearn reads {SCHEMA_VERSION}; "
            f"re-run `robolearn calibrate {_command_for(kind)}` to write a current file"
        )
    if data.get("kind") != kind:
        raise CalibrationError(f"{path}: is a {data.get('kind')!r} calibration, expected {kind!r}")
    if data.get("example") and not allow_example:
        raise CalibrationError(
            f"{path} is an example file, not the calibration of a real robot: run `robolearn calibrate "
            f"{_command_for(kind)}` to write yours")
    return dict(data)


def save_calibration_yaml(path: str | os.PathLike, kind: str, body: Mapping[str, Any]) -> Path:
    """Write header + `body` to `path` atomically (a crash never leaves half a calibration behind)."""
    data = {"schema_version": SCHEMA_VERSION, "kind": kind, **body}
    return write_atomically(path, yaml.safe_dump(data, sort_keys=False, default_flow_style=None))


def require(data: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in data:
        raise CalibrationError(f"{where}: missing {key!r}")
    return data[key]


def require_int(data: Mapping[str, Any], key: str, where: str) -> int:
    value = require(data, key, where)
    if isinstance(value, bool) or not isinstance(value, int):
        raise CalibrationError(f"{where}.{key}: expected an integer, got {value!r}")
    return value


def _command_for(kind: str) -> str:
    return {"motors": "motors", "camera_intrinsics": "camera", "hand_eye": "handeye"}.get(kind, kind)
