"""Compile a generated policy C file with the system compiler and call it through ctypes.

Used to verify the generated C against onnxruntime (export, tests) and to time it (bench). On the robot the
C file is built by the user's own toolchain; this is the reference build.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np


class CompileError(RuntimeError):
    """No C compiler was found or the generated C did not compile."""


def find_compiler() -> str | None:
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def compile_shared(source: str | os.PathLike, output: str | os.PathLike, opt: str = "-O2") -> Path:
    """Build `source` into the shared library `output` (-std=c99, warnings are errors)."""
    compiler = find_compiler()
    if compiler is None:
        raise CompileError("no C compiler found (tried $CC, cc, gcc, clang); install one, or skip the C check")
    output = Path(output)
    cmd = [compiler, "-std=c99", opt, "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-o", str(output),
           str(source), "-lm"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise CompileError(f"{' '.join(cmd)} failed:\n{result.stderr.strip()}")
    return output


class CPolicy:
    """A compiled policy library: `run(features) -> (status, action, command)` for one feature vector."""

    def __init__(self, library: str | os.PathLike) -> None:
        self._lib = ctypes.CDLL(str(library))
        self.obs_dim = ctypes.c_int.in_dll(self._lib, "robolearn_policy_obs_dim").value
        self.act_dim = ctypes.c_int.in_dll(self._lib, "robolearn_policy_act_dim").value
        pointer = ctypes.POINTER(ctypes.c_float)
        self._run = self._lib.robolearn_policy_run
        self._run.argtypes = [pointer, pointer, pointer]
        self._run.restype = ctypes.c_int
        self._features = np.zeros(self.obs_dim, np.float32)
        self._action = np.zeros(self.act_dim, np.float32)
        self._command = np.zeros(self.act_dim, np.float32)
        self._args = tuple(a.ctypes.data_as(pointer) for a in (self._features, self._action, self._command))

    def run(self, features: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
        np.copyto(self._features, np.asarray(features).reshape(self.obs_dim), casting="unsafe")
        status = self._run(*self._args)
        return status, self._action.copy(), self._command.copy()


def verify_c(source: str | os.PathLike, onnx_path: str | os.PathLike, features: np.ndarray,
             build_dir: str | os.PathLike) -> tuple[float, float]:
    """Compile `source` and run it and onnxruntime on every row of `features`.

    Returns the largest |action| and |command| differences; raises CompileError if it does not build and
    ValueError if the C refuses an input onnxruntime accepts.
    """
    from robolearn.export.runtime import PolicyRuntime

    library = compile_shared(source, Path(build_dir) / (Path(source).stem + ".so"))
    c_policy = CPolicy(library)
    reference_action, reference_command = PolicyRuntime(onnx_path).run(np.asarray(features, np.float32))
    action_err = command_err = 0.0
    for row, ref_a, ref_c in zip(features, reference_action, reference_command):
        status, action, command = c_policy.run(row)
        if status != 0:
            raise ValueError(f"generated C returned status {status} on finite features {row.tolist()}")
        action_err = max(action_err, float(np.abs(action - ref_a).max()))
        command_err = max(command_err, float(np.abs(command - ref_c).max()))
    return action_err, command_err


def write_verified_c(result, c_path: Path) -> str:
    """Generate C for an export result's ONNX file and check it against onnxruntime on the export's parity
    inputs; a C file that disagrees is deleted. Returns what was done, for the user."""
    from robolearn.export.c_codegen import write_c

    c_path = Path(c_path)
    write_c(result.path, c_path)
    if find_compiler() is None:
        return f"wrote {c_path}, NOT verified: no C compiler found (install cc/gcc to check it against onnxruntime)"
    meta = result.metadata
    try:
        with tempfile.TemporaryDirectory() as build_dir:
            action_err, command_err = verify_c(c_path, result.path, result.features, build_dir)
    except (CompileError, ValueError):
        c_path.unlink(missing_ok=True)
        raise
    if action_err > meta.parity_atol or command_err > meta.command_atol:
        c_path.unlink(missing_ok=True)
        raise ValueError(f"generated C disagrees with onnxruntime (max |action error| {action_err:.2e}, "
                         f"|command error| {command_err:.2e}); {c_path} was not kept")
    return (f"wrote {c_path}: matches onnxruntime on {len(result.features)} inputs (max |action error| "
            f"{action_err:.2e}, |command error| {command_err:.2e})")
