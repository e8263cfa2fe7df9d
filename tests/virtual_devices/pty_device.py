"""A device on the far end of a pseudo-terminal, served by a background thread."""

from __future__ import annotations

import os
import select
import threading
import time
import tty


class PtyDevice:
    """Subclasses implement `on_bytes(data)` (and optionally `tick(now)`, called every few ms)."""

    poll_s = 0.002

    def __init__(self) -> None:
        self.master_fd, self._slave_fd = os.openpty()
        tty.setraw(self._slave_fd)  # no echo, no newline translation: a serial line carries raw bytes
        self.path = os.ttyname(self._slave_fd)
        self.lock = threading.RLock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=type(self).__name__, daemon=True)
        self.received = bytearray()
        self.error: BaseException | None = None

    def start(self) -> "PtyDevice":
        self._thread.start()
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def on_bytes(self, data: bytes) -> None:
        raise NotImplementedError

    def tick(self, now: float) -> None:
        pass

    def send(self, data: bytes) -> None:
        if self.master_fd is not None:
            os.write(self.master_fd, bytes(data))

    def unplug(self) -> None:
        """Pull the cable: the thread stops and the master closes, so the near end sees an I/O error."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        if self.master_fd is not None:
            os.close(self.master_fd)
            self.master_fd = None

    def close(self) -> None:
        self.unplug()
        if self._slave_fd is not None:
            os.close(self._slave_fd)
            self._slave_fd = None

    def _serve(self) -> None:
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select([self.master_fd], [], [], self.poll_s)
                with self.lock:
                    if ready:
                        data = os.read(self.master_fd, 4096)
                        self.received.extend(data)
                        self.on_bytes(data)
                    self.tick(time.monotonic())
        except OSError as exc:  # the master was closed under us
            if not self._stop.is_set():
                self.error = exc
        except BaseException as exc:  # surfaced by tests that check device.error
            self.error = exc
            raise
