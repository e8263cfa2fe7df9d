"""RosRobot: the shared Robot interface as a client of a driver (or sim) node's topics.

A learner or script uses it exactly like a SimRobot: `observe()` returns the newest joint_states (or odom +
hazards) as an Observation, `send_action()` filters through a client-side mirror of the driver's
SafetyController (same limits) and publishes, so it returns what the driver will apply; `wait()` sleeps to
the next control tick; `reset()` calls the driver's robot/reset service. The driver's own SafetyController
remains the authority: this mirror only makes the returned command honest.

Runs its own rclpy Context and executor thread, so it can live in any process, next to other ROS code.
"""

from __future__ import annotations

import threading
import time

import numpy as np
from std_msgs.msg import Float64MultiArray
from std_srvs.srv import Trigger
from nav_msgs.msg import Odometry
from sensor_msgs.msg import JointState

from robolearn.robot import Robot, RobotError
from robolearn.robots.registry import robot_definition
from robolearn.safety import SafetyController
from robolearn.spec import Observation, RobotSpec
from robolearn_drivers.core.errors import MalformedMessageError
from robolearn_drivers.core.state_layout import StateLayout
from robolearn_drivers.ros import conversions, qos, topics
from robolearn_drivers.ros.own_context import OwnContextNode


class RosRobot(Robot):
    def __init__(self, spec: RobotSpec, safety: SafetyController, namespace: str = "",
                 node_name: str = "ros_robot", connect_timeout_s: float = 10.0,
                 reset_timeout_s: float = 30.0) -> None:
        super().__init__(spec, safety)
        self.layout = StateLayout.for_spec(spec)
        self.namespace = namespace
        self.node_name = node_name
        self.connect_timeout_s = connect_timeout_s
        self.reset_timeout_s = reset_timeout_s
        self._lock = threading.Lock()
        self._fresh = threading.Condition(self._lock)
        self._latest: Observation | None = None
        self._received = 0
        self._hazards: list[float] | None = None
        self._error = ""
        self._next_tick: float | None = None
        self._ros: OwnContextNode | None = None

    @classmethod
    def for_model(cls, robot_model: str, namespace: str = "", limits_file: str = "", **kwargs) -> "RosRobot":
        """A client for the driver of `robot_model` (spec and mirror safety from the model's definition)."""
        spec, safety = robot_definition(robot_model).describe(limits_file or None)
        return cls(spec, safety, namespace, **kwargs)

    # ------------------------------------------------------------------------------ primitives
    def _connect(self) -> None:
        self._ros = OwnContextNode(self.node_name, self.namespace)
        self._node = self._ros.node
        layout = self.layout
        command_topic = topics.CMD_VEL if layout.twist_commands else topics.JOINT_COMMANDS
        self._command_pub = self._node.create_publisher(conversions.command_type(layout), command_topic, qos.COMMAND)
        if layout.is_base:
            if layout.hazard_count:
                self._node.create_subscription(Float64MultiArray, topics.HAZARDS, self._on_hazards, qos.STATE_SUB)
            self._node.create_subscription(Odometry, topics.ODOM, self._on_odometry, qos.STATE_SUB)
        else:
            self._node.create_subscription(JointState, topics.JOINT_STATES, self._on_joint_state, qos.STATE_SUB)
        self._reset_client = self._node.create_client(Trigger, topics.ROBOT_RESET)
        self._ros.start()
        try:
            self._wait_for_observation(after=0, timeout=self.connect_timeout_s, what="connect")
        except RobotError:
            self._disconnect()
            raise

    def _disconnect(self) -> None:
        if self._ros is not None:
            self._ros.close()
        self._ros = None

    def _now(self) -> float:
        return time.monotonic()

    def _read(self) -> Observation:
        with self._lock:
            if self._error:
                raise RobotError(f"{self.spec.name}: {self._error}")
            assert self._latest is not None
            return self._latest

    def _write(self, command: np.ndarray | None) -> None:
        if command is not None:
            self._command_pub.publish(conversions.command_msg(self.layout, command, self._node.get_clock().now().to_msg()))

    def _advance(self) -> None:
        period = self.spec.control_period_s
        now = time.monotonic()
        if self._next_tick is None or now - self._next_tick > period:
            self._next_tick = now  # first call, or we fell behind: restart the schedule instead of bursting
        self._next_tick += period
        time.sleep(max(0.0, self._next_tick - time.monotonic()))

    def _reset(self, seed: int | None, options: dict) -> None:
        """Ask the driver for a new episode and wait for a state measured after it."""
        if not self._reset_client.wait_for_service(timeout_sec=self.connect_timeout_s):
            raise RobotError(f"{self.spec.name}: service {self._node.resolve_service_name(topics.ROBOT_RESET)} "
                             f"is not available; is the driver running?")
        future = self._reset_client.call_async(Trigger.Request())
        deadline = time.monotonic() + self.reset_timeout_s
        while not future.done():
            if time.monotonic() > deadline:
                raise RobotError(f"{self.spec.name}: the driver did not finish robot/reset within "
                                 f"{self.reset_timeout_s} s")
            time.sleep(0.005)
        response = future.result()
        if not response.success:
            raise RobotError(f"{self.spec.name}: the driver refused robot/reset: {response.message}")
        with self._lock:
            after = self._received
        self._wait_for_observation(after=after, timeout=self.connect_timeout_s, what="reset")
        self._next_tick = None

    # --------------------------------------------------------------------------------- messages
    def _on_joint_state(self, msg: JointState) -> None:
        try:
            obs = conversions.observation_from_joint_state(self.layout, msg, self._timestamp(msg.header.stamp))
        except MalformedMessageError as exc:
            self._set_error(f"joint_states do not match this robot: {exc}")
            return
        self._store(obs)

    def _on_hazards(self, msg: Float64MultiArray) -> None:
        with self._lock:
            self._hazards = list(msg.data)

    def _on_odometry(self, msg: Odometry) -> None:
        pose, twist = conversions.pose_twist_from_odometry(msg)
        with self._lock:
            hazards = self._hazards
        try:
            obs = self.layout.observation_from_base(self._timestamp(msg.header.stamp), pose, twist, hazards)
        except MalformedMessageError:
            return  # hazards not received yet: the state is incomplete
        self._store(obs)

    def _timestamp(self, stamp) -> float:
        """The measurement time in this robot's clock: receive time minus the age the driver's stamp shows."""
        age = (self._node.get_clock().now().nanoseconds - (stamp.sec * 10**9 + stamp.nanosec)) * 1e-9
        return time.monotonic() - max(age, 0.0)

    def _store(self, obs: Observation) -> None:
        with self._fresh:
            self._latest = obs
            self._received += 1
            self._fresh.notify_all()

    def _set_error(self, error: str) -> None:
        with self._fresh:
            self._error = error
            self._fresh.notify_all()

    def _wait_for_observation(self, after: int, timeout: float, what: str) -> None:
        with self._fresh:
            if not self._fresh.wait_for(lambda: self._received > after or self._error, timeout):
                source = topics.ODOM if self.layout.is_base else topics.JOINT_STATES
                raise RobotError(
                    f"{self.spec.name}: no state on {self._node.resolve_topic_name(source)} within {timeout} s "
                    f"({what}); is the driver (or sim) node running in this namespace and ROS_DOMAIN_ID?"
                )
            if self._error:
                raise RobotError(f"{self.spec.name}: {self._error}")
