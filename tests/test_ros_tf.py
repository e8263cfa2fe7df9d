"""/tf and /tf_static over real Fast DDS, read as RViz and tf2 read them: the frames are walked from the root.

tf2_msgs comes from `.ci/build_ros_interfaces.sh` (no wheel on the package index); without it these fail
with that instruction rather than skip, since the driver would then publish no frames at all.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from ros_helpers import CONFIG, NodeProcess, require_ros, ros_client, wait_for

pytestmark = pytest.mark.ros


@pytest.fixture(scope="module")
def mode() -> str:
    mode = require_ros()
    try:
        import tf2_msgs.msg  # noqa: F401
    except ImportError:
        pytest.fail("tf2_msgs is not installed: run `bash .ci/build_ros_interfaces.sh` (called by .ci/setup.sh)")
    return mode


def _matrix(transform) -> np.ndarray:
    t, q = transform.translation, transform.rotation
    x, y, z, w = q.x, q.y, q.z, q.w
    m = np.eye(4)
    m[:3, :3] = [[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                 [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                 [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]]
    m[:3, 3] = t.x, t.y, t.z
    return m


def _stamp(header) -> int:
    return header.stamp.sec * 10**9 + header.stamp.nanosec


class FrameTree:
    """What a tf2 buffer holds: the static transforms and the newest dynamic ones, child -> (parent, matrix)."""

    def __init__(self, static_msgs, dynamic_msgs) -> None:
        self.edges: dict[str, tuple[str, np.ndarray]] = {}
        for _, msg in list(static_msgs) + list(dynamic_msgs):
            for t in msg.transforms:
                parent = self.edges.get(t.child_frame_id, (t.header.frame_id,))[0]
                assert parent == t.header.frame_id, f"{t.child_frame_id} has two parents"
                self.edges[t.child_frame_id] = (t.header.frame_id, _matrix(t.transform))

    def pose(self, frame: str, root: str) -> np.ndarray:
        """`frame` in `root`, by walking the parents; fails if the walk does not reach `root`."""
        pose, seen = np.eye(4), []
        while frame != root:
            assert frame in self.edges, f"frame {frame} is not connected to {root} (walked {seen})"
            seen.append(frame)
            frame, matrix = self.edges[frame]
            pose = matrix @ pose
        return pose


def test_arm_frames_form_the_urdf_tree_and_match_forward_kinematics_of_joint_states(mode):
    from sensor_msgs.msg import JointState
    from std_msgs.msg import String
    from tf2_msgs.msg import TFMessage

    from robolearn.robots.kinematics import ArmKinematics
    from robolearn_drivers.ros import qos

    ns, prefix = "/tf_arm", "arm1/"
    with ros_client("tf_client") as c, NodeProcess("robolearn_drivers.ros.sim_node", CONFIG / "sim.yaml",
                                                   params={"robot_model": "so101_arm", "frame_prefix": prefix},
                                                   namespace=ns) as node:
        states = c.collect(JointState, f"{ns}/joint_states", qos.STATE_SUB)
        dynamic = c.collect(TFMessage, "/tf", qos.TF)
        wait_for(lambda: len(dynamic) > 5 and len(states) > 5, 30, "/tf and joint_states from the sim", node)
        static = c.collect(TFMessage, "/tf_static", qos.LATCHED)  # subscribed late: latched
        description = c.collect(String, f"{ns}/robot_description", qos.LATCHED)
        wait_for(lambda: static and description, 10, "the latched /tf_static and robot_description", node)

        urdf = ET.fromstring(description[-1][1].data)
        links = {prefix + link.get("name") for link in urdf.iter("link")}
        tree = FrameTree(static, dynamic)
        assert set(tree.edges) == links - {prefix + "base"}, "one transform per URDF link below the root"
        for link in links:
            tree.pose(link, prefix + "base")  # every link reachable from the root: RViz shows the whole arm

        # The gripper tip from /tf equals FK of the joint_states published with the same stamp.
        by_stamp = {_stamp(m.header): m for _, m in list(states)}
        newest = next(m for _, m in reversed(list(dynamic)) if _stamp(m.transforms[0].header) in by_stamp)
        joint_state = by_stamp[_stamp(newest.transforms[0].header)]
        tree = FrameTree(static, [(0.0, newest)])
        tip = tree.pose(prefix + "ee", prefix + "base")[:3, 3]
        fk = ArmKinematics().position(np.array(joint_state.position))
        np.testing.assert_allclose(tip, fk, atol=1e-9)


def test_base_publishes_odom_to_base_link_matching_odometry_and_its_urdf_below_it(mode):
    from geometry_msgs.msg import TwistStamped
    from nav_msgs.msg import Odometry
    from tf2_msgs.msg import TFMessage

    from robolearn_drivers.ros import qos

    ns = "/tf_base"
    with ros_client("tf_base_client") as c, NodeProcess("robolearn_drivers.ros.sim_node", CONFIG / "sim.yaml",
                                                        params={"robot_model": "diffdrive_base"},
                                                        namespace=ns) as node:
        odom = c.collect(Odometry, f"{ns}/odom", qos.STATE_SUB)
        dynamic = c.collect(TFMessage, "/tf", qos.TF)
        static = c.collect(TFMessage, "/tf_static", qos.LATCHED)
        cmd = c.publisher(TwistStamped, f"{ns}/cmd_vel", qos.COMMAND)
        wait_for(lambda: len(dynamic) > 5 and odom and static, 30, "/tf, /tf_static and odom from the sim", node)
        turn = TwistStamped()
        turn.twist.linear.x, turn.twist.angular.z = 0.2, 0.8
        for _ in range(40):  # drive on a curve, so the pose has x, y and yaw
            cmd.publish(turn)
            wait_for(lambda n=len(odom): len(odom) > n, 5, "the next odom", node)
        by_stamp = {_stamp(m.header): m for _, m in list(odom)}
        newest = next(m for _, m in reversed(list(dynamic)) if _stamp(m.transforms[0].header) in by_stamp)
        tree = FrameTree(static, [(0.0, newest)])
        for frame in ("left_wheel", "right_wheel", "front_caster", "rear_caster", "body"):
            tree.pose(frame, "odom")
        pose = tree.pose("base_link", "odom")
        o = by_stamp[_stamp(newest.transforms[0].header)].pose.pose
        yaw = 2 * math.atan2(o.orientation.z, o.orientation.w)
        assert abs(yaw) > 0.05 and math.hypot(o.position.x, o.position.y) > 0.02, "the base moved"
        np.testing.assert_allclose(pose[:2, 3], [o.position.x, o.position.y], atol=1e-9)
        np.testing.assert_allclose(pose[:2, :2], [[math.cos(yaw), -math.sin(yaw)], [math.sin(yaw), math.cos(yaw)]],
                                   atol=1e-9)
