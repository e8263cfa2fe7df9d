"""How a command's failure reaches the user: one line naming what went wrong and what to do, never a
traceback. `report` maps every error the library raises on purpose (and the OS's) to that line and an
exit code: 1 for a failure, 2 for a refused request, 130 for Ctrl-C."""

from __future__ import annotations

import errno
from pathlib import Path


# The pip extra that brings each optional top-level package a command may need.
EXTRA_OF = {"torch": "learn", "gymnasium": "learn", "tensorboard": "learn", "matplotlib": "learn", "onnx": "learn",
            "onnxscript": "learn", "tqdm": "learn", "pybullet": "sim", "msgpack": "link", "serial": "hardware", "cv2": "hardware"}


class TrainingInterrupted(Exception):
    """Ctrl-C during training, after the learner saved its checkpoint."""

    def __init__(self, checkpoint: Path, step: int, resume_command: str) -> None:
        super().__init__(f"interrupted at step {step}; the checkpoint {checkpoint} holds everything up to there. "
                         f"Resume with: {resume_command}")


class TrainingDiverged(Exception):
    """Training produced a NaN or infinity; the last finite checkpoint (if any) is kept and named."""

    def __init__(self, reason: str, checkpoint: Path) -> None:
        kept = _last_checkpoint(checkpoint)
        super().__init__(f"training diverged: {reason}. {kept} Lower the learning rate(s) in the config and "
                         "resume from there, or start again")


def _last_checkpoint(checkpoint: Path) -> str:
    from robolearn.learners.checkpoint import CheckpointError, checkpoint_metadata

    try:
        step = checkpoint_metadata(checkpoint)["steps"]
    except CheckpointError:
        return "No finite checkpoint was saved before it."
    return f"The last finite checkpoint is {checkpoint} (step {step}); nothing after it was saved."


def report(command: str, exc: BaseException) -> tuple[str, int]:
    """(one-line message, exit code) for an error a command raised."""
    if isinstance(exc, KeyboardInterrupt):
        return f"robolearn {command}: interrupted (Ctrl-C); nothing was left half-written", 130
    if isinstance(exc, TrainingInterrupted):
        return f"robolearn {command}: {exc}", 130
    if isinstance(exc, ModuleNotFoundError) and exc.name in EXTRA_OF:
        # A robot-side install lacks the learning stack: name the extra instead of an import error.
        return (f"robolearn {command}: needs {exc.name}, which this install lacks (a robot-side install has only "
                f"the deploy path): pip install 'robolearn[{EXTRA_OF[exc.name]}]'", 1)
    if isinstance(exc, OSError) and exc.errno is not None:  # from the OS, not one of our own messages
        return f"robolearn {command}: error: {_os_error(exc)}", 1
    return f"robolearn {command}: error: {exc}", 1


def _os_error(exc: OSError) -> str:
    where = f" ({exc.filename})" if exc.filename else ""
    advice = {
        errno.EROFS: "the file system is read-only: write somewhere else (-o / --run-dir)",
        errno.ENOSPC: "the disk is full: free space or write to another disk",
        errno.EACCES: "permission denied: choose a path you can write",
        errno.EISDIR: "that path is a directory, a file was expected: give a file name",
        errno.ENOTDIR: "a part of that path is a file, not a directory",
        errno.ENOENT: "no such file or directory",
    }.get(exc.errno or -1, exc.strerror or str(exc))
    return f"{advice}{where}"
