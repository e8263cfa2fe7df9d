"""An excitation recording: the commands sent to a robot and what it measured, with true timestamps.

A plain `.npz` file (numpy only, so a robot-side install writes it): `commands` (T, n) as requested,
`applied` (T, n) as the safety layer let them through, `command_times` (T,) on the robot's clock when
each was sent, and for every observation key `obs/<key>` (T+1, ...) with `obs_times` (T+1,): the
reading before the first command and after every one. `meta` (JSON) names the robot, its control rate
and how it was driven (sim options, or the hardware), so a fit refuses a recording of another robot
or rate before it starts.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

FORMAT_VERSION = 1


class RecordingError(ValueError):
    """A recording is missing, malformed, or does not fit the robot it is used with."""


@dataclass
class Recording:
    robot: str
    control_rate_hz: float
    commands: np.ndarray  # (T, n) requested
    applied: np.ndarray  # (T, n) after safety
    command_times: np.ndarray  # (T,) s, robot clock
    observations: dict[str, np.ndarray]  # key -> (T+1, ...)
    obs_times: np.ndarray  # (T+1,) s, robot clock
    meta: dict[str, Any] = field(default_factory=dict)  # JSON-able: source, sim options, plan, truth

    def __post_init__(self) -> None:
        t = len(self.commands)
        if t == 0:
            raise RecordingError(f"recording of {self.robot}: no commands")
        if self.applied.shape != self.commands.shape or self.command_times.shape != (t,):
            raise RecordingError(f"recording of {self.robot}: commands {self.commands.shape}, applied "
                                 f"{self.applied.shape} and command_times {self.command_times.shape} disagree")
        if self.obs_times.shape != (t + 1,):
            raise RecordingError(f"recording of {self.robot}: obs_times has {len(self.obs_times)} rows, "
                                 f"expected steps + 1 = {t + 1}")
        for key, values in self.observations.items():
            if len(values) != t + 1:
                raise RecordingError(f"recording of {self.robot}: observation {key!r} has {len(values)} rows, "
                                     f"expected steps + 1 = {t + 1}")
        if np.any(np.diff(self.command_times) < 0) or np.any(np.diff(self.obs_times) < 0):
            raise RecordingError(f"recording of {self.robot}: timestamps go backwards")

    def __len__(self) -> int:
        return len(self.commands)

    @property
    def achieved_rate_hz(self) -> float:
        """Commands per second the loop really ran at (from the true timestamps)."""
        span = float(self.command_times[-1] - self.command_times[0])
        return (len(self) - 1) / span if len(self) > 1 and span > 0 else float("inf")

    def check_robot(self, robot: str, control_rate_hz: float, tolerance: float = 0.05) -> None:
        """Raise RecordingError unless this recording is of `robot`, commanded at `control_rate_hz`."""
        if self.robot != robot:
            raise RecordingError(f"the recording is of robot {self.robot!r}, not {robot!r}: record the robot you "
                                 f"fit (robolearn sysid excite {robot} --out ...)")
        if abs(self.control_rate_hz - control_rate_hz) > 1e-6 * control_rate_hz:
            raise RecordingError(f"the recording was commanded at {self.control_rate_hz} Hz, the {robot} sim runs "
                                 f"at {control_rate_hz} Hz: record at the robot's control rate")
        achieved = self.achieved_rate_hz
        if np.isfinite(achieved) and abs(achieved - control_rate_hz) > tolerance * control_rate_hz:
            raise RecordingError(f"the recording's loop ran at {achieved:.2f} Hz (true timestamps), not the "
                                 f"{control_rate_hz} Hz it was meant to: a replay at the nominal rate would not "
                                 f"match it; record again on a less loaded machine")

    def save(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"format_version": FORMAT_VERSION, "robot": self.robot, "control_rate_hz": self.control_rate_hz,
                **self.meta}
        arrays = {f"obs/{k}": v for k, v in self.observations.items()}
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(tmp, commands=self.commands, applied=self.applied, command_times=self.command_times,
                            obs_times=self.obs_times, meta=np.array(json.dumps(meta)), **arrays)
        os.replace(tmp, path)  # a crash never leaves half a recording under the real name
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Recording":
        path = Path(path)
        if not path.is_file():
            raise RecordingError(f"recording {path} does not exist; make one with `robolearn sysid excite`")
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                arrays = {k: np.array(data[k]) for k in data.files}
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
            raise RecordingError(f"{path} is not a robolearn excitation recording ({exc})") from None
        if meta.get("format_version") != FORMAT_VERSION:
            raise RecordingError(f"{path}: recording format {meta.get('format_version')!r}, this robolearn reads "
                                 f"{FORMAT_VERSION}")
        robot, rate = meta.pop("robot"), float(meta.pop("control_rate_hz"))
        meta.pop("format_version")
        try:
            return cls(robot=robot, control_rate_hz=rate, commands=arrays["commands"], applied=arrays["applied"],
                       command_times=arrays["command_times"], obs_times=arrays["obs_times"],
                       observations={k[4:]: v for k, v in arrays.items() if k.startswith("obs/")}, meta=meta)
        except KeyError as exc:
            raise RecordingError(f"{path}: recording lacks {exc}") from None
