"""The policy node: runs an exported ONNX policy on the robot's state and publishes its commands.

Each state message (joint_states, or odom + hazards for bases) yields one command, so commands follow the
driver's control rate and stop when the state stops. A policy exported for another robot (name, joints,
limits, rate) or whose file cannot be loaded is refused: a clear log, an ERROR diagnostic, no command.
"""

from __future__ import annotations

import time

from diagnostic_msgs.msg import DiagnosticArray
from nav_msgs.msg import Odometry
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray

from robolearn.spec import Observation
from robolearn_drivers.core.diagnostics import OK, DiagnosticSummary, fault_summary
from robolearn_drivers.core.errors import ConfigurationError, MalformedMessageError
from robolearn_drivers.core.policy_loop import PolicyLoop
from robolearn_drivers.ros import conversions, qos, topics
from robolearn_drivers.ros.node_main import run_node


class PolicyNode(Node):
    def __init__(self) -> None:
        super().__init__("policy")
        self._diag_pub = self.create_publisher(DiagnosticArray, topics.DIAGNOSTICS, qos.DIAGNOSTICS)
        self._diag_name = f"{self.get_fully_qualified_name()}: policy"
        policy_path = str(self.declare_parameter("policy_path", "").value)
        robot_model = str(self.declare_parameter("robot_model", "").value)
        seed = int(self.declare_parameter("seed", 0).value)
        limits_file = str(self.declare_parameter("limits_file", "").value)
        diagnostics_period = float(self.declare_parameter("diagnostics_period_s", 0.5).value)
        self.loop: PolicyLoop | None = None
        self.fault = ""
        self._last_obs: Observation | None = None
        self._published = 0
        try:
            self.loop = PolicyLoop.load(policy_path, robot_model, seed, limits_file)
        except ConfigurationError as exc:
            self._refuse(str(exc))
            return
        layout = self.loop.layout
        command_topic = topics.CMD_VEL if layout.twist_commands else topics.JOINT_COMMANDS
        self._command_pub = self.create_publisher(conversions.command_type(layout), command_topic, qos.COMMAND)
        if layout.is_base:
            self._hazards = None
            if layout.hazard_count:
                self.create_subscription(Float64MultiArray, topics.HAZARDS, self._on_hazards, qos.STATE_SUB)
            self.create_subscription(Odometry, topics.ODOM, self._on_odometry, qos.STATE_SUB)
        else:
            self.create_subscription(JointState, topics.JOINT_STATES, self._on_joint_state, qos.STATE_SUB)
        self.create_timer(diagnostics_period, self._publish_status)
        meta = self.loop.runtime.metadata
        self.get_logger().info(f"running {policy_path} ({meta.algo or 'policy'} for {meta.task_id} on "
                               f"{meta.robot}); commands on {command_topic}")

    # -------------------------------------------------------------------------------- callbacks
    def _on_joint_state(self, msg: JointState) -> None:
        if self.loop is None:
            return
        try:
            obs = conversions.observation_from_joint_state(self.loop.layout, msg, time.monotonic())
        except MalformedMessageError as exc:
            self._refuse(f"joint_states do not match the policy's robot: {exc}")
            return
        self._act(obs)

    def _on_hazards(self, msg: Float64MultiArray) -> None:
        self._hazards = list(msg.data)

    def _on_odometry(self, msg: Odometry) -> None:
        if self.loop is None:
            return
        pose, twist = conversions.pose_twist_from_odometry(msg)
        try:
            obs = self.loop.layout.observation_from_base(time.monotonic(), pose, twist, self._hazards)
        except MalformedMessageError:
            return  # hazards not received yet: no command until the base's state is complete
        self._act(obs)

    def _act(self, obs: Observation) -> None:
        assert self.loop is not None
        self._last_obs = obs
        command = self.loop.command_for(obs)
        if command is None:
            self.get_logger().error(f"no command: {self.loop.last_error}", throttle_duration_sec=1.0)
            return
        self._command_pub.publish(conversions.command_msg(self.loop.layout, command, self.get_clock().now().to_msg()))
        self._published += 1

    # ------------------------------------------------------------------------------- reporting
    def _refuse(self, reason: str) -> None:
        self.loop = None
        self.fault = reason
        self.get_logger().error(f"policy refused, publishing no commands: {reason}")
        summary = fault_summary(self._diag_name, "", reason)
        self._publish(summary)
        self.create_timer(1.0, lambda: self._publish(summary))

    def _publish_status(self) -> None:
        if self.loop is None:
            return
        values = {"commands_published": str(self._published)}
        values.update({f"count.{k}": str(v) for k, v in self.loop.counts.items()})
        self._publish(DiagnosticSummary(self._diag_name, OK, "running", values, self.loop.spec.name))

    def _publish(self, summary: DiagnosticSummary) -> None:
        self._diag_pub.publish(conversions.diagnostic_array([summary], self.get_clock().now().to_msg()))

    def on_shutdown(self) -> None:
        """Leave the robot still: publish the stop command (hold position, or zero) once before going."""
        if self.loop is None:
            return
        stop = self.loop.stop_command(self._last_obs)
        if stop is not None:
            self._command_pub.publish(conversions.command_msg(self.loop.layout, stop, self.get_clock().now().to_msg()))
            time.sleep(0.05)  # let DDS deliver it before the participant goes away


def main(args: list[str] | None = None) -> int:
    return run_node(PolicyNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
