"""An OpenCV camera read on a background thread, so a control loop never blocks on a frame.

`read()` returns the newest frame (RGB uint8) with the host time it was captured, and raises
StaleFrameError when that frame is older than `max_age_s`: a stalled or unplugged camera can never feed an
old image to a policy. When capture fails (unplugged; for a video file, the end of the stream) the thread
releases the device and tries to reopen it every `reconnect_interval_s` while `reconnect` is on.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

import cv2
import numpy as np

from robolearn.hardware.errors import HardwareError, StaleFrameError


class OpenCVCamera:
    def __init__(
        self,
        source: int | str,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
        max_age_s: float = 0.2,
        reconnect: bool = True,
        reconnect_interval_s: float = 1.0,
        pace_fps: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_age_s <= 0:
            raise ValueError(f"max_age_s must be > 0, got {max_age_s}")
        self.source = source
        self.width, self.height, self.fps = width, height, fps
        self.max_age_s = max_age_s
        self.reconnect = reconnect
        self.reconnect_interval_s = reconnect_interval_s
        # Files decode as fast as the CPU allows; pacing replays them at a camera's rate.
        self.pace_fps = pace_fps
        self._clock = clock
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._capture: cv2.VideoCapture | None = None
        self._frame: np.ndarray | None = None
        self._stamp: float | None = None
        self.frames = 0
        self.disconnects = 0
        self.reconnects = 0
        self.connected = False
        self.last_error = ""

    # ------------------------------------------------------------------------------- lifetime
    def start(self) -> None:
        """Open the camera (raising HardwareError if it cannot) and start capturing."""
        if self._thread is not None:
            return
        self._capture = self._open()
        self.connected = True
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"camera-{self.source}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._release()

    def __enter__(self) -> "OpenCVCamera":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---------------------------------------------------------------------------------- frames
    @property
    def frame_shape(self) -> tuple[int, int, int]:
        if self.width is None or self.height is None:
            raise ValueError(f"camera {self.source}: give width and height to declare the frame shape")
        return (self.height, self.width, 3)

    def read(self, max_age_s: float | None = None) -> tuple[np.ndarray, float]:
        """(newest RGB frame, capture time); StaleFrameError if none is younger than `max_age_s`."""
        max_age_s = self.max_age_s if max_age_s is None else max_age_s
        with self._lock:
            frame, stamp = self._frame, self._stamp
        now = self._clock()
        if frame is None or stamp is None:
            raise StaleFrameError(f"camera {self.source} has not delivered a frame yet{self._state()}")
        age = now - stamp
        if age > max_age_s:
            raise StaleFrameError(
                f"newest frame from camera {self.source} is {age:.3f} s old (limit {max_age_s:.3f} s){self._state()}")
        return frame, stamp

    def wait_for_frame(self, timeout_s: float = 2.0) -> tuple[np.ndarray, float]:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return self.read()
            except StaleFrameError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.005)

    # -------------------------------------------------------------------------------- internals
    def _state(self) -> str:
        if not self.connected:
            return f": the camera is disconnected ({self.last_error}); check the cable"
        return ""

    def _open(self) -> cv2.VideoCapture:
        capture = cv2.VideoCapture(self.source)
        if not capture.isOpened():
            capture.release()
            raise HardwareError(
                f"camera {self.source!r} could not be opened: check that it is plugged in, that the index or "
                f"path is right (`v4l2-ctl --list-devices`), and that no other process uses it")
        for prop, value in ((cv2.CAP_PROP_FRAME_WIDTH, self.width), (cv2.CAP_PROP_FRAME_HEIGHT, self.height),
                            (cv2.CAP_PROP_FPS, self.fps)):
            if value is not None:
                capture.set(prop, value)
        return capture

    def _release(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def _run(self) -> None:
        period = 1.0 / self.pace_fps if self.pace_fps else 0.0
        next_due = time.monotonic()
        while not self._stop.is_set():
            if self._capture is None:
                if not self.reconnect or self._stop.wait(self.reconnect_interval_s):
                    if not self.reconnect:
                        return
                    continue
                try:
                    self._capture = self._open()
                    self.connected = True
                    self.reconnects += 1
                except HardwareError as exc:
                    self.last_error = str(exc)
                continue
            ok, frame = self._capture.read()
            if not ok or frame is None:
                self.connected = False
                self.disconnects += 1
                self.last_error = "capture returned no frame (unplugged, or the end of a video file)"
                self._release()
                continue
            rgb = self._fit(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            with self._lock:
                self._frame, self._stamp = rgb, self._clock()
                self.frames += 1
            if period:
                next_due += period
                self._stop.wait(max(0.0, next_due - time.monotonic()))

    def _fit(self, rgb: np.ndarray) -> np.ndarray:
        if self.width is None or self.height is None:
            self.height, self.width = rgb.shape[:2]
        elif rgb.shape[:2] != (self.height, self.width):
            # The device ignored the requested size: resize so the observation keeps the shape the spec says.
            rgb = cv2.resize(rgb, (self.width, self.height), interpolation=cv2.INTER_AREA)
        return rgb
