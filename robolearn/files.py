"""Writing files so that a crash never leaves half of one behind (checkpoints, calibration, exports)."""

from __future__ import annotations

import errno
import io
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

import yaml


def write_atomically(path: str | os.PathLike, data: bytes | str) -> Path:
    """Write `data` to a temporary file beside `path`, flush it to disk, then rename it over `path`."""
    path = Path(path)
    _refuse_non_file(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.filename is None:  # a failed write() names no file: say which
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise
    return path


def _refuse_non_file(path: Path) -> None:
    """The rename would replace whatever `path` is: a device such as /dev/null (as root), a pipe, a folder."""
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
    if not stat.S_ISREG(mode):
        raise OSError(errno.EEXIST, "exists and is not a regular file (a device, pipe or socket): give a file "
                                    "path to write", str(path))


def save_torch_atomically(path: str | os.PathLike, obj: Any) -> bytes:
    """`torch.save` through `write_atomically`; returns the bytes written (for hashing)."""
    import torch  # only the callers that save models pay for the import

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    data = buffer.getvalue()
    write_atomically(path, data)
    return data


def read_yaml(path: str | os.PathLike, error: type[Exception], missing: str) -> Any:
    """Parse a YAML file, raising `error` with `missing` when it is absent and with the parser's reason when
    it is not YAML, so every loader (limits, calibration, configs) reports both cases the same way."""
    path = Path(path)
    if not path.is_file():
        raise error(missing)
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {exc}") from exc
