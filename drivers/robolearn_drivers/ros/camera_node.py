"""The camera node: sensor_msgs/Image (rgb8) and CameraInfo from an OpenCV source (device or video file).

Frames come from the hardware layer's OpenCVCamera (capture thread, max-age guard, reconnect); intrinsics
from a calibration YAML. A frame older than max_age_s is never published: the node says why instead.
"""

from __future__ import annotations

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image

from robolearn_drivers.core.camera_info import load_intrinsics
from robolearn_drivers.core.diagnostics import OK, WARN, DiagnosticSummary, fault_summary
from robolearn_drivers.core.errors import ConfigurationError
from robolearn_drivers.ros import conversions, qos, topics
from robolearn_drivers.ros.node_main import run_node


class CameraNode(Node):
    def __init__(self) -> None:
        super().__init__("camera")
        self._diag_pub = self.create_publisher(DiagnosticArray, topics.DIAGNOSTICS, qos.DIAGNOSTICS)
        self._diag_name = f"{self.get_fully_qualified_name()}: camera"
        source = str(self.declare_parameter("source", "/dev/video0").value)
        width = int(self.declare_parameter("width", 0).value)
        height = int(self.declare_parameter("height", 0).value)
        fps = float(self.declare_parameter("fps", 30.0).value)
        max_age_s = float(self.declare_parameter("max_age_s", 0.2).value)
        intrinsics_file = str(self.declare_parameter("intrinsics_file", "").value)
        self._frame_id = str(self.declare_parameter("frame_id", "camera_optical_frame").value)
        self.camera = None
        self._published = 0
        self._stale = 0
        self._last_error = ""
        try:
            if fps <= 0 or max_age_s <= 0:
                raise ConfigurationError(f"fps ({fps}) and max_age_s ({max_age_s}) must be positive")
            self.intrinsics = load_intrinsics(intrinsics_file) if intrinsics_file else None
            if self.intrinsics is not None:
                # The image must have the size the intrinsics were measured at; the camera resizes if needed.
                width, height = self.intrinsics.width, self.intrinsics.height
            self.camera = _open_camera(source, width or None, height or None, fps, max_age_s)
        except ConfigurationError as exc:
            self._refuse(str(exc))
            return
        if self.intrinsics is None:
            self.get_logger().warning("no intrinsics_file: camera_info carries no calibration (K = 0)")
        self._image_pub = self.create_publisher(Image, topics.IMAGE, qos.CAMERA)
        self._info_pub = self.create_publisher(CameraInfo, topics.CAMERA_INFO, qos.CAMERA)
        self.create_timer(1.0 / fps, self._publish_frame)
        self.create_timer(1.0, self._publish_status)
        self.get_logger().info(f"publishing {source} at {fps:g} Hz on {topics.IMAGE}")

    def _publish_frame(self) -> None:
        from robolearn.hardware.errors import StaleFrameError

        try:
            frame, _ = self.camera.read()
        except StaleFrameError as exc:
            self._stale += 1
            self._last_error = str(exc)
            self.get_logger().warning(f"no frame published: {exc}", throttle_duration_sec=2.0)
            return
        stamp = self.get_clock().now().to_msg()
        image = conversions.image_msg(frame, stamp, self._frame_id)
        self._image_pub.publish(image)
        self._info_pub.publish(conversions.camera_info_msg(self.intrinsics, image.width, image.height, stamp,
                                                           self._frame_id))
        self._published += 1

    def _publish_status(self) -> None:
        level, message = (WARN, f"stale: {self._last_error}") if self._stale else (OK, "streaming")
        values = {"frames_published": str(self._published), "stale_reads": str(self._stale)}
        self._publish(DiagnosticSummary(self._diag_name, level, message, values))
        self._stale = 0

    def _refuse(self, reason: str) -> None:
        self.get_logger().error(f"camera not started: {reason}")
        summary = fault_summary(self._diag_name, "", reason)
        self._publish(summary)
        self.create_timer(1.0, lambda: self._publish(summary))

    def _publish(self, summary: DiagnosticSummary) -> None:
        self._diag_pub.publish(conversions.diagnostic_array([summary], self.get_clock().now().to_msg()))

    def on_shutdown(self) -> None:
        if self.camera is not None:
            self.camera.stop()


def _open_camera(source: str, width: int | None, height: int | None, fps: float, max_age_s: float):
    try:
        from robolearn.hardware.camera import OpenCVCamera
        from robolearn.hardware.errors import HardwareError
    except ImportError as exc:
        raise ConfigurationError(f"the camera driver is not importable ({exc}): install robolearn[hardware]")
    # A device index may be given as "0"; a video file is replayed at the publishing rate, looping at its end.
    device: int | str = int(source) if source.isdigit() else source
    is_file = isinstance(device, str) and not device.startswith("/dev/")
    camera = OpenCVCamera(device, width, height, fps=None if is_file else fps, max_age_s=max_age_s,
                          reconnect=True, reconnect_interval_s=0.0 if is_file else 1.0,
                          pace_fps=fps if is_file else None)
    try:
        camera.start()
    except HardwareError as exc:
        raise ConfigurationError(str(exc)) from exc
    return camera


def main(args: list[str] | None = None) -> int:
    return run_node(CameraNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
