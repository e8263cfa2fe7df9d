"""Translation between robolearn data (Observation, command vectors, diagnostic summaries) and messages."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Twist, TwistStamped
from nav_msgs.msg import Odometry
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Float64MultiArray, MultiArrayDimension

from robolearn.spec import Observation
from robolearn_drivers.core.camera_info import CameraIntrinsics, distortion_model, projection_matrix
from robolearn_drivers.core.diagnostics import DiagnosticSummary
from robolearn_drivers.core.state_layout import StateLayout

_JOINT_FIELDS = {"joint_pos": "position", "joint_vel": "velocity", "joint_effort": "effort"}


def time_msg(seconds: float) -> Time:
    """A builtin_interfaces/Time for a clock reading in seconds (e.g. simulated time for /clock)."""
    nanoseconds = int(round(seconds * 1e9))
    return Time(sec=nanoseconds // 10**9, nanosec=nanoseconds % 10**9)


# ------------------------------------------------------------------------------------- state
def joint_state_msg(layout: StateLayout, obs: Observation, stamp: Time) -> JointState:
    msg = JointState()
    msg.header.stamp = stamp
    msg.name = list(layout.joint_names)
    for key, values in layout.joint_arrays(obs).items():
        setattr(msg, _JOINT_FIELDS[key], values.tolist())
    return msg


def observation_from_joint_state(layout: StateLayout, msg: JointState, timestamp: float) -> Observation:
    arrays = {key: getattr(msg, field) for key, field in _JOINT_FIELDS.items() if key in layout.joint_keys}
    return layout.observation_from_joints(timestamp, msg.name, arrays)


def odometry_msg(obs: Observation, stamp: Time, frame_id: str = "odom", child_frame_id: str = "base_link") -> Odometry:
    x, y, yaw = (float(v) for v in obs["base_pose"])
    v, omega = (float(v) for v in obs["base_twist"])
    msg = Odometry()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.child_frame_id = child_frame_id
    msg.pose.pose.position.x, msg.pose.pose.position.y = x, y
    msg.pose.pose.orientation.z, msg.pose.pose.orientation.w = math.sin(yaw / 2), math.cos(yaw / 2)
    msg.twist.twist.linear.x, msg.twist.twist.angular.z = v, omega
    return msg


def pose_twist_from_odometry(msg: Odometry) -> tuple[list[float], list[float]]:
    q = msg.pose.pose.orientation
    yaw = math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))
    pose = [msg.pose.pose.position.x, msg.pose.pose.position.y, yaw]
    return pose, [msg.twist.twist.linear.x, msg.twist.twist.angular.z]


def labelled_array(values: Sequence[float], label: str) -> Float64MultiArray:
    msg = Float64MultiArray()
    msg.layout.dim = [MultiArrayDimension(label=label, size=len(values), stride=len(values))]
    msg.data = [float(v) for v in values]
    return msg


# ---------------------------------------------------------------------------------- commands
def command_msg(layout: StateLayout, command: np.ndarray, stamp: Time | None = None) -> Float64MultiArray | TwistStamped:
    """The command message of `layout`'s robot; bases get a TwistStamped (Jazzy diff_drive_controller's type)
    stamped `stamp` (None: zero, which receivers read as 'now')."""
    if layout.twist_commands:
        msg = TwistStamped()
        if stamp is not None:
            msg.header.stamp = stamp
        msg.twist.linear.x, msg.twist.angular.z = float(command[0]), float(command[1])
        return msg
    msg = Float64MultiArray()
    msg.data = [float(v) for v in command]
    return msg


def command_values(msg: Float64MultiArray | Twist | TwistStamped) -> list[float]:
    if isinstance(msg, TwistStamped):
        msg = msg.twist
    if isinstance(msg, Twist):
        return [msg.linear.x, msg.angular.z]
    return list(msg.data)


def command_type(layout: StateLayout) -> type:
    return TwistStamped if layout.twist_commands else Float64MultiArray


# ------------------------------------------------------------------------------- diagnostics
def diagnostic_array(summaries: Sequence[DiagnosticSummary], stamp: Time) -> DiagnosticArray:
    msg = DiagnosticArray()
    msg.header.stamp = stamp
    for summary in summaries:
        status = DiagnosticStatus()
        status.level = bytes([summary.level])
        status.name = summary.name
        status.message = summary.message
        status.hardware_id = summary.hardware_id
        status.values = [KeyValue(key=k, value=v) for k, v in summary.values.items()]
        msg.status.append(status)
    return msg


def diagnostic_values(msg: DiagnosticArray) -> dict[str, dict[str, str]]:
    """{status name: {key: value}} plus 'level' and 'message', for clients and tests."""
    out = {}
    for status in msg.status:
        values = {kv.key: kv.value for kv in status.values}
        values["level"] = str(status.level[0] if isinstance(status.level, bytes) else int(status.level))
        values["message"] = status.message
        out[status.name] = values
    return out


# ------------------------------------------------------------------------------------ camera
def image_msg(frame: np.ndarray, stamp: Time, frame_id: str) -> Image:
    """An RGB uint8 HxWx3 frame as an rgb8 Image."""
    msg = Image()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.height, msg.width = int(frame.shape[0]), int(frame.shape[1])
    msg.encoding = "rgb8"
    msg.is_bigendian = 0
    msg.step = int(frame.shape[1]) * 3
    msg.data = np.ascontiguousarray(frame, dtype=np.uint8).tobytes()
    return msg


def frame_from_image(msg: Image) -> np.ndarray:
    if msg.encoding != "rgb8":
        raise ValueError(f"expected an rgb8 image, got {msg.encoding}")
    return np.frombuffer(bytes(msg.data), dtype=np.uint8).reshape(msg.height, msg.width, 3)


def camera_info_msg(intrinsics: CameraIntrinsics | None, width: int, height: int, stamp: Time,
                    frame_id: str) -> CameraInfo:
    msg = CameraInfo()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.width, msg.height = width, height
    if intrinsics is not None:
        msg.distortion_model = distortion_model(intrinsics)
        msg.d = intrinsics.distortion.tolist()
        msg.k = intrinsics.camera_matrix.reshape(-1).tolist()
        msg.r = np.eye(3).reshape(-1).tolist()
        msg.p = projection_matrix(intrinsics).reshape(-1).tolist()
    return msg
