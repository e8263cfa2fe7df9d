"""Run an exported policy with onnxruntime: what the policy node on the robot calls every control tick.

Needs onnxruntime and numpy only (no torch, no onnx package). Batch-1 calls go through I/O binding onto
preallocated buffers, the fastest and steadiest path measured on a loaded CPU (RECIPES.md section 8).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnxruntime as ort

from robolearn.export.metadata import MetadataError, PolicyMetadata
from robolearn.spec import RobotSpec

INPUT_NAME = "features"
OUTPUT_NAMES = ("action", "command")


class PolicyLoadError(ValueError):
    """The file is not a usable robolearn policy (missing, not ONNX, no or inconsistent metadata)."""


class PolicyMismatchError(ValueError):
    """The policy was exported for a different robot (name, commands, sizes, rate or limits)."""


class PolicyRuntime:
    """An exported policy: `runtime(features) -> command` (robot units), `runtime.action(features)`.

    `features` is one vector [obs_dim] or a batch [B, obs_dim], laid out as `metadata.feature_layout`.
    Non-finite features raise ValueError: the caller must stop the robot rather than act on them.
    """

    def __init__(self, path: str | os.PathLike, intra_op_threads: int = 1) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise PolicyLoadError(f"policy file {self.path} does not exist; export one with `robolearn export`")
        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        options.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own types (InvalidProtobuf, Fail, ...)
            raise PolicyLoadError(f"{self.path} is not an ONNX model onnxruntime {ort.__version__} can load "
                                  f"({type(exc).__name__}: {exc})") from None
        props = self._session.get_modelmeta().custom_metadata_map
        try:
            self.metadata = PolicyMetadata.from_props(props, str(self.path))
        except MetadataError as exc:
            raise PolicyLoadError(str(exc)) from None
        self._check_signature()
        n_obs, n_act = self.metadata.obs_dim, self.metadata.action_dim
        self._features = np.zeros((1, n_obs), np.float32)
        self._action = np.zeros((1, n_act), np.float32)
        self._command = np.zeros((1, n_act), np.float32)
        self._binding = self._session.io_binding()
        # Bound by pointer: each call copies the features into this buffer and ORT writes the outputs in place.
        self._binding.bind_input(INPUT_NAME, "cpu", 0, np.float32, list(self._features.shape),
                                 self._features.ctypes.data)
        for name, buffer in zip(OUTPUT_NAMES, (self._action, self._command)):
            self._binding.bind_output(name, "cpu", 0, np.float32, list(buffer.shape), buffer.ctypes.data)

    @property
    def obs_dim(self) -> int:
        return self.metadata.obs_dim

    @property
    def action_dim(self) -> int:
        return self.metadata.action_dim

    def __call__(self, features: np.ndarray) -> np.ndarray:
        """Command(s) in robot units, float64, shaped [n] or [B, n] like `features`."""
        return self.run(features)[1]

    def action(self, features: np.ndarray) -> np.ndarray:
        """Policy action(s) in [-1, 1], float64."""
        return self.run(features)[0]

    def run(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(action, command) from one inference."""
        x = np.asarray(features)
        single = x.ndim == 1
        if x.ndim not in (1, 2) or x.shape[-1] != self.obs_dim:
            raise ValueError(f"{self.path.name}: features have shape {x.shape}; expected ({self.obs_dim},) or "
                             f"(batch, {self.obs_dim}) laid out as {list(self.metadata.feature_layout)}")
        with np.errstate(over="ignore", invalid="ignore"):
            x = x.astype(np.float32, copy=False)  # checked after the cast: 1e39 is finite in float64, inf here
        if not np.all(np.isfinite(x)):
            bad = sorted({int(i) for i in np.argwhere(~np.isfinite(np.atleast_2d(x)))[:, 1]})
            raise ValueError(f"{self.path.name}: features at indices {bad} are NaN/inf or beyond float32's range "
                             f"(|x| > 3.4e38); refusing to compute a command from them")
        if single or x.shape[0] == 1:
            np.copyto(self._features, x.reshape(1, -1))
            self._session.run_with_iobinding(self._binding)
            action, command = self._action.astype(np.float64), self._command.astype(np.float64)
        else:
            outputs = self._session.run(list(OUTPUT_NAMES), {INPUT_NAME: x})
            action, command = (o.astype(np.float64) for o in outputs)
        if not (np.all(np.isfinite(action)) and np.all(np.isfinite(command))):
            raise ValueError(f"{self.path.name}: the policy produced a non-finite command from finite features; "
                             "refusing it (stop the robot and check the exported file)")
        if single:
            return action[0], command[0]
        return action, command

    def check_compatible(self, spec: RobotSpec, rate_tolerance: float = 0.01, check_limits: bool = False,
                         limits_atol: float = 1e-6) -> None:
        """Raise PolicyMismatchError naming every way `spec` differs from the robot the policy was made for:
        robot, command kind, command and joint names, sizes of observation blocks, control rate.

        Command limits are compared only with `check_limits`: the graph maps actions with the limits it was
        trained with, so the commands mean the same on a robot whose calibrated limits differ, and that
        robot's safety layer enforces its own limits on them.
        """
        meta = self.metadata
        problems = []
        if spec.name != meta.robot:
            problems.append(f"robot is {spec.name!r}, the policy is for {meta.robot!r}")
        if spec.command_kind is not meta.command_kind:
            problems.append(f"command kind is {spec.command_kind.value}, the policy sends {meta.command_kind.value}")
        if tuple(spec.command_names) != meta.command_names:
            problems.append(f"command names {list(spec.command_names)} (size {spec.action_size}) differ from the "
                            f"policy's {list(meta.command_names)} (size {meta.action_dim})")
        if tuple(spec.joint_names) != meta.joint_names:
            problems.append(f"joint names {list(spec.joint_names)} differ from the policy's {list(meta.joint_names)}")
        if check_limits and spec.action_size == meta.action_dim and not (
                np.allclose(spec.command_low, meta.command_low, rtol=0, atol=limits_atol)
                and np.allclose(spec.command_high, meta.command_high, rtol=0, atol=limits_atol)):
            problems.append(f"command limits [{spec.command_low.tolist()}, {spec.command_high.tolist()}] differ "
                            f"from the policy's [{meta.command_low.tolist()}, {meta.command_high.tolist()}]")
        for name, size in meta.feature_layout:
            shape = spec.observation_shapes.get(name)
            if shape is not None and int(np.prod(shape)) != size:
                problems.append(f"observation {name!r} has shape {tuple(shape)}, the policy's feature block has "
                                f"{size} entries")
        if abs(spec.control_rate_hz - meta.control_rate_hz) > rate_tolerance * meta.control_rate_hz:
            problems.append(f"control rate is {spec.control_rate_hz:g} Hz, the policy was trained at "
                            f"{meta.control_rate_hz:g} Hz (tolerance {rate_tolerance:.0%})")
        if problems:
            raise PolicyMismatchError(f"{self.path.name} does not fit this robot: " + "; ".join(problems))

    def _check_signature(self) -> None:
        """The graph's inputs and outputs must be what the metadata promises."""
        meta = self.metadata
        inputs = {i.name: i for i in self._session.get_inputs()}
        outputs = {o.name: o for o in self._session.get_outputs()}
        problems = []
        if list(inputs) != [INPUT_NAME]:
            problems.append(f"inputs are {list(inputs)}, expected [{INPUT_NAME!r}]")
        elif _last_dim(inputs[INPUT_NAME]) != meta.obs_dim:
            problems.append(f"input {INPUT_NAME!r} has shape {inputs[INPUT_NAME].shape}, but the feature layout "
                            f"{list(meta.feature_layout)} sums to {meta.obs_dim}")
        missing = [name for name in OUTPUT_NAMES if name not in outputs]
        if missing:
            problems.append(f"outputs are {list(outputs)}, expected {list(OUTPUT_NAMES)}")
        for name in OUTPUT_NAMES:
            if name in outputs and _last_dim(outputs[name]) != meta.action_dim:
                problems.append(f"output {name!r} has shape {outputs[name].shape}, but the metadata names "
                                f"{meta.action_dim} commands {list(meta.command_names)}")
        for arg in (*inputs.values(), *outputs.values()):
            if arg.type != "tensor(float)":
                problems.append(f"{arg.name!r} is {arg.type}, expected tensor(float)")
        if problems:
            raise PolicyLoadError(f"{self.path}: model and robolearn metadata disagree: " + "; ".join(problems))


def _last_dim(arg) -> int | None:
    shape = arg.shape
    if len(shape) != 2 or not isinstance(shape[1], int):
        return None
    return shape[1]
