"""What an exported policy file says about itself: robot, command layout, features, rate, provenance.

The fields are stored in the ONNX model's `metadata_props` as one key per field (`robolearn.<field>`, the
value JSON-encoded), so any ONNX tool shows them and onnxruntime reads them without the `onnx` package.
`PolicyMetadata.validate` is run on export and on load: a file whose fields contradict each other is
refused before it can drive a robot.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from robolearn.spec import CommandKind

EXPORT_FORMAT = "robolearn-policy"
EXPORT_FORMAT_VERSION = 1
KEY_PREFIX = "robolearn."

# How the graph turns a policy action a in [-1, 1] into a robot command.
AFFINE = "affine"  # low + (a + 1) / 2 * (high - low)       (Task.action_to_command default)
POSITION_DELTA = "position_delta"  # clip(joint_pos + max_delta * a, low, high)   (PositionDeltaTask)
COMMAND_MAPPINGS = (AFFINE, POSITION_DELTA)


class MetadataError(ValueError):
    """Policy metadata is missing, malformed or contradicts itself or the model."""


@dataclass(frozen=True)
class PolicyMetadata:
    robot: str
    command_kind: CommandKind
    command_names: tuple[str, ...]
    joint_names: tuple[str, ...]
    feature_layout: tuple[tuple[str, int], ...]
    control_rate_hz: float
    command_low: np.ndarray
    command_high: np.ndarray
    task_id: str
    algo: str
    command_mapping: str
    max_delta: float | None = None  # position_delta only
    lipschitz_certificate: Any = None  # what the learner's certificate() reported (number or mapping)
    checkpoint_sha256: str = ""
    robolearn_version: str = ""
    opset: int = 0
    parity_atol: float = 0.0  # onnxruntime matched PyTorch to this absolute error on export
    parity_samples: int = 0
    format: str = EXPORT_FORMAT
    format_version: int = EXPORT_FORMAT_VERSION

    def __post_init__(self) -> None:
        object.__setattr__(self, "command_kind", _enum(self.command_kind))
        object.__setattr__(self, "command_names", tuple(str(n) for n in self.command_names))
        object.__setattr__(self, "joint_names", tuple(str(n) for n in self.joint_names))
        object.__setattr__(self, "feature_layout", _layout(self.feature_layout))
        object.__setattr__(self, "command_low", np.asarray(self.command_low, dtype=np.float64))
        object.__setattr__(self, "command_high", np.asarray(self.command_high, dtype=np.float64))
        self.validate()

    @property
    def obs_dim(self) -> int:
        return sum(size for _, size in self.feature_layout)

    @property
    def action_dim(self) -> int:
        return len(self.command_names)

    @property
    def command_atol(self) -> float:
        """Parity tolerance on commands: `parity_atol` relative to the command magnitude (float32 rounding)."""
        scale = max(1.0, float(np.abs(self.command_low).max()), float(np.abs(self.command_high).max()))
        return self.parity_atol * scale

    def block_slice(self, name: str) -> slice:
        """Where the feature block `name` sits in the feature vector."""
        start = 0
        for block, size in self.feature_layout:
            if block == name:
                return slice(start, start + size)
            start += size
        raise MetadataError(f"feature layout {list(self.feature_layout)} has no block {name!r}")

    def validate(self) -> None:
        problems = []
        if self.format != EXPORT_FORMAT:
            problems.append(f"format is {self.format!r}, expected {EXPORT_FORMAT!r}")
        if self.format_version != EXPORT_FORMAT_VERSION:
            problems.append(f"format_version {self.format_version} is not supported (this robolearn reads "
                            f"{EXPORT_FORMAT_VERSION}); re-export the policy with this robolearn version")
        n = self.action_dim
        if n == 0:
            problems.append("command_names is empty")
        if len(set(self.command_names)) != n:
            problems.append(f"command_names has duplicates: {list(self.command_names)}")
        if self.command_low.shape != (n,) or self.command_high.shape != (n,):
            problems.append(f"command limits have shapes {self.command_low.shape} and {self.command_high.shape}, "
                            f"expected ({n},) to match command_names")
        elif not (np.all(np.isfinite(self.command_low)) and np.all(np.isfinite(self.command_high))
                  and np.all(self.command_low <= self.command_high)):
            problems.append("command limits must be finite with low <= high")
        if not (isinstance(self.control_rate_hz, (int, float)) and math.isfinite(self.control_rate_hz)
                and self.control_rate_hz > 0):
            problems.append(f"control_rate_hz must be a positive number, got {self.control_rate_hz!r}")
        if self.obs_dim <= 0:
            problems.append("feature_layout is empty")
        names = [name for name, _ in self.feature_layout]
        if len(set(names)) != len(names):
            problems.append(f"feature_layout has duplicate block names: {names}")
        if self.command_mapping not in COMMAND_MAPPINGS:
            problems.append(f"command_mapping {self.command_mapping!r} unknown; expected one of {COMMAND_MAPPINGS}")
        if self.command_mapping == POSITION_DELTA:
            if self.command_kind is not CommandKind.JOINT_POSITION:
                problems.append(f"position_delta mapping needs joint_position commands, not {self.command_kind.value}")
            if not (isinstance(self.max_delta, (int, float)) and self.max_delta > 0):
                problems.append(f"position_delta mapping needs max_delta > 0, got {self.max_delta!r}")
            size = dict(self.feature_layout).get("joint_pos")
            if size is None or size < n:
                problems.append(f"position_delta mapping needs a 'joint_pos' feature block of at least {n} "
                                f"entries; the layout is {list(self.feature_layout)}")
        if problems:
            raise MetadataError("inconsistent policy metadata: " + "; ".join(problems))

    def to_props(self) -> dict[str, str]:
        """The `metadata_props` entries: `robolearn.<field>` -> JSON."""
        props = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                value = value.tolist()
            elif isinstance(value, CommandKind):
                value = value.value
            elif f.name == "feature_layout":
                value = [[name, size] for name, size in value]
            props[KEY_PREFIX + f.name] = json.dumps(value)
        return props

    @classmethod
    def from_props(cls, props: Mapping[str, str], source: str = "model") -> "PolicyMetadata":
        if props.get(KEY_PREFIX + "format") is None:
            raise MetadataError(
                f"{source} has no robolearn metadata (no '{KEY_PREFIX}format' entry in metadata_props): it was "
                f"not written by `robolearn export`; export the checkpoint with `robolearn export`"
            )
        values: dict[str, Any] = {}
        required = []
        for f in dataclasses.fields(cls):
            raw = props.get(KEY_PREFIX + f.name)
            if raw is None:
                if f.default is dataclasses.MISSING:
                    required.append(f.name)
                continue
            try:
                values[f.name] = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise MetadataError(f"{source}: metadata {KEY_PREFIX + f.name} is not valid JSON ({exc})") from None
        if required:
            raise MetadataError(f"{source}: robolearn metadata lacks {sorted(required)}; re-export the policy")
        try:
            return cls(**values)
        except MetadataError as exc:
            raise MetadataError(f"{source}: {exc}") from None
        except (TypeError, ValueError) as exc:
            raise MetadataError(f"{source}: malformed robolearn metadata ({exc})") from None


def _enum(value: Any) -> CommandKind:
    try:
        return CommandKind(value)
    except ValueError:
        kinds = [k.value for k in CommandKind]
        raise MetadataError(f"command_kind {value!r} unknown; expected one of {kinds}") from None


def _layout(layout: Any) -> tuple[tuple[str, int], ...]:
    try:
        blocks = tuple((str(name), size) for name, size in layout)
    except (TypeError, ValueError):
        raise MetadataError(f"feature_layout must be a list of [name, size] pairs, got {layout!r}") from None
    for name, size in blocks:
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size <= 0:
            raise MetadataError(f"feature_layout block {name!r} has size {size!r}; sizes must be positive integers")
    return tuple((name, int(size)) for name, size in blocks)
