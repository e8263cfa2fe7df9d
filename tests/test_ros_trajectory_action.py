"""control_msgs/FollowJointTrajectory on the sim arm's driver over real Fast DDS, as MoveIt sends it.

control_msgs comes from `.ci/build_ros_interfaces.sh` (no wheel on the package index); without it these fail
with that instruction rather than skip.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from ros_helpers import CONFIG, NodeProcess, latest_status, require_ros, ros_client, wait_for

pytestmark = pytest.mark.ros
NS = "/fjt_test"


@pytest.fixture(scope="module")
def mode() -> str:
    mode = require_ros()
    try:
        import control_msgs.action  # noqa: F401
    except ImportError:
        pytest.fail("control_msgs is not installed: run `bash .ci/build_ros_interfaces.sh` (called by .ci/setup.sh)")
    return mode


@pytest.fixture(scope="module")
def arm(mode):
    from control_msgs.action import FollowJointTrajectory
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.action import ActionClient
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Bool

    from robolearn_drivers.ros import qos

    with ros_client("fjt_client") as c, NodeProcess("robolearn_drivers.ros.sim_node", CONFIG / "sim.yaml",
                                                    params={"robot_model": "so101_arm"}, namespace=NS) as node:
        c.node_process = node
        c.states = c.collect(JointState, f"{NS}/joint_states", qos.STATE_SUB)
        c.diags = c.collect(DiagnosticArray, "/diagnostics", qos.DIAGNOSTICS)
        c.estop = c.publisher(Bool, f"{NS}/estop", qos.ESTOP)
        c.action = ActionClient(c.node, FollowJointTrajectory, f"{NS}/follow_joint_trajectory")
        wait_for(lambda: len(c.states) > 3, 30, "the arm's joint_states", node)
        wait_for(lambda: c.action.server_is_ready(), 10, "the follow_joint_trajectory server", node)
        yield c


def position(arm) -> np.ndarray:
    return np.array(arm.states[-1][1].position)


def goal(names, points, goal_tolerance=None, goal_time_tolerance_s=0.0):
    from builtin_interfaces.msg import Duration
    from control_msgs.action import FollowJointTrajectory
    from control_msgs.msg import JointTolerance
    from trajectory_msgs.msg import JointTrajectoryPoint

    def duration(t):
        return Duration(sec=int(t), nanosec=int(round(t % 1 * 1e9)))

    g = FollowJointTrajectory.Goal()
    g.trajectory.joint_names = list(names)
    g.trajectory.points = [JointTrajectoryPoint(positions=[float(v) for v in q], time_from_start=duration(t))
                           for t, q in points]
    g.goal_tolerance = [JointTolerance(name=n, position=tol) for n, tol in (goal_tolerance or {}).items()]
    g.goal_time_tolerance = duration(goal_time_tolerance_s)
    return g


def send(arm, g, feedback=None):
    """Send a goal; return its handle once accepted."""
    future = arm.action.send_goal_async(g, feedback_callback=feedback)
    handle = wait_for(lambda: future.done() and future.result(), 10, "the goal to be answered", arm.node_process)
    assert handle.accepted
    return handle


def result(arm, handle, timeout=15.0):
    future = handle.get_result_async()
    wait_for(future.done, timeout, "the goal's result", arm.node_process)
    return future.result()


def test_a_goal_is_followed_with_feedback_and_succeeds_within_its_tolerance(arm):
    from action_msgs.msg import GoalStatus
    from control_msgs.action import FollowJointTrajectory

    names = list(arm.states[-1][1].name)
    start = position(arm)
    target = start.copy()
    target[0] += 0.3
    feedback = []
    handle = send(arm, goal(names, [(0.5, (start + target) / 2), (1.0, target)], {names[0]: 0.03}),
                  feedback=feedback.append)
    answer = result(arm, handle)
    assert answer.status == GoalStatus.STATUS_SUCCEEDED, answer.result.error_string
    assert answer.result.error_code == FollowJointTrajectory.Result.SUCCESSFUL
    assert abs(position(arm)[0] - target[0]) < 0.03
    assert feedback and list(feedback[-1].feedback.joint_names) == names
    moving = [f.feedback.desired.positions[0] for f in feedback]
    assert min(moving) < start[0] + 0.1 and max(moving) > target[0] - 0.05, "feedback follows the motion"


def test_bad_goals_abort_with_the_reason_and_the_arm_does_not_move(arm):
    import math

    import rclpy.duration

    from action_msgs.msg import GoalStatus
    from control_msgs.action import FollowJointTrajectory

    names = list(arm.states[-1][1].name)
    start = position(arm)
    cases = [(goal(["no_such_joint"] + names[1:], [(1.0, start)]), FollowJointTrajectory.Result.INVALID_JOINTS,
              "joint names"),
             (goal(names, [(1.0, start), (0.5, start)]), FollowJointTrajectory.Result.INVALID_GOAL, "strictly increasing"),
             (goal(names, [(1.0, [math.nan] * len(names))]), FollowJointTrajectory.Result.INVALID_GOAL, "NaN")]
    old = goal(names, [(1.0, start)])
    old.trajectory.header.stamp = (arm.node.get_clock().now() - rclpy.duration.Duration(seconds=10)).to_msg()
    cases.append((old, FollowJointTrajectory.Result.OLD_HEADER_TIMESTAMP, "header stamp in the past"))
    for g, code, words in cases:
        before = int(latest_status(arm.diags, f"{NS}/sim_driver: safety").get("count.malformed_command", 0))
        answer = result(arm, send(arm, g))
        assert answer.status == GoalStatus.STATUS_ABORTED and answer.result.error_code == code
        assert words in answer.result.error_string
        wait_for(lambda: int(latest_status(arm.diags, f"{NS}/sim_driver: safety").get("count.malformed_command", 0))
                 > before, 5, "the refusal counted on /diagnostics", arm.node_process)
    time.sleep(0.3)
    assert np.all(np.abs(position(arm) - start) < 0.02), "a refused goal never moves the arm"


def test_a_goal_the_safety_layer_clips_aborts_with_goal_tolerance_violated(arm):
    from action_msgs.msg import GoalStatus
    from control_msgs.action import FollowJointTrajectory

    names = list(arm.states[-1][1].name)
    far = position(arm)
    far[0] = 50.0  # far beyond shoulder_pan's limit
    answer = result(arm, send(arm, goal(names, [(0.5, far)], goal_time_tolerance_s=0.5)))
    assert answer.status == GoalStatus.STATUS_ABORTED
    assert answer.result.error_code == FollowJointTrajectory.Result.GOAL_TOLERANCE_VIOLATED
    assert "shoulder_pan" in answer.result.error_string and "clipped" in answer.result.error_string
    assert position(arm)[0] < 4.0


def test_cancel_holds_where_the_arm_is_and_an_estop_aborts_the_goal(arm):
    from action_msgs.msg import GoalStatus
    from std_msgs.msg import Bool
    from std_srvs.srv import Trigger

    names = list(arm.states[-1][1].name)
    start = position(arm)
    slow = start.copy()
    slow[0] = 0.0 if abs(start[0]) > 0.6 else start[0] + 0.6 * np.sign(0.5 - start[0])  # well inside the limits
    handle = send(arm, goal(names, [(6.0, slow)]))
    time.sleep(1.0)
    cancel = handle.cancel_goal_async()
    wait_for(cancel.done, 5, "the cancel to be answered", arm.node_process)
    answer = result(arm, handle)
    assert answer.status == GoalStatus.STATUS_CANCELED
    time.sleep(0.3)  # settle
    held = position(arm)
    assert 0.02 < abs(held[0] - start[0]) < 0.5 * abs(slow[0] - start[0]), "stopped part way"
    time.sleep(1.0)
    assert abs(position(arm)[0] - held[0]) < 0.01, "and holds there"

    handle = send(arm, goal(names, [(6.0, start)]))
    time.sleep(0.5)
    arm.estop.publish(Bool(data=True))
    answer = result(arm, handle)
    assert answer.status == GoalStatus.STATUS_ABORTED and "estop" in answer.result.error_string
    arm.estop.publish(Bool(data=False))
    assert arm.call(Trigger, f"{NS}/safety/reset").success
