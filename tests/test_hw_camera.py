"""OpenCVCamera through real cv2.VideoCapture on a generated video file (its end plays the unplug)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from virtual_devices.bus_families import eventually
from virtual_devices.synthetic_camera import write_video
from robolearn.hardware.camera import OpenCVCamera
from robolearn.hardware.errors import HardwareError, StaleFrameError

W, H, N_FRAMES = 64, 48, 12


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("camera") / "clip.avi", N_FRAMES, W, H)


def test_frames_arrive_as_rgb_with_timestamps(video):
    with OpenCVCamera(video, pace_fps=200, reconnect=False, max_age_s=1.0) as camera:
        frame, stamp = camera.wait_for_frame()
        assert frame.shape == (H, W, 3) and frame.dtype == np.uint8
        assert abs(int(frame[..., 2].mean()) - 200) < 8 and frame[..., 0].mean() < 8  # BGR -> RGB
        assert 0 <= time.monotonic() - stamp < 1.0
        assert camera.frame_shape == (H, W, 3)


def test_end_of_stream_makes_frames_stale(video):
    with OpenCVCamera(video, pace_fps=400, reconnect=False, max_age_s=0.05) as camera:
        camera.wait_for_frame()
        assert eventually(lambda: not camera.connected)
        assert camera.frames == N_FRAMES and camera.disconnects == 1
        time.sleep(0.08)
        with pytest.raises(StaleFrameError, match=r"s old \(limit 0.050 s\): the camera is disconnected"):
            camera.read()
        frame, _ = camera.read(max_age_s=10.0)  # a caller that accepts old frames still gets the last one
        assert frame.shape == (H, W, 3)


def test_reconnects_after_an_unplug(video):
    with OpenCVCamera(video, pace_fps=400, reconnect=True, reconnect_interval_s=0.02, max_age_s=0.5) as camera:
        assert eventually(lambda: camera.reconnects >= 1 and camera.frames > N_FRAMES, timeout_s=5.0)
        camera.read()


def test_no_frame_yet_is_stale():
    camera = OpenCVCamera("/nonexistent/camera.avi")
    with pytest.raises(StaleFrameError, match="has not delivered a frame yet"):
        camera.read()


def test_a_camera_that_cannot_be_opened_says_so(tmp_path):
    with pytest.raises(HardwareError, match="could not be opened"):
        OpenCVCamera(str(tmp_path / "missing.avi")).start()


def test_requested_size_is_enforced(video):
    with OpenCVCamera(video, width=32, height=24, pace_fps=200, reconnect=False, max_age_s=1.0) as camera:
        frame, _ = camera.wait_for_frame()
        assert frame.shape == (24, 32, 3) == camera.frame_shape


def test_stop_joins_the_capture_thread(video):
    camera = OpenCVCamera(video, pace_fps=50, reconnect=True, reconnect_interval_s=0.01)
    camera.start()
    thread = camera._thread
    camera.stop()
    assert thread is not None and not thread.is_alive() and camera._capture is None
