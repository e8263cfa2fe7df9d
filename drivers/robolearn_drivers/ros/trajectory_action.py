"""control_msgs/FollowJointTrajectory on a position arm's driver: MoveIt's interface to joint_trajectory_controller.

A goal's trajectory takes the driver's one trajectory path (`DriverNode.follow_trajectory`: spliced at its
header stamp, every sample through the SafetyController), so a goal can never move the arm further or faster
than the `joint_trajectory` topic can. The goal then:
- aborts with INVALID_JOINTS / OLD_HEADER_TIMESTAMP / INVALID_GOAL and the refusal's reason (the robot
  holds, as for a malformed command);
- succeeds once every joint lies within its goal tolerance of the final point, after the trajectory's end;
- aborts with GOAL_TOLERANCE_VIOLATED if that has not happened by the end plus goal_time_tolerance (a
  trajectory the safety layer clipped ends here), PATH_TOLERANCE_VIOLATED (the arm held where it is) when a
  path tolerance is exceeded, or with the reason when the trajectory is replaced (a newer goal or topic
  trajectory, a direct command) or stopped (e-stop, deactivation);
- on cancel, holds where the arm is and ends canceled.
Tolerances follow the message's convention: 0 takes the default (DEFAULT_GOAL_TOLERANCE for the goal, none
along the path), -1 means unlimited; only positions are checked.

control_msgs has no wheel on the package index: `.ci/build_ros_interfaces.sh` builds it at setup time. The
server runs on a companion node with its own executor thread, because a goal is executed by a callback that
waits for the motion to end and must not block the driver's executor (e-stops, commands).
"""

from __future__ import annotations

import threading
import time

import numpy as np
import rclpy
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.executors import MultiThreadedExecutor

from robolearn_drivers.core.trajectory import PAST_STAMP

try:
    from control_msgs.action import FollowJointTrajectory
except ImportError:  # no ROS installation's control_msgs and none built by .ci/build_ros_interfaces.sh
    FollowJointTrajectory = None

ACTION = "follow_joint_trajectory"
DEFAULT_GOAL_TOLERANCE = 0.05  # rad (or m): what the servo arms reach under load within their deadband
DEFAULT_GOAL_TIME_TOLERANCE_S = 1.0


def _tolerances(entries, names: tuple[str, ...], default: float) -> np.ndarray:
    """Per-joint position tolerance in the robot's joint order (inf: unchecked)."""
    tolerance = np.full(len(names), default)
    for entry in entries:
        if entry.name in names and entry.position != 0:
            tolerance[names.index(entry.name)] = np.inf if entry.position < 0 else entry.position
    return tolerance


def _seconds(duration) -> float:
    return duration.sec + duration.nanosec * 1e-9


class TrajectoryActionServer:
    def __init__(self, driver) -> None:
        """`driver`: the DriverNode whose trajectory path the goals take (an arm with position commands)."""
        self._driver = driver
        self._names = tuple(driver.loop.layout.joint_names)
        self._poll_s = driver.loop.robot.spec.control_period_s
        self._node = rclpy.create_node(f"{driver.get_name()}_trajectory_action", namespace=driver.get_namespace(),
                                       context=driver.context)
        self._server = ActionServer(self._node, FollowJointTrajectory, ACTION, execute_callback=self._execute,
                                    goal_callback=lambda goal: GoalResponse.ACCEPT,
                                    cancel_callback=lambda goal: CancelResponse.ACCEPT,
                                    callback_group=ReentrantCallbackGroup())
        self._executor = MultiThreadedExecutor(num_threads=2, context=driver.context)
        self._executor.add_node(self._node)
        self._running = True
        self._thread = threading.Thread(target=self._spin, name=f"{driver.get_name()}-trajectory-action", daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while self._running and self._node.context.ok():
            self._executor.spin_once(timeout_sec=0.05)

    def close(self) -> None:
        self._running = False
        self._thread.join(timeout=2.0)
        self._server.destroy()
        self._executor.shutdown(timeout_sec=1.0)
        self._node.destroy_node()

    def _execute(self, goal_handle) -> "FollowJointTrajectory.Result":
        goal = goal_handle.request
        result = FollowJointTrajectory.Result()
        if goal.multi_dof_trajectory.points:
            return self._abort(goal_handle, result, FollowJointTrajectory.Result.INVALID_JOINTS,
                               f"this arm has no multi-DOF joints; send its joints {list(self._names)} in trajectory")
        trajectory = self._driver.follow_trajectory(goal.trajectory)
        if isinstance(trajectory, str):
            code = FollowJointTrajectory.Result.INVALID_GOAL
            if sorted(goal.trajectory.joint_names) != sorted(self._names):
                code = FollowJointTrajectory.Result.INVALID_JOINTS
            elif PAST_STAMP in trajectory:
                code = FollowJointTrajectory.Result.OLD_HEADER_TIMESTAMP
            return self._abort(goal_handle, result, code, trajectory)
        goal_tolerance = _tolerances(goal.goal_tolerance, self._names, DEFAULT_GOAL_TOLERANCE)
        path_tolerance = _tolerances(goal.path_tolerance, self._names, np.inf)
        time_tolerance = _seconds(goal.goal_time_tolerance) or DEFAULT_GOAL_TIME_TOLERANCE_S
        robot = self._driver.loop.robot
        while True:
            time.sleep(self._poll_s)
            if not self._driver.following(trajectory):
                reason = self._driver.loop.safety.stop_reason or "a newer trajectory, goal or command replaced it"
                return self._abort(goal_handle, result, FollowJointTrajectory.Result.INVALID_GOAL,
                                   f"the trajectory was not completed: {reason}")
            if goal_handle.is_cancel_requested:
                self._driver.hold_trajectory(trajectory)
                goal_handle.canceled()
                result.error_string = "canceled: holding where the arm is"
                return result
            now = robot.now()
            desired = trajectory.sample(now)
            actual = np.asarray(self._driver.loop.last_observation["joint_pos"], dtype=float)
            self._feedback(goal_handle, desired, actual)
            error = np.abs(actual - desired)
            if np.any(error > path_tolerance):
                self._driver.hold_trajectory(trajectory)
                joint = self._names[int(np.argmax(error - path_tolerance))]
                return self._abort(goal_handle, result, FollowJointTrajectory.Result.PATH_TOLERANCE_VIOLATED,
                                   f"{joint} left its path tolerance (errors {np.round(error, 4).tolist()}); "
                                   f"holding where the arm is")
            if now >= trajectory.end:
                final_error = np.abs(actual - trajectory.positions[-1])
                if np.all(final_error <= goal_tolerance):
                    goal_handle.succeed()
                    result.error_code = FollowJointTrajectory.Result.SUCCESSFUL
                    return result
                if now > trajectory.end + time_tolerance:
                    joint = self._names[int(np.argmax(final_error - goal_tolerance))]
                    return self._abort(
                        goal_handle, result, FollowJointTrajectory.Result.GOAL_TOLERANCE_VIOLATED,
                        f"{joint} did not reach its goal within {time_tolerance:g} s of the trajectory's end "
                        f"(errors {np.round(final_error, 4).tolist()}; a point beyond the joint limits is clipped "
                        f"by the safety layer)")

    def _feedback(self, goal_handle, desired: np.ndarray, actual: np.ndarray) -> None:
        feedback = FollowJointTrajectory.Feedback()
        feedback.header.stamp = self._driver.get_clock().now().to_msg()
        feedback.joint_names = list(self._names)
        feedback.desired.positions = desired.tolist()
        feedback.actual.positions = actual.tolist()
        feedback.error.positions = (desired - actual).tolist()
        goal_handle.publish_feedback(feedback)

    def _abort(self, goal_handle, result, code: int, reason: str):
        self._driver.get_logger().error(f"{ACTION} goal aborted: {reason}")
        goal_handle.abort()
        result.error_code = code
        result.error_string = reason
        return result


def make_trajectory_action_server(driver) -> TrajectoryActionServer | None:
    """The FollowJointTrajectory server, or None (said once on the driver's log) where control_msgs is missing."""
    if FollowJointTrajectory is None:
        driver.get_logger().warning("control_msgs is not installed: no follow_joint_trajectory action. Build it "
                                    "with `bash .ci/build_ros_interfaces.sh` (or source a ROS 2 installation)")
        return None
    return TrajectoryActionServer(driver)
