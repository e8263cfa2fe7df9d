"""The camera node over DDS: a generated video file through the real OpenCV capture, intrinsics from YAML."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from ros_helpers import NodeProcess, require_ros, ros_client, wait_for

pytestmark = pytest.mark.ros
NS = "/camera_test"
WIDTH, HEIGHT = 64, 48
K = [[80.0, 0.0, 32.0], [0.0, 82.0, 24.0], [0.0, 0.0, 1.0]]


@pytest.fixture(scope="module")
def camera_files(tmp_path_factory):
    require_ros()
    import cv2

    root = tmp_path_factory.mktemp("camera")
    video = root / "frames.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (WIDTH, HEIGHT))
    assert writer.isOpened()
    for i in range(30):
        frame = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
        frame[:, :, 2] = 200  # BGR: strongly red, so the rgb8 image must be red in channel 0
        frame[:, : WIDTH // 2, 1] = 100
        writer.write(frame)
    writer.release()
    intrinsics = root / "intrinsics.yaml"
    intrinsics.write_text(yaml.safe_dump({
        "schema_version": 1, "kind": "camera_intrinsics", "camera": "test_cam", "image_width": WIDTH,
        "image_height": HEIGHT,
        "camera_matrix": K, "distortion_model": "plumb_bob", "distortion_coefficients": [0.1, -0.05, 0, 0, 0],
    }))
    return video, intrinsics


def test_camera_node_publishes_images_with_matching_camera_info(camera_files):
    from sensor_msgs.msg import CameraInfo, Image

    from robolearn_drivers.ros import qos
    from robolearn_drivers.ros.conversions import frame_from_image

    video, intrinsics = camera_files
    with ros_client("camera_client") as client:
        images = client.collect(Image, f"{NS}/camera/image_raw", qos.CAMERA)
        infos = client.collect(CameraInfo, f"{NS}/camera/camera_info", qos.CAMERA)
        with NodeProcess("robolearn_drivers.ros.camera_node", params={
                "source": str(video), "fps": 20.0, "intrinsics_file": str(intrinsics)}, namespace=NS) as node:
            wait_for(lambda: len(images) > 40 and len(infos) > 40, 30, "images and camera_info", node)
        image, info = images[-1][1], infos[-1][1]
        frame = frame_from_image(image)
        assert frame.shape == (HEIGHT, WIDTH, 3)
        assert frame[..., 0].mean() > 150 and frame[..., 2].mean() < 60, "BGR capture is published as rgb8"
        assert frame[:, :10, 1].mean() > 60 > frame[:, -10:, 1].mean()
        assert (info.width, info.height) == (WIDTH, HEIGHT)
        assert np.allclose(np.reshape(info.k, (3, 3)), K) and info.d[0] == pytest.approx(0.1)
        stamps = {(m.header.stamp.sec, m.header.stamp.nanosec) for _, m in images}
        assert (info.header.stamp.sec, info.header.stamp.nanosec) in stamps, "image and info share a stamp"
        assert len(images) > 30, "a 30-frame file is replayed in a loop, not stopped at its end"


def test_camera_node_refuses_bad_sources_with_a_diagnostic(camera_files):
    from diagnostic_msgs.msg import DiagnosticArray

    from robolearn_drivers.ros import qos
    from robolearn_drivers.ros.conversions import diagnostic_values

    video, _ = camera_files
    cases = [({"source": "/nonexistent/video.avi"}, "could not be opened"),
             ({"source": str(video), "intrinsics_file": "/nonexistent/intrinsics.yaml"}, "does not exist")]
    with ros_client("camera_bad_client") as client:
        started = []
        for i, (params, expected) in enumerate(cases):
            ns = f"{NS}_bad_{i}"
            diags = client.collect(DiagnosticArray, "/diagnostics", qos.DIAGNOSTICS)
            started.append((ns, expected, diags,
                            NodeProcess("robolearn_drivers.ros.camera_node", params=params, namespace=ns)))
        try:
            for ns, expected, diags, node in started:
                def fault():
                    for _, m in list(diags):
                        status = diagnostic_values(m).get(f"{ns}/camera: camera", {})
                        if status.get("level") == "2":
                            return status["fault"]
                assert expected in wait_for(fault, 30, "the camera's fault diagnostic", node)
        finally:
            for *_, node in started:
                node.__exit__(None, None, None)
