"""Checkpoint files: one name, one format, and loading that can never run code.

A checkpoint is read with `torch.load(weights_only=True)`, whose unpickler only rebuilds tensors and plain
containers, so a shared or tampered file cannot execute anything. What a learner saves beyond tensors
(numpy arrays in replay buffers and normalisers, the numpy RNG state) is therefore stored as raw bytes in a
uint8 tensor plus its dtype and shape, and rebuilt on load; anything else that is not a plain type is
refused when saving, so an unsafe object can never get into a file in the first place.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from robolearn.files import save_torch_atomically

CHECKPOINT_NAME = "checkpoint.pt"
CHECKPOINT_FORMAT = "robolearn-checkpoint"
# 2: numpy arrays as tagged byte tensors, read with weights_only=True. 1 held pickled numpy objects.
CHECKPOINT_VERSION = 2
_NDARRAY_TAG = "__ndarray__"


class CheckpointError(ValueError):
    """A checkpoint is corrupt, unsafe, of another format, or does not match the env or learner."""


def encode(obj: Any, where: str = "checkpoint") -> Any:
    """`obj` with every numpy array and scalar turned into types `weights_only` loading accepts."""
    if isinstance(obj, torch.Tensor) or obj is None or isinstance(obj, (bool, int, float, str, bytes)):
        return obj
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise TypeError(f"{where}: numpy array of Python objects cannot be stored safely")
        raw = np.ascontiguousarray(obj)
        return {_NDARRAY_TAG: torch.from_numpy(raw.reshape(-1).view(np.uint8).copy()),
                "dtype": raw.dtype.str, "shape": list(raw.shape)}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Mapping):
        encoded = {key: encode(value, f"{where}.{key}") for key, value in obj.items()}
        return OrderedDict(encoded) if isinstance(obj, OrderedDict) else encoded
    if isinstance(obj, (list, tuple)):
        items = [encode(value, f"{where}[{i}]") for i, value in enumerate(obj)]
        return items if isinstance(obj, list) else tuple(items)
    raise TypeError(f"{where}: a {type(obj).__name__} cannot be stored in a checkpoint safely; "
                    "store tensors, numpy arrays and plain types")


def decode(obj: Any) -> Any:
    """Inverse of `encode`."""
    if isinstance(obj, Mapping):
        if _NDARRAY_TAG in obj:
            raw = obj[_NDARRAY_TAG].numpy().tobytes()
            return np.frombuffer(raw, dtype=np.dtype(obj["dtype"])).reshape(obj["shape"]).copy()
        decoded = {key: decode(value) for key, value in obj.items()}
        return OrderedDict(decoded) if isinstance(obj, OrderedDict) else decoded
    if isinstance(obj, list):
        return [decode(value) for value in obj]
    if isinstance(obj, tuple):
        return tuple(decode(value) for value in obj)
    return obj


def save_checkpoint(path: str | os.PathLike, payload: Mapping[str, Any]) -> str:
    """Write atomically (temp file + rename) so a crash mid-write never leaves a broken checkpoint.

    Returns the SHA-256 of the file, which export records as the policy's provenance.
    """
    header = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION}
    data = save_torch_atomically(path, encode({**header, **payload}))
    return hashlib.sha256(data).hexdigest()


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Read a checkpoint without running any code stored in it; every refusal says what to do."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"checkpoint {path} is a directory; give the file inside it "
                              f"(usually {path / CHECKPOINT_NAME})")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged or unsafe file
        unsafe = re.search(r"GLOBAL (\S+)", str(exc))
        if unsafe:
            raise CheckpointError(
                f"{path} asks to load the Python object {unsafe.group(1)}, and loading objects can run code: "
                "refused. Only tensors and plain data are read. If it is a checkpoint of an older robolearn "
                f"that you made yourself, convert it with `python -m robolearn.learners.checkpoint --upgrade "
                f"{path}`") from None
        raise CheckpointError(f"{path} is not a readable robolearn checkpoint (damaged, truncated or of "
                              "another format); use another checkpoint or retrain") from None
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a robolearn checkpoint (no '{CHECKPOINT_FORMAT}' header)")
    if data.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(f"{path}: checkpoint version {data.get('version')} is not supported "
                              f"(this robolearn reads {CHECKPOINT_VERSION})")
    data = decode(data)
    data["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return data


def require_keys(data: Mapping[str, Any], keys: tuple[str, ...], path: str | os.PathLike) -> None:
    missing = [key for key in keys if key not in data]
    if missing:
        raise CheckpointError(f"{path} lacks {', '.join(missing)}: it is damaged or was not written by "
                              "robolearn's Learner.save; retrain or use another checkpoint")


def checkpoint_metadata(path: str | os.PathLike) -> dict:
    """What a run was (algo, env id, seed, config, steps trained), for comparing a resume or eval request."""
    data = load_checkpoint(path)
    require_keys(data, ("algo", "config", "env_id"), path)
    config = dict(data["config"])
    return {"algo": data["algo"], "env_id": data["env_id"], "seed": config.get("seed"), "config": config,
            "steps": int(data.get("steps") or 0),
            "env_options": data.get("env_options")}  # None: a checkpoint from before they were recorded


def env_options(env: Any) -> dict:
    """The keyword arguments the env was made with (task options such as image and perturbation), as plain
    data for a checkpoint; what is not plain data is kept as its repr, so a change still shows."""
    kwargs = dict(getattr(getattr(env, "spec", None), "kwargs", None) or {})
    kwargs.pop("task", None)  # the env id records it
    options = {}
    for key, value in kwargs.items():
        try:
            encode(value)
            options[key] = value
        except TypeError:
            options[key] = repr(value)
    return options


def non_finite_tensors(tree: Any, where: str = "") -> list[str]:
    """Names of the float tensors in `tree` holding NaN or inf (network weights, optimiser moments)."""
    found: list[str] = []
    if isinstance(tree, torch.Tensor):
        if tree.is_floating_point() and not bool(torch.isfinite(tree).all()):
            found.append(where or "tensor")
    elif isinstance(tree, Mapping):
        for key, value in tree.items():
            found += non_finite_tensors(value, f"{where}.{key}" if where else str(key))
    elif isinstance(tree, (list, tuple)):
        for i, value in enumerate(tree):
            found += non_finite_tensors(value, f"{where}[{i}]")
    return found


def upgrade_checkpoint(path: str | os.PathLike) -> Path:
    """Rewrite a version-1 checkpoint (pickled numpy objects) in the safe format, in place.

    This unpickles the old file, which can run code: only for files you made yourself.
    """
    path = Path(path)
    data = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a robolearn checkpoint")
    data.pop("version", None)
    data.pop("format", None)
    save_checkpoint(path, data)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m robolearn.learners.checkpoint",
                                     description="Convert an old checkpoint you made yourself to the safe format.")
    parser.add_argument("--upgrade", required=True, metavar="FILE",
                        help="checkpoint to rewrite in place (it is unpickled: only files you trust)")
    args = parser.parse_args(argv)
    try:
        print(f"upgraded {upgrade_checkpoint(args.upgrade)}")
    except (OSError, CheckpointError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
