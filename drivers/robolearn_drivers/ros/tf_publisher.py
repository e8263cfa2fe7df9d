"""The robot's frames on tf2's topics, as robot_state_publisher and a diff-drive controller publish them.

/tf_static: every fixed joint of the URDF (one latched message), plus base_link -> the URDF's root link for a
base whose description does not start at base_link. /tf, every control tick: every movable joint at its
measured position, and odom -> base_link from the base's odometry (REP 105). Frame ids are the URDF's link
names with `frame_prefix` in front.

tf2_msgs has no wheel on the package index: `.ci/build_ros_interfaces.sh` builds it at setup time. Where it is
missing, `make_tf_publisher` says so once and the driver runs without /tf.
"""

from __future__ import annotations

import math

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import TransformStamped
from rclpy.node import Node

from robolearn.robots import URDF_DIR
from robolearn.robots.kinematics import FrameTransform, UrdfFrames
from robolearn.spec import Observation
from robolearn_drivers.core.state_layout import StateLayout
from robolearn_drivers.ros import qos, topics

try:
    from tf2_msgs.msg import TFMessage
except ImportError:  # no ROS installation's tf2_msgs and none built by .ci/build_ros_interfaces.sh
    TFMessage = None

ODOM = "odom"
BASE_LINK = "base_link"


def quaternion_xyzw(rotation: np.ndarray) -> tuple[float, float, float, float]:
    """The unit quaternion of a 3x3 rotation matrix (Shepperd's method: divide by the largest term)."""
    r = rotation
    trace = r[0, 0] + r[1, 1] + r[2, 2]
    if trace > 0:
        s = 2.0 * math.sqrt(1.0 + trace)
        return ((r[2, 1] - r[1, 2]) / s, (r[0, 2] - r[2, 0]) / s, (r[1, 0] - r[0, 1]) / s, 0.25 * s)
    i = int(np.argmax(np.diag(r)))
    j, k = (i + 1) % 3, (i + 2) % 3
    s = 2.0 * math.sqrt(1.0 + r[i, i] - r[j, j] - r[k, k])
    q = [0.0, 0.0, 0.0, 0.0]
    q[i] = 0.25 * s
    q[j] = (r[j, i] + r[i, j]) / s
    q[k] = (r[k, i] + r[i, k]) / s
    q[3] = (r[k, j] - r[j, k]) / s
    return q[0], q[1], q[2], q[3]


def transform_msg(transform: FrameTransform, stamp: Time, prefix: str) -> TransformStamped:
    msg = TransformStamped()
    msg.header.stamp = stamp
    msg.header.frame_id = prefix + transform.parent
    msg.child_frame_id = prefix + transform.child
    t = msg.transform.translation
    t.x, t.y, t.z = (float(v) for v in transform.matrix[:3, 3])
    r = msg.transform.rotation
    r.x, r.y, r.z, r.w = quaternion_xyzw(transform.matrix[:3, :3])
    return msg


def planar_pose(parent: str, child: str, x: float, y: float, yaw: float) -> FrameTransform:
    matrix = np.eye(4)
    matrix[:2, :2] = [[math.cos(yaw), -math.sin(yaw)], [math.sin(yaw), math.cos(yaw)]]
    matrix[:2, 3] = x, y
    return FrameTransform(parent, child, matrix)


class TfPublisher:
    def __init__(self, node: Node, robot: str, layout: StateLayout, frame_prefix: str = "") -> None:
        urdf = URDF_DIR / f"{robot}.urdf"
        self._frames = UrdfFrames(urdf) if urdf.is_file() else None
        self._layout = layout
        self._prefix = frame_prefix
        self._tf = node.create_publisher(TFMessage, topics.TF, qos.TF)
        self._static = node.create_publisher(TFMessage, topics.TF_STATIC, qos.LATCHED)
        static = self._frames.fixed() if self._frames is not None else []
        if layout.is_base and self._frames is not None and self._frames.root != BASE_LINK:
            static.append(FrameTransform(BASE_LINK, self._frames.root, np.eye(4)))
        stamp = node.get_clock().now().to_msg()
        self._static.publish(TFMessage(transforms=[transform_msg(t, stamp, frame_prefix) for t in static]))

    def publish(self, obs: Observation, stamp: Time) -> None:
        transforms: list[FrameTransform] = []
        if self._layout.is_base:
            x, y, yaw = (float(v) for v in obs["base_pose"])
            transforms.append(planar_pose(ODOM, BASE_LINK, x, y, yaw))
        if self._frames is not None:
            measured = {}
            if "joint_pos" in obs.values:
                measured = dict(zip(self._layout.joint_names, (float(v) for v in obs["joint_pos"])))
            transforms += self._frames.moving(measured)
        if transforms:
            self._tf.publish(TFMessage(transforms=[transform_msg(t, stamp, self._prefix) for t in transforms]))


def make_tf_publisher(node: Node, robot: str, layout: StateLayout, frame_prefix: str = "") -> TfPublisher | None:
    """The robot's tf publisher, or None (said once on the node's log) where tf2_msgs is not installed."""
    if TFMessage is None:
        node.get_logger().warning("tf2_msgs is not installed: no /tf or /tf_static. Build it with "
                                  "`bash .ci/build_ros_interfaces.sh` (or source a ROS 2 installation)")
        return None
    return TfPublisher(node, robot, layout, frame_prefix)
