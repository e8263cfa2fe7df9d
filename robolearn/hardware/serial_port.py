"""Opening serial ports so that failures say what is wrong: missing device, busy port, permissions."""

from __future__ import annotations

import errno
import os
import termios

import serial
from serial.tools import list_ports

from robolearn.hardware.errors import PortError


# What a failing port can raise: pyserial's exception, an OS error, or termios' own error type.
SERIAL_FAILURES = (serial.SerialException, OSError, termios.error)


def open_serial(path: str, baudrate: int, timeout: float | None = 0.0) -> serial.Serial:
    """Open `path` exclusively (a second driver on the same bus would interleave packets) or raise PortError."""
    check_port_path(path)
    try:
        return serial.Serial(port=path, baudrate=baudrate, bytesize=serial.EIGHTBITS, timeout=timeout,
                             exclusive=True)
    except serial.SerialException as exc:
        raise port_error(path, exc) from exc


def adapter_serial(path: str) -> str | None:
    """The USB serial number of the adapter behind `path` (a /dev/serial/by-id link works too); None when the
    port is not a USB adapter or the adapter reports none."""
    device = os.path.realpath(path)
    for info in list_ports.comports():
        if os.path.realpath(info.device) == device:
            return info.serial_number or None
    return None


def check_port_path(path: str) -> None:
    if not os.path.exists(path):
        raise PortError(
            f"serial port {path} does not exist: is the adapter plugged in and powered? List candidates with "
            f"`ls /dev/serial/by-id/` and pass that path"
        )


def port_error(path: str, exc: BaseException) -> PortError:
    """Translate a pyserial/OS failure on `path` into a PortError with a remedy."""
    text = str(exc)
    code = getattr(exc, "errno", None)
    if code is None and exc.args and isinstance(exc.args[0], int):  # termios.error carries (errno, text)
        code = exc.args[0]
    if "lock" in text.lower() or code in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EBUSY):
        return PortError(
            f"serial port {path} is busy: another process holds it (another driver, a calibration run, a "
            f"serial monitor). Stop that process; `fuser {path}` shows who"
        )
    if code == errno.EACCES or "permission" in text.lower():
        return PortError(f"no permission to open {path}: add your user to the 'dialout' group and log in again")
    if code == errno.EIO or any(sign in text for sign in ("disconnected", "returned no data", "Input/output")):
        return PortError(f"serial port {path} was disconnected (I/O error): check the USB cable and the "
                         f"adapter's power, then reconnect")
    if code == errno.ENOENT:
        return PortError(f"serial port {path} disappeared: check the cable ({text})")
    return PortError(f"serial port {path} failed: {text}; check the cable and power, then reconnect")
