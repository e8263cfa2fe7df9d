"""The driver node (sim robot behind the hardware driver's topics) over real Fast DDS on loopback.

One pendulum sim node serves the module; each test starts from a safety reset so order does not matter.
"""

from __future__ import annotations

import math
import time
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from ros_helpers import CONFIG, NodeProcess, latest_status, require_ros, ros_client, wait_for

pytestmark = pytest.mark.ros
NS = "/drv_test"
DIAG_NAME = f"{NS}/sim_driver: safety"


@pytest.fixture(scope="module")
def mode() -> str:
    return require_ros()


@pytest.fixture(scope="module")
def driver(mode):
    with NodeProcess("robolearn_drivers.ros.sim_node", CONFIG / "pendulum_sim.yaml", namespace=NS) as node:
        yield node


@pytest.fixture(scope="module")
def client(driver):
    from diagnostic_msgs.msg import DiagnosticArray
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Bool, Float64MultiArray

    from robolearn_drivers.ros import qos

    with ros_client("driver_test_client") as c:
        c.states = c.collect(JointState, f"{NS}/joint_states", qos.STATE_SUB)
        c.diags = c.collect(DiagnosticArray, "/diagnostics", qos.DIAGNOSTICS)
        c.commands = c.publisher(Float64MultiArray, f"{NS}/joint_commands", qos.COMMAND)
        c.estop = c.publisher(Bool, f"{NS}/estop", qos.ESTOP)
        wait_for(lambda: len(c.states) > 5, 30, "joint_states from the sim node", driver)
        yield c


def latest_safety(client) -> dict:
    from robolearn_drivers.ros.conversions import diagnostic_values

    for _, msg in reversed(client.diags):
        values = diagnostic_values(msg).get(DIAG_NAME)
        if values is not None:
            return values
    return {}


def safety_history(client) -> list[dict]:
    from robolearn_drivers.ros.conversions import diagnostic_values

    return [v for _, msg in list(client.diags) if (v := diagnostic_values(msg).get(DIAG_NAME)) is not None]


def count(client, kind: str) -> int:
    return int(latest_safety(client).get(f"count.{kind}", 0))


def send(client, values) -> None:
    from std_msgs.msg import Float64MultiArray

    client.commands.publish(Float64MultiArray(data=[float(v) for v in values]))


def reset_safety(client) -> None:
    from std_msgs.msg import Bool
    from std_srvs.srv import Trigger

    client.estop.publish(Bool(data=False))
    assert client.call(Trigger, f"{NS}/safety/reset").success


def test_publishes_joint_states_at_the_control_rate(client, mode):
    start = len(client.states)
    time.sleep(1.0)
    stamps = [t for t, _ in client.states[start:]]
    rate = (len(stamps) - 1) / (stamps[-1] - stamps[0])
    assert 45 < rate < 75, f"pendulum runs at 60 Hz, joint_states came at {rate:.1f} Hz ({mode})"
    msg = client.states[-1][1]
    assert list(msg.name) == ["pivot"] and len(msg.position) == 1 and len(msg.velocity) == 1


def test_command_beyond_the_limit_is_clipped_and_counted(client, driver):
    reset_safety(client)
    before = count(client, "command_limit")
    for _ in range(10):
        send(client, [50.0])  # the pendulum's torque limit is 2 N·m
        time.sleep(0.02)
    wait_for(lambda: count(client, "command_limit") > before, 5, "a command_limit count in diagnostics", driver)
    assert any(v["level"] == "1" and "command_limit" in v["last_adjustment"] for v in safety_history(client)), \
        "a clipped command is reported as WARN, with what adjusted it"


def test_commands_by_joint_name_as_topic_based_ros2_control_sends_them(client, driver):
    """sensor_msgs/JointState on joint_commands_by_name (the pendulum takes efforts): applied by name through
    the safety layer; an unknown joint name is refused as malformed."""
    from sensor_msgs.msg import JointState

    from robolearn_drivers.ros import qos

    named = client.publisher(JointState, f"{NS}/joint_commands_by_name", qos.COMMAND)
    wait_for(lambda: named.get_subscription_count() > 0, 10, "the joint_commands_by_name subscription", driver)
    reset_safety(client)

    # The torque points towards the upright position: a pendulum left past its position limit by an earlier
    # test would have an outward torque refused (set to 0), which is the position guard, not this test's subject.
    effort = -0.25 if client.states[-1][1].position[0] > 0 else 0.25

    def applied() -> bool:  # keeps commanding while it waits, so the watchdog never stops the pendulum
        named.publish(JointState(name=["pivot"], effort=[effort]))
        time.sleep(0.02)
        return latest_safety(client).get("last_command") == f"{effort:g}"

    wait_for(applied, 5, "the named command applied", driver)
    before = count(client, "malformed_command")
    named.publish(JointState(name=["elbow"], effort=[0.25]))
    wait_for(lambda: count(client, "malformed_command") > before, 5, "the unknown name refused", driver)
    assert "must be each of ['pivot']" in latest_safety(client)["last_rejection"]


def test_watchdog_stops_the_robot_when_commands_stop(client, driver):
    reset_safety(client)
    before = count(client, "watchdog")
    send(client, [0.5])
    # limits.yaml: watchdog_timeout_s 0.5; allow for a loaded machine.
    wait_for(lambda: count(client, "watchdog") > before, 3, "the watchdog to stop the robot", driver)
    assert latest_safety(client)["level"] == "1", "a watchdog stop is reported as WARN until commands resume"


def test_malformed_and_nonfinite_commands_are_rejected_counted_and_stop(client, driver):
    reset_safety(client)
    malformed, nonfinite = count(client, "malformed_command"), count(client, "nonfinite_command")
    send(client, [0.1, 0.2, 0.3])
    wait_for(lambda: count(client, "malformed_command") > malformed, 5, "the malformed command count", driver)
    assert "pendulum: command has 3 values, expected 1" in latest_safety(client)["last_rejection"]
    wait_for(lambda: latest_safety(client).get("last_stop") == "malformed_command", 5, "the malformed stop", driver)
    assert latest_safety(client)["level"] == "2", "a malformed command is an ERROR"
    send(client, [math.nan])
    wait_for(lambda: count(client, "nonfinite_command") > nonfinite, 5, "the NaN command count", driver)
    time.sleep(0.3)  # several control ticks after the NaN: the stop keeps its reason
    assert latest_safety(client)["last_stop"] == "nonfinite_command"
    assert latest_safety(client)["level"] == "2"
    assert "robot stopped: nonfinite_command" in driver.output(), "each stop reason gets a /rosout line"


def test_estop_latches_until_reset_and_a_fresh_command(client, driver):
    from std_msgs.msg import Bool
    from std_srvs.srv import Trigger

    reset_safety(client)
    client.estop.publish(Bool(data=True))
    wait_for(lambda: latest_safety(client).get("estopped") == "true", 5, "estopped in diagnostics", driver)
    assert latest_safety(client)["level"] == "2"
    before = count(client, "estop")
    for _ in range(5):
        send(client, [1.0])
        time.sleep(0.03)
    wait_for(lambda: count(client, "estop") > before, 5, "commands refused while e-stopped", driver)
    assert latest_safety(client)["estopped"] == "true", "a command must not clear the e-stop"
    assert client.call(Trigger, f"{NS}/safety/reset").success
    client.estop.publish(Bool(data=False))
    wait_for(lambda: latest_safety(client).get("estopped") == "false", 5, "the e-stop to clear", driver)
    limit_before = count(client, "command_limit")
    send(client, [50.0])  # fresh: accepted again (and clipped, which proves it went through the filter)
    wait_for(lambda: count(client, "command_limit") > limit_before, 5, "a fresh command to be applied", driver)


def test_late_subscriber_sees_a_latched_estop(mode):
    """A driver started after the e-stop was published still latches it (TRANSIENT_LOCAL on both sides)."""
    from std_msgs.msg import Bool
    from diagnostic_msgs.msg import DiagnosticArray

    from robolearn_drivers.ros import qos
    from robolearn_drivers.ros.conversions import diagnostic_values

    ns = "/late_estop"
    with ros_client("late_estop_client") as c:
        pub = c.publisher(Bool, f"{ns}/estop", qos.ESTOP)
        pub.publish(Bool(data=True))
        diags = c.collect(DiagnosticArray, "/diagnostics", qos.DIAGNOSTICS)
        with NodeProcess("robolearn_drivers.ros.sim_node", CONFIG / "pendulum_sim.yaml", namespace=ns) as node:
            def estopped():
                return any(diagnostic_values(m).get(f"{ns}/sim_driver: safety", {}).get("estopped") == "true"
                           for _, m in list(diags))
            wait_for(estopped, 30, "the late driver to latch the e-stop", node)


@pytest.mark.parametrize("reliability, durability", [("best_effort", "volatile"), ("reliable", "volatile"),
                                                     ("best_effort", "transient_local")])
def test_estop_from_any_publisher_qos_stops_and_an_unlatched_one_is_an_error(mode, reliability, durability):
    """An e-stop is never dropped for its QoS; a publisher whose e-stop a restarted driver would miss is an ERROR
    on /diagnostics saying how to fix it. Commands from a sensor-data (best-effort) publisher are accepted."""
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
    from std_msgs.msg import Bool, Float64MultiArray

    from robolearn_drivers.ros import qos

    ns = f"/qos_{reliability}_{durability}"
    profile = QoSProfile(depth=1, reliability=ReliabilityPolicy[reliability.upper()],
                         durability=DurabilityPolicy[durability.upper()])
    with ros_client(f"qos_client_{reliability}_{durability}") as c:
        diags = c.collect(DiagnosticArray, "/diagnostics", qos.DIAGNOSTICS)
        commands = c.publisher(Float64MultiArray, f"{ns}/joint_commands", qos_profile_sensor_data)
        with NodeProcess("robolearn_drivers.ros.sim_node", CONFIG / "pendulum_sim.yaml", namespace=ns) as node:
            def safety() -> dict:
                return latest_status(diags, f"{ns}/sim_driver: safety")
            wait_for(safety, 30, "the driver's diagnostics", node)
            before = int(safety().get("count.command_limit", 0))
            for _ in range(10):
                commands.publish(Float64MultiArray(data=[50.0]))
                time.sleep(0.03)
            wait_for(lambda: int(safety().get("count.command_limit", 0)) > before, 5,
                     "a best-effort command to be applied (and clipped)", node)
            pub = c.publisher(Bool, f"{ns}/estop", profile)
            wait_for(lambda: pub.get_subscription_count() > 0, 10, "the e-stop publisher to match", node)
            # Sent until seen, as an e-stop button does: a best-effort sample may be lost by design.
            wait_for(lambda: pub.publish(Bool(data=True)) or safety().get("estopped") == "true", 5,
                     "the e-stop to stop the robot", node)
            assert safety()["level"] == "2"
            wait_for(lambda: safety().get("qos_problem.0"), 5, "the incompatible-QoS diagnostic", node)
            assert "durability=transient_local" in safety()["qos_problem.0"]
            assert "offers incompatible QoS" in node.output()


def test_sim_publishes_clock_and_stamps_with_it_under_use_sim_time(mode):
    """The sim owns time: /clock carries simulated time, joint_states are stamped with it, and the node's own
    ROS clock follows it under use_sim_time (its diagnostics stamps are simulated seconds, not wall time).
    /clock is remapped so this sim does not share a clock with the other tests' sims."""
    from diagnostic_msgs.msg import DiagnosticArray
    from rosgraph_msgs.msg import Clock
    from sensor_msgs.msg import JointState

    from robolearn_drivers.ros import qos

    ns, clock_topic = "/clock_test", "/clock_test/clock"
    with ros_client("clock_client") as c:
        clocks = c.collect(Clock, clock_topic, qos.STATE_SUB)
        states = c.collect(JointState, f"{ns}/joint_states", qos.STATE_SUB)
        diags = c.collect(DiagnosticArray, "/diagnostics", qos.DIAGNOSTICS)
        with NodeProcess("robolearn_drivers.ros.sim_node", CONFIG / "pendulum_sim.yaml", namespace=ns,
                         params={"use_sim_time": True, "real_time_factor": 2.0},
                         remaps={"/clock": clock_topic}) as node:
            wait_for(lambda: len(clocks) > 30 and len(states) > 30, 30, "/clock and joint_states", node)
            ours = lambda: [m for _, m in list(diags) if m.status and m.status[0].name == f"{ns}/sim_driver: safety"]
            wait_for(ours, 10, "diagnostics from the sim", node)
        seconds = [m.clock.sec + m.clock.nanosec * 1e-9 for _, m in clocks]
        assert all(b > a for a, b in zip(seconds, seconds[1:])), "simulated time only moves forward"
        assert seconds[0] < 60.0, "the clock is simulated time from 0, not wall time"
        stamps = {m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for _, m in states}
        clock_ns = {m.clock.sec * 10**9 + m.clock.nanosec for _, m in clocks}
        assert len(stamps & clock_ns) > 0.8 * min(len(stamps), len(clock_ns)), "states are stamped with /clock"
        assert all(m.header.stamp.sec < 600 for m in ours()), "use_sim_time: the node's clock is the sim's"


BAD_CONFIGURATIONS = [
    ({"robot_model": "no_such_robot"}, "unknown sim robot 'no_such_robot'"),
    ({"use_sim": False, "calibration_file": "/nonexistent/motors.yaml"},
     "calibration file /nonexistent/motors.yaml does not exist"),
    ({"control_rate_hz": -5.0}, "control_rate_hz=-5.0 is invalid"),
    ({"control_rate_hz": 500.0}, "differs from pendulum's 60 Hz"),
]


def test_bad_configuration_is_refused_with_a_diagnostic_and_no_motion(mode):
    """Each bad configuration in its own node (started side by side to save time): ERROR diagnostic, the
    reason in the log, the node stays up to report it, and no state is ever published."""
    from diagnostic_msgs.msg import DiagnosticArray
    from sensor_msgs.msg import JointState

    from robolearn_drivers.ros import qos
    from robolearn_drivers.ros.conversions import diagnostic_values

    with ros_client("bad_config_client") as c:
        cases = []
        for i, (params, expected) in enumerate(BAD_CONFIGURATIONS):
            ns = f"/bad_config_{i}"
            diags = c.collect(DiagnosticArray, "/diagnostics", qos.DIAGNOSTICS)
            states = c.collect(JointState, f"{ns}/joint_states", qos.STATE_SUB)
            node = NodeProcess("robolearn_drivers.ros.sim_node", CONFIG / "pendulum_sim.yaml", params=params,
                               namespace=ns)
            cases.append((ns, expected, diags, states, node))
        try:
            for ns, expected, diags, states, node in cases:
                def fault():
                    for _, m in list(diags):
                        status = diagnostic_values(m).get(f"{ns}/sim_driver: safety")
                        if status and status["level"] == "2":
                            return status
                    return None
                status = wait_for(fault, 40, f"an ERROR diagnostic for {expected!r}", node)
                assert expected in status["fault"], status
                assert expected in node.output()
                assert node.alive(), "the node stays up to report the fault"
                assert states == [], "a refused driver must not publish state (it never started the robot)"
        finally:
            for *_, node in cases:
                node.__exit__(None, None, None)


def test_sim_arm_moves_to_commanded_joint_positions_under_the_rate_limit(mode):
    """The SO-101 sim behind the same node: 6-joint JointState with effort; position commands move it, at most
    max_velocity (3 rad/s) times one 30 Hz control period."""
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Float64MultiArray

    from robolearn_drivers.ros import qos

    ns = "/arm_test"
    with ros_client("arm_client") as c, NodeProcess("robolearn_drivers.ros.sim_node", CONFIG / "sim.yaml",
                                                    params={"robot_model": "so101_arm"}, namespace=ns) as node:
        states = c.collect(JointState, f"{ns}/joint_states", qos.STATE_SUB)
        pub = c.publisher(Float64MultiArray, f"{ns}/joint_commands", qos.COMMAND)
        wait_for(lambda: len(states) > 3, 30, "the arm's joint_states", node)
        first = states[-1][1]
        assert len(first.name) == 6 and len(first.effort) == 6 and first.name[0] == "shoulder_pan"
        start = np.array(first.position)
        target = start.copy()
        target[0] += 0.4
        begin = time.monotonic()
        while time.monotonic() - begin < 2.0:
            pub.publish(Float64MultiArray(data=target.tolist()))
            time.sleep(1 / 30)
        reached = np.array(states[-1][1].position)
        assert reached[0] - start[0] > 0.3, f"shoulder_pan moved {reached[0] - start[0]:.3f} rad of 0.4"
        assert np.all(np.abs(reached[1:] - start[1:]) < 0.05), "the other joints held their positions"
        # The per-step change of the measured position never exceeds the rate limit (plus tracking overshoot).
        positions = np.array([m.position[0] for t, m in states if t >= begin])
        assert np.max(np.abs(np.diff(positions))) < 0.1 + 0.02


def test_arm_publishes_its_urdf_and_follows_a_joint_trajectory_and_refuses_bad_ones_without_motion(mode):
    """trajectory_msgs/JointTrajectory on joint_trajectory (joint_trajectory_controller's topic): sampled at the
    control rate through the SafetyController. Names in any order; one beyond the joint limits is clipped and
    counted; non-monotonic times, unknown names and NaN are rejected with a diagnostic and no motion."""
    import rclpy.duration
    from builtin_interfaces.msg import Duration
    from diagnostic_msgs.msg import DiagnosticArray
    from sensor_msgs.msg import JointState
    from std_msgs.msg import String
    from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

    from robolearn_drivers.ros import qos

    ns = "/traj_test"

    def trajectory(names, points):
        return JointTrajectory(joint_names=list(names), points=[
            JointTrajectoryPoint(positions=[float(v) for v in q], time_from_start=Duration(sec=int(t), nanosec=int(t % 1 * 1e9)))
            for t, q in points])

    with ros_client("traj_client") as c, NodeProcess("robolearn_drivers.ros.sim_node", CONFIG / "sim.yaml",
                                                     params={"robot_model": "so101_arm"}, namespace=ns) as node:
        states = c.collect(JointState, f"{ns}/joint_states", qos.STATE_SUB)
        diags = c.collect(DiagnosticArray, "/diagnostics", qos.DIAGNOSTICS)
        pub = c.publisher(JointTrajectory, f"{ns}/joint_trajectory", qos.TRAJECTORY)

        def safety() -> dict:
            return latest_status(diags, f"{ns}/sim_driver: safety")

        wait_for(lambda: len(states) > 3 and safety(), 30, "the arm's joint_states and diagnostics", node)
        wait_for(lambda: pub.get_subscription_count() > 0, 10, "the trajectory subscription", node)
        names = list(states[-1][1].name)
        start = np.array(states[-1][1].position)
        description = c.collect(String, f"{ns}/robot_description", qos.LATCHED)  # subscribed late: latched
        urdf = wait_for(lambda: description and description[-1][1].data, 10, "robot_description", node)
        joints = {j.get("name") for j in ET.fromstring(urdf).iter("joint") if j.get("type") != "fixed"}
        assert set(names) <= joints, "every joint_states name is a movable joint of robot_description"

        # Bad trajectories: rejected, counted as malformed, the arm does not move.
        target = start.copy()
        target[0] += 0.3
        bad = [trajectory(names, [(1.0, target), (0.5, target)]),
               trajectory(["no_such_joint"] + names[1:], [(1.0, target)]),
               trajectory(names, [(1.0, [math.nan] * len(names))])]
        for msg in bad:
            before = int(safety().get("count.malformed_command", 0))

            def rejected(msg=msg, before=before) -> bool:
                # Sent until counted: a volatile reader that has not yet matched this publisher (discovery is
                # not symmetric) drops what was written before, although the publisher already counts it.
                pub.publish(msg)
                time.sleep(0.05)
                return int(safety().get("count.malformed_command", 0)) > before

            wait_for(rejected, 5, "the rejection", node)
        time.sleep(0.5)
        assert np.all(np.abs(np.array(states[-1][1].position) - start) < 0.02), "a rejected trajectory never moves"

        # A good one, its names reversed: shoulder_pan +0.3 rad over 1.5 s, then held.
        reversed_names = names[::-1]
        points = [(0.75, start + (target - start) / 2), (1.5, target)]
        pub.publish(trajectory(reversed_names, [(t, q[::-1]) for t, q in points]))
        wait_for(lambda: abs(states[-1][1].position[0] - target[0]) < 0.03, 10, "the arm to reach the trajectory end",
                 node)
        assert np.all(np.abs(np.array(states[-1][1].position[1:]) - start[1:]) < 0.05)

        # Replace, then append: back to the start over 1 s (stamp zero: at once), and a second trajectory
        # stamped 1.5 s ahead that returns to the target. Appended, it waits for the first to finish; had it
        # replaced the first, the arm would never have gone back to the start.
        pub.publish(trajectory(names, [(1.0, start)]))
        later = trajectory(names, [(1.0, target)])
        later.header.stamp = (c.node.get_clock().now() + rclpy.duration.Duration(seconds=1.5)).to_msg()
        pub.publish(later)
        since = len(states)
        wait_for(lambda: any(abs(m.position[0] - start[0]) < 0.03 for _, m in states[since:]), 10,
                 "the first trajectory to bring the arm back to the start", node)
        wait_for(lambda: abs(states[-1][1].position[0] - target[0]) < 0.03, 10,
                 "the appended trajectory to take the arm to the target again", node)

        # Beyond the joint limits: clipped by the safety layer and counted.
        before = int(safety().get("count.command_limit", 0)) + int(safety().get("count.position_limit", 0))
        far = target.copy()
        far[0] = 50.0
        pub.publish(trajectory(names, [(0.5, far)]))
        wait_for(lambda: int(safety().get("count.command_limit", 0)) + int(safety().get("count.position_limit", 0))
                 > before, 5, "the out-of-limits trajectory to be clipped and counted", node)
        assert states[-1][1].position[0] < 4.0, "clipped, never sent 50 rad"


def test_base_takes_plain_twist_on_cmd_vel_unstamped_and_refuses_a_stamp_from_the_future(mode):
    """A teleop-style Twist on cmd_vel_unstamped drives the base; a TwistStamped stamped a minute ahead is
    refused (counted as malformed, with the reason) and the base does not move."""
    from diagnostic_msgs.msg import DiagnosticArray
    from geometry_msgs.msg import Twist, TwistStamped, Vector3
    from nav_msgs.msg import Odometry

    from robolearn_drivers.ros import qos

    ns = "/twist_test"
    with ros_client("twist_client") as c, NodeProcess("robolearn_drivers.ros.sim_node", CONFIG / "sim.yaml",
                                                      params={"robot_model": "diffdrive_base"}, namespace=ns) as node:
        odom = c.collect(Odometry, f"{ns}/odom", qos.STATE_SUB)
        diags = c.collect(DiagnosticArray, "/diagnostics", qos.DIAGNOSTICS)
        stamped = c.publisher(TwistStamped, f"{ns}/cmd_vel", qos.COMMAND)
        plain = c.publisher(Twist, f"{ns}/cmd_vel_unstamped", qos.COMMAND)

        def safety() -> dict:
            return latest_status(diags, f"{ns}/sim_driver: safety")

        wait_for(lambda: len(odom) > 3 and safety(), 30, "odom and diagnostics from the base", node)
        wait_for(lambda: stamped.get_subscription_count() and plain.get_subscription_count(), 10, "subscriptions", node)
        x0 = odom[-1][1].pose.pose.position.x
        future = TwistStamped()
        future.header.stamp = c.node.get_clock().now().to_msg()
        future.header.stamp.sec += 60
        future.twist.linear.x = 0.2
        for _ in range(15):
            stamped.publish(future)
            time.sleep(0.05)
        wait_for(lambda: int(safety().get("count.malformed_command", 0)) > 0, 5, "the future stamp's rejection", node)
        assert "in the future" in safety()["last_rejection"]
        assert abs(odom[-1][1].pose.pose.position.x - x0) < 0.01, "a refused command never moves the base"
        for _ in range(30):
            plain.publish(Twist(linear=Vector3(x=0.2)))
            time.sleep(0.05)
        assert odom[-1][1].pose.pose.position.x - x0 > 0.05, "Twist on cmd_vel_unstamped drove the base forward"
