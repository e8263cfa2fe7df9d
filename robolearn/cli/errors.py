"""How a command's failure reaches the user: one line naming what went wrong and what to do, never a
traceback. `report` maps every error the library raises on purpose (and the OS's) to that line and an
exit code: 1 for a failure or a refused request, 130 for Ctrl-C (argparse exits 2 on a usage error)."""

from __future__ import annotations

import errno


# The pip extra that brings each optional top-level package a command may need.
EXTRA_OF = {"torch": "learn", "gymnasium": "learn", "tensorboard": "learn", "matplotlib": "learn", "onnx": "learn",
            "onnxscript": "learn", "tqdm": "learn", "pybullet": "sim", "cma": "sysid", "msgpack": "link", "serial": "hardware",
            "cv2": "hardware"}


def report(command: str, exc: BaseException) -> tuple[str, int]:
    """(one-line message, exit code) for an error a command raised."""
    if isinstance(exc, KeyboardInterrupt):
        # A run's RunInterrupted says which checkpoint was kept and how to resume; a bare Ctrl-C says nothing.
        return f"robolearn {command}: {str(exc) or 'interrupted (Ctrl-C); nothing was left half-written'}", 130
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
