"""The robot driver node: a Robot (hardware, or PyBullet with use_sim) behind the standard topics.

Publishes joint_states (joint robots) or odom + hazards (bases) at the control rate; takes joint_commands
(Float64MultiArray) or cmd_vel (Twist); every command goes through the robot's SafetyController, the
watchdog runs every tick, estop (latched Bool) and safety/reset (Trigger) manage the e-stop, diagnostics
reports interventions. A bad configuration leaves the robot stopped and is reported on diagnostics.
"""

from __future__ import annotations

import threading

import numpy as np

from rclpy.event_handler import QoSRequestedIncompatibleQoSInfo, SubscriptionEventCallbacks
from rclpy.node import Node
from std_msgs.msg import Bool, Float64MultiArray, String
from std_srvs.srv import Trigger
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Twist, TwistStamped
from nav_msgs.msg import Odometry
from trajectory_msgs.msg import JointTrajectory as JointTrajectoryMsg
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import JointState

from robolearn.robot import RobotError
from robolearn.robots import URDF_DIR
from robolearn.spec import CommandKind
from robolearn_drivers.core.diagnostics import ERROR, STALE, WARN, DiagnosticSummary, fault_summary, safety_summary, \
    stop_level
from robolearn_drivers.core.driver_loop import MALFORMED, DriverLoop
from robolearn_drivers.core.params import DriverParams
from robolearn_drivers.core.robot_factory import build_robot
from robolearn_drivers.core.errors import MalformedMessageError
from robolearn_drivers.core.ticker import Ticker
from robolearn_drivers.core.trajectory import JointTrajectory
from robolearn_drivers.ros import conversions, qos, topics
from robolearn_drivers.ros.node_main import run_node
from robolearn_drivers.ros.trajectory_action import TrajectoryActionServer, make_trajectory_action_server
from robolearn_drivers.ros.tf_publisher import BASE_LINK, ODOM as ODOM_FRAME, TfPublisher, make_tf_publisher

DRIVER_FAULT = "driver_fault"
# The JointState field that carries a command by joint name, per command kind.
NAMED_COMMAND_FIELD = {CommandKind.JOINT_POSITION: "position", CommandKind.JOINT_VELOCITY: "velocity",
                       CommandKind.JOINT_EFFORT: "effort"}
# A TwistStamped stamped further ahead than this is refused: its sender's clock is wrong (or not ours).
MAX_FUTURE_STAMP_S = 0.5


class DriverNode(Node):
    """`managed=False` (a plain node) opens the robot and starts at construction; the lifecycle node
    (lifecycle_driver_node.py) does the same steps, `_open` and `_activate`, on its transitions."""

    def __init__(self, node_name: str = "robot_driver", use_sim_default: bool = False, managed: bool = False) -> None:
        super().__init__(node_name)
        self.loop: DriverLoop | None = None
        self.fault = ""
        self._active = False  # commands are accepted only while active
        self._ticker: Ticker | None = None
        # Callbacks (executor thread) and control ticks (ticker thread) take turns on the loop and robot.
        self._lock = threading.RLock()
        self._last_stop: tuple[str, ...] = ()
        self._last_adjustment: tuple[str, ...] = ()
        self._qos_problems: list[str] = []
        self._trajectory: JointTrajectory | None = None
        self._tf: TfPublisher | None = None
        self._action: TrajectoryActionServer | None = None
        self._diag_pub = self.create_publisher(DiagnosticArray, topics.DIAGNOSTICS, qos.DIAGNOSTICS)
        self._diag_name = f"{self.get_fully_qualified_name()}: safety"
        raw = {
            "robot_model": self.declare_parameter("robot_model", "").value,
            "use_sim": self.declare_parameter("use_sim", use_sim_default).value,
            "port": self.declare_parameter("port", "").value,
            "calibration_file": self.declare_parameter("calibration_file", "").value,
            "limits_file": self.declare_parameter("limits_file", "").value,
            "control_rate_hz": self.declare_parameter("control_rate_hz", 0.0).value,
            "sim_seed": self.declare_parameter("sim_seed", 0).value,
            "diagnostics_period_s": self.declare_parameter("diagnostics_period_s", 0.5).value,
            "real_time_factor": self.declare_parameter("real_time_factor", 1.0).value,
            "frame_prefix": self.declare_parameter("frame_prefix", "").value,
            "far_start": self.declare_parameter("far_start", "refuse").value,
        }
        self._raw = raw
        self._robot_model = str(raw["robot_model"])
        if not managed and self._open():
            self._activate()

    def _open(self) -> bool:
        """Validate the parameters, connect the robot and create the topics; False (reported) if refused."""
        raw = self._raw
        try:
            params = DriverParams.from_mapping(raw)
            robot = build_robot(params)
            robot.connect()
            try:
                self.loop = DriverLoop(robot, advance_physics=params.use_sim)
            except Exception:
                robot.disconnect()
                raise
        except (ValueError, RobotError, OSError) as exc:  # ConfigurationError, LimitsError, ... are ValueErrors
            self._refuse(str(exc))
            return False
        self._params = params
        self._create_interfaces(params)
        return True

    # ------------------------------------------------------------------------------------ setup
    def _refuse(self, reason: str) -> None:
        self.fault = reason
        self.get_logger().error(f"refusing to drive {self._robot_model or 'the robot'}: {reason}")
        summary = fault_summary(self._diag_name, self._robot_model, reason)
        self._publish_diagnostics(summary)
        self.create_timer(1.0, lambda: self._publish_diagnostics(summary))

    def _create_interfaces(self, params: DriverParams) -> None:
        assert self.loop is not None
        self.fault = ""
        # A simulated robot owns time: it publishes its simulated clock on /clock, and every node started with
        # use_sim_time:=true (this one included) stamps with it, so stamps and the sim's watchdog agree.
        self._clock_pub = (self.create_publisher(Clock, topics.CLOCK, qos.CLOCK) if params.use_sim else None)
        layout = self.loop.layout
        spec = self.loop.robot.spec
        if layout.is_base:
            self._odom_pub = self.create_publisher(Odometry, topics.ODOM, qos.STATE_PUB)
            self._hazard_pub = (self.create_publisher(Float64MultiArray, topics.HAZARDS, qos.STATE_PUB)
                                if layout.hazard_count else None)
        else:
            self._joint_pub = self.create_publisher(JointState, topics.JOINT_STATES, qos.STATE_PUB)
        command_topic = topics.CMD_VEL if layout.twist_commands else topics.JOINT_COMMANDS
        self.create_subscription(conversions.command_type(layout), command_topic, self._on_command, qos.COMMAND_SUB)
        if layout.twist_commands:
            self.create_subscription(Twist, topics.CMD_VEL_UNSTAMPED, self._on_command, qos.COMMAND_SUB)
        if spec.command_kind in NAMED_COMMAND_FIELD and layout.command_size == len(layout.joint_names):
            # The same commands as JointState addressed by joint name, as topic_based_ros2_control sends them.
            self.create_subscription(JointState, topics.JOINT_COMMANDS_BY_NAME, self._on_command, qos.COMMAND_SUB)
        if spec.command_kind is CommandKind.JOINT_POSITION and layout.command_size == len(layout.joint_names):
            self.create_subscription(JointTrajectoryMsg, topics.JOINT_TRAJECTORY, self._on_trajectory,
                                     qos.TRAJECTORY_SUB)
            self._action = make_trajectory_action_server(self)
        # Two e-stop subscriptions (see qos.py): the latched one, and one that matches any publisher. A publisher
        # the latched one cannot match is reported as an ERROR, since its e-stop would miss a restarted driver.
        self.create_subscription(Bool, topics.ESTOP, self._on_estop, qos.ESTOP, event_callbacks=SubscriptionEventCallbacks(
            incompatible_qos=lambda info: self._on_incompatible_qos(topics.ESTOP, info)))
        self.create_subscription(Bool, topics.ESTOP, self._on_estop, qos.ESTOP_ANY)
        self._publish_robot_description(spec.name)
        self._tf = make_tf_publisher(self, spec.name, layout, params.frame_prefix)
        self.create_service(Trigger, topics.SAFETY_RESET, self._on_safety_reset)
        self.create_service(Trigger, topics.ROBOT_RESET, self._on_robot_reset)
        self.create_service(Trigger, topics.CONFIRM_FAR_START, self._on_confirm_far_start)
        self.create_timer(params.diagnostics_period_s, self._publish_safety)
        self.get_logger().info(
            f"driving {spec.name} ({'simulated' if params.use_sim else 'hardware'}) at {spec.control_rate_hz:g} Hz; "
            f"commands on {command_topic}"
        )

    def _activate(self) -> None:
        """Start the control thread and accept commands (the first one turns the actuators' torque on)."""
        assert self.loop is not None
        spec = self.loop.robot.spec
        self._publish_state()
        self._active = True
        self._ticker = Ticker(self._params.tick_period_s(spec.control_period_s), self._tick,
                              name=f"{spec.name}-control")
        self._ticker.start()

    def _deactivate(self, reason: str) -> None:
        """Stop accepting commands and hold: the control thread stops, the robot gets its stop command once."""
        if self._ticker is not None:
            self._ticker.stop()
            self._ticker = None
        with self._lock:
            self._active = False
            self._trajectory = None
            if self.loop is not None:
                self.loop.robot.stop(reason)

    def _publish_robot_description(self, robot: str) -> None:
        """The robot's URDF from the library, latched, as robot_state_publisher and controller_manager read it."""
        urdf = URDF_DIR / f"{robot}.urdf"
        if not urdf.is_file():
            self.get_logger().info(f"no URDF for {robot} in {URDF_DIR}: robot_description is not published")
            return
        self._description_pub = self.create_publisher(String, topics.ROBOT_DESCRIPTION, qos.LATCHED)
        self._description_pub.publish(String(data=urdf.read_text()))

    # -------------------------------------------------------------------------------- callbacks
    def _on_command(self, msg) -> None:
        assert self.loop is not None
        if not self._active:
            self.get_logger().warning("not active: command ignored (activate the node first)",
                                      throttle_duration_sec=1.0)
            return
        with self._lock:
            self._trajectory = None  # a direct command replaces a trajectory in progress
            ahead = self._stamp_age(msg.header.stamp) if isinstance(msg, TwistStamped) else 0.0
            if ahead < -MAX_FUTURE_STAMP_S:
                self.loop.reject(f"cmd_vel stamped {-ahead:.3f} s in the future: the sender's clock differs "
                                 f"from this node's (use_sim_time?); stamp with now, or leave the stamp zero")
                accepted = False
            elif isinstance(msg, JointState):
                try:
                    values = self.loop.layout.command_from_named(
                        list(msg.name), list(getattr(msg, NAMED_COMMAND_FIELD[self.loop.robot.spec.command_kind])))
                except MalformedMessageError as exc:
                    self.loop.reject(str(exc))
                    accepted = False
                else:
                    accepted = self.loop.submit(values)
            else:
                accepted = self.loop.submit(conversions.command_values(msg))
        if not accepted:
            self.get_logger().error(f"rejected command, robot held: {self.loop.last_rejection}",
                                    throttle_duration_sec=1.0)

    def _stamp_age(self, stamp) -> float:
        """Seconds since `stamp` on this node's clock (negative: from the future); a zero stamp means now."""
        if stamp.sec == 0 and stamp.nanosec == 0:
            return 0.0
        return (self.get_clock().now().nanoseconds - (stamp.sec * 10**9 + stamp.nanosec)) * 1e-9

    def _on_trajectory(self, msg: JointTrajectoryMsg) -> None:
        self.follow_trajectory(msg)

    def follow_trajectory(self, msg: JointTrajectoryMsg) -> JointTrajectory | str:
        """A joint_trajectory_controller-style trajectory (the topic's, or a FollowJointTrajectory goal's):
        validated, then sampled every control tick, each sample a position command through the
        SafetyController. It is spliced onto the one in progress at its header stamp: zero or now replaces it,
        a future stamp appends (see core/trajectory.py). Returns the trajectory now followed, or why `msg`
        was refused (a malformed one is counted and the robot holds)."""
        assert self.loop is not None
        if not self._active:
            self.get_logger().warning("not active: trajectory ignored (activate the node first)")
            return "the driver is not active: activate it before sending trajectories"
        with self._lock:
            previous, self._trajectory = self._trajectory, None
            robot = self.loop.robot
            try:
                # Stamp zero: start now; otherwise start when the stamp says (a stamp in the past starts late).
                start = robot.now() - self._stamp_age(msg.header.stamp)
                # The motion continues from where the trajectory in progress is at the start (within the command
                # limits: a point beyond them was clipped, the arm is at the limit), else from the measured position.
                limits = self.loop.safety.limits
                current = (np.clip(previous.sample(start), limits.low, limits.high) if previous is not None
                           else self.loop.last_observation["joint_pos"])
                trajectory = JointTrajectory.parse(
                    robot.spec.name, self.loop.layout.joint_names, list(msg.joint_names),
                    [p.time_from_start.sec + p.time_from_start.nanosec * 1e-9 for p in msg.points],
                    [list(p.positions) for p in msg.points], start, current,
                    now=None if self._stamp_age(msg.header.stamp) == 0.0 else robot.now(),
                    final_velocities=list(msg.points[-1].velocities) if msg.points else [])
                self._trajectory = trajectory if previous is None else previous.spliced(trajectory)
                return self._trajectory
            except MalformedMessageError as exc:
                self.loop.reject(str(exc))
                self.get_logger().error(f"rejected trajectory, robot held: {exc}")
                return str(exc)

    def following(self, trajectory: JointTrajectory) -> bool:
        """True while `trajectory` is still the one being followed (not replaced, stopped or e-stopped)."""
        return self._trajectory is trajectory and self._active

    def hold_trajectory(self, trajectory: JointTrajectory) -> None:
        """End `trajectory`, if it is still followed, where the arm is now (joint_trajectory_controller's hold on
        a cancel). One that was replaced or stopped is left alone: a stop must not be turned into motion."""
        assert self.loop is not None
        with self._lock:
            if self._trajectory is trajectory:
                here = np.array(self.loop.last_observation["joint_pos"], dtype=float)
                self._trajectory = JointTrajectory(self.loop.robot.now(), np.zeros(1), here[None, :])

    def _on_incompatible_qos(self, topic: str, info: QoSRequestedIncompatibleQoSInfo) -> None:
        policy = getattr(info.last_policy_kind, "name", str(info.last_policy_kind))
        problem = (f"a publisher on {self.resolve_topic_name(topic)} offers incompatible QoS ({policy}): its "
                   f"e-stop is received but not latched, so a restarted driver would miss it; publish with "
                   f"reliability=reliable, durability=transient_local (robolearn_drivers.ros.qos.ESTOP)")
        self.get_logger().error(problem)
        with self._lock:
            if problem not in self._qos_problems:
                self._qos_problems.append(problem)
        self._publish_safety()

    def _on_estop(self, msg: Bool) -> None:
        if msg.data and self.loop is not None and not self.loop.safety.estopped:
            with self._lock:
                self._trajectory = None
                self.loop.estop()
            self.get_logger().warning("e-stop received: robot stopped; call safety/reset and send a fresh command")
            self._publish_safety()

    def _on_safety_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        assert self.loop is not None
        was = self.loop.safety.estop_reason
        with self._lock:
            self.loop.reset_safety()
        response.success = True
        response.message = (f"e-stop ({was}) cleared" if was else "safety reset") + \
            ": the robot moves again on the next fresh command"
        self.get_logger().info(response.message)
        self._publish_safety()
        return response

    def _on_confirm_far_start(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        """The operator accepts that the next start may be far from the measured pose: it is then ramped to."""
        assert self.loop is not None
        confirm = getattr(self.loop.robot, "confirm_far_start", None)  # servo arms refuse far starts; others ramp
        if confirm is None:
            response.success, response.message = False, f"{self.loop.robot.spec.name} needs no confirmation"
            return response
        with self._lock:
            confirm()
        response.success = True
        response.message = "far start confirmed: the next start ramps to the command (call safety/reset if stopped)"
        self.get_logger().warning(response.message)
        return response

    def _on_robot_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        """Start a new episode: the robot's own reset (sim: new start state; hardware: move home under safety)."""
        assert self.loop is not None
        try:
            with self._lock:
                self.loop.reset_robot()
        except (RobotError, RuntimeError, ValueError) as exc:
            response.success, response.message = False, f"robot reset failed: {exc}"
            return response
        response.success, response.message = True, "robot reset"
        self._publish_state()
        return response

    def _tick(self) -> None:
        with self._lock:
            if self.loop is None:
                return
            try:
                if self._trajectory is not None:
                    self.loop.submit(self._trajectory.sample(self.loop.robot.now()))
                result = self.loop.step()
            except Exception as exc:  # any fault in the loop must leave the actuators stopped, not running
                self._fail(exc)
                return
        if result.torque_off:
            self.get_logger().warning(
                f"stop held for {self.loop.safety.limits.torque_off_after_hold_s:g} s: torque off (limits file's "
                f"torque_off_after_hold_s); the next accepted command switches it on again")
            self._publish_safety()
        adjusted: tuple[str, ...] = ()
        if result.decision is None:
            stopped: tuple[str, ...] = (MALFORMED,)
        elif result.decision.stopped:
            # A stop keeps the reason it started with: the ticks after it have no new intervention to report.
            stopped = result.decision.interventions or self._last_stop or ("no_command",)
        else:
            stopped = ()
            adjusted = result.decision.interventions if result.applied is not None else self._last_adjustment
        if stopped != self._last_stop or adjusted != self._last_adjustment:
            if stopped and stopped != self._last_stop:
                self._log_stop(stopped)
            self._last_stop, self._last_adjustment = stopped, adjusted
            self._publish_safety()
        self._publish_state()

    def _log_stop(self, reasons: tuple[str, ...]) -> None:
        """One /rosout line per stop, at the level its reason means."""
        line = f"robot stopped: {', '.join(reasons)}"
        level = stop_level(reasons)
        if level == ERROR:
            self.get_logger().error(line)
        elif level in (WARN, STALE):
            self.get_logger().warning(line)
        else:
            self.get_logger().info(line)

    def _fail(self, exc: BaseException) -> None:
        assert self.loop is not None
        self.get_logger().error(f"driver fault, e-stop latched: {type(exc).__name__}: {exc}",
                                throttle_duration_sec=1.0)
        try:
            self.loop.estop(DRIVER_FAULT)
        except Exception as stop_exc:  # the bus itself may be gone; say so, the hardware watchdog is next
            self.get_logger().error(f"could not command a stop: {stop_exc}")
        self._publish_safety()

    # ------------------------------------------------------------------------------- publishing
    def _publish_state(self) -> None:
        if self.loop is None:
            return
        obs = self.loop.last_observation
        stamp = self.get_clock().now().to_msg()
        if self._clock_pub is not None:
            sim_stamp = conversions.time_msg(self.loop.clock())
            self._clock_pub.publish(Clock(clock=sim_stamp))
            # Under use_sim_time the clock in use is this sim's: stamp with it exactly, not with the copy that
            # comes back over /clock a moment later.
            if self.get_parameter("use_sim_time").value:
                stamp = sim_stamp
        if self._tf is not None:
            self._tf.publish(obs, stamp)
        if self.loop.layout.is_base:
            prefix = self._params.frame_prefix
            self._odom_pub.publish(conversions.odometry_msg(obs, stamp, prefix + ODOM_FRAME, prefix + BASE_LINK))
            if self._hazard_pub is not None:
                self._hazard_pub.publish(conversions.labelled_array(obs["hazards"], "hazards"))
        else:
            self._joint_pub.publish(conversions.joint_state_msg(self.loop.layout, obs, stamp))

    def _publish_safety(self) -> None:
        with self._lock:
            if self.loop is None:
                return
            summary = safety_summary(self._diag_name, self.loop.robot.spec.name, self.loop.status(), self._last_stop,
                                     self._last_adjustment, tuple(self._qos_problems))
        self._publish_diagnostics(summary)

    def _publish_diagnostics(self, summary: DiagnosticSummary) -> None:
        self._diag_pub.publish(conversions.diagnostic_array([summary], self.get_clock().now().to_msg()))

    def on_shutdown(self) -> None:
        if self._action is not None:
            self._action.close()
            self._action = None
        if self._ticker is not None:
            self._ticker.stop()
        with self._lock:
            if self.loop is not None:
                self.get_logger().info("shutting down: stopping the robot")
                self.loop.shutdown()
                self.loop = None


def main(args: list[str] | None = None) -> int:
    return run_node(lambda: DriverNode("robot_driver", use_sim_default=False), args)


if __name__ == "__main__":
    raise SystemExit(main())
