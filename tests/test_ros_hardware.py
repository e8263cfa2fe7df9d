"""The hardware driver node on a real serial protocol: a virtual Feetech STS servo bus on a pseudo-terminal
(tests/virtual_devices) is the arm; the driver node process drives it through the vendor SDK over pyserial.

What is proved over DDS: state comes from the servos, commands reach their goal registers only through the
safety layer, an e-stop freezes the goals, a bus that stops answering latches a driver fault, and a node
shutdown leaves the servos' torque off.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import yaml

from ros_helpers import CONFIG, NodeProcess, latest_status, require_ros, ros_client, wait_for
from virtual_devices.bus_families import FAMILIES, eventually

pytestmark = pytest.mark.ros
NS = "/hw_test"
JOINTS = ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper")
IDS = {name: i + 1 for i, name in enumerate(JOINTS)}
FAMILY = FAMILIES["feetech"]
TICKS_PER_RAD = 4096 / (2 * np.pi)


@pytest.fixture()
def arm_files(tmp_path):
    from robolearn.calibration.motors import ArmCalibration, MotorCalibration

    calibration = ArmCalibration(robot="so101_arm", bus=FAMILY.name, motors=tuple(
        MotorCalibration(name=n, id=IDS[n], model=FAMILY.model, resolution=4096, homing_offset=2048, direction=1,
                         range_min=1000, range_max=3100) for n in JOINTS)).save(tmp_path / "so101_arm" / "arm.yaml")
    limits = tmp_path / "limits.yaml"  # the arm's rate and step limits, without the workspace box
    limits.write_text(yaml.safe_dump({
        "schema_version": 2, "robot": "so101_arm", "command_kind": "joint_position", "control_rate_hz": 30,
        "watchdog_timeout_s": 0.5, "stale_observation_s": 0.5,
        "commands": [{"name": n, "low": -1.5, "high": 1.5, "max_velocity": 3.0} for n in JOINTS]}))
    return calibration, limits


def test_hardware_driver_node_drives_a_virtual_servo_bus_safely(arm_files):
    require_ros()
    from diagnostic_msgs.msg import DiagnosticArray
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Bool, Float64MultiArray

    from robolearn_drivers.ros import qos

    calibration, limits = arm_files
    with FAMILY.virtual({i: FAMILY.number for i in IDS.values()}) as bus, ros_client("hw_client") as client:
        servo = bus.servos[IDS["shoulder_pan"]]
        states = client.collect(JointState, f"{NS}/joint_states", qos.STATE_SUB)
        diags = client.collect(DiagnosticArray, "/diagnostics", qos.DIAGNOSTICS)
        commands = client.publisher(Float64MultiArray, f"{NS}/joint_commands", qos.COMMAND)
        estop = client.publisher(Bool, f"{NS}/estop", qos.ESTOP)

        def safety() -> dict:
            return latest_status(diags, f"{NS}/robot_driver: safety")

        node = NodeProcess("robolearn_drivers.ros.driver_node", CONFIG / "robot.yaml", namespace=NS, params={
            "port": bus.path, "calibration_file": str(calibration), "limits_file": str(limits),
            "far_start": "ramp"})  # the configured, confirmed path: a far first command is ramped to
        with node:
            wait_for(lambda: len(states) > 3, 30, "joint_states read from the servos", node)
            assert list(states[-1][1].name) == list(JOINTS)
            assert np.allclose(states[-1][1].position, 0.0, atol=1e-3), "2048 ticks is the calibrated zero"
            assert not servo.torque, "no torque before the first command"

            # 0.4 rad asked; limits.yaml allows 0.1 rad per control step, so the goal walks there in steps.
            goals = []
            for _ in range(30):
                commands.publish(Float64MultiArray(data=[0.4, 0, 0, 0, 0, 0]))
                time.sleep(1 / 30)
                goals.append(servo.get(servo.regs.goal_position))
            assert servo.torque
            assert abs(states[-1][1].position[0] - 0.4) < 0.01, "the servo reached the command, read back over DDS"
            steps = np.diff([g for g in goals if g]) / TICKS_PER_RAD
            assert np.max(steps) <= 0.1 + 2 / TICKS_PER_RAD, "the goal never jumped more than 3 rad/s x one 30 Hz period (+ rounding)"

            estop.publish(Bool(data=True))
            wait_for(lambda: safety().get("estopped") == "true", 5, "the e-stop", node)
            held = servo.get(servo.regs.goal_position)
            for _ in range(10):
                commands.publish(Float64MultiArray(data=[-0.4, 0, 0, 0, 0, 0]))
                time.sleep(1 / 30)
            assert abs(servo.get(servo.regs.goal_position) - held) <= 2, "e-stopped: the goal stays where it was"
            wait_for(lambda: int(safety().get("count.estop", 0)) > 0, 5, "the refused commands' count", node)

            from std_srvs.srv import Trigger

            estop.publish(Bool(data=False))
            assert client.call(Trigger, f"{NS}/safety/reset").success
            wait_for(lambda: safety().get("estopped") == "false", 5, "the reset", node)
            bus.drop_replies = 10**9  # the bus goes silent: a pulled cable
            wait_for(lambda: safety().get("estopped") == "true", 10, "a fault latch when the bus is silent", node)
            assert safety()["estop_reason"] != "external_estop" and safety()["level"] == "2"
            assert node.alive(), "the node stays up to report the fault"
            bus.drop_replies = 0  # plugged back in: the shutdown below can reach the servos

        assert eventually(lambda: not any(s.torque for s in bus.servos.values()), 5), \
            "after the node shut down every servo's torque is off"


def test_lifecycle_driver_turns_torque_on_and_off_through_its_transitions(arm_files):
    """The managed driver over DDS on the virtual bus: nothing moves before activate, a command after it turns
    the torque on, deactivate ignores commands and holds, cleanup turns the torque off; a transition out of
    order is refused."""
    require_ros()
    from lifecycle_msgs.msg import Transition
    from lifecycle_msgs.srv import ChangeState, GetState
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Float64MultiArray

    from robolearn_drivers.ros import qos

    calibration, limits = arm_files
    ns = "/lifecycle_test"
    with FAMILY.virtual({i: FAMILY.number for i in IDS.values()}) as bus, ros_client("lifecycle_client") as client:
        servo = bus.servos[IDS["shoulder_pan"]]
        states = client.collect(JointState, f"{ns}/joint_states", qos.STATE_SUB)
        commands = client.publisher(Float64MultiArray, f"{ns}/joint_commands", qos.COMMAND)

        def change(transition_id: int) -> bool:
            service = client.node.create_client(ChangeState, f"{ns}/robot_driver/change_state")
            assert service.wait_for_service(timeout_sec=20), "change_state did not appear"
            future = service.call_async(ChangeState.Request(transition=Transition(id=transition_id)))
            return wait_for(lambda: future.done() and (future.result(),), 20, "change_state", node)[0].success

        def state_label() -> str:
            service = client.node.create_client(GetState, f"{ns}/robot_driver/get_state")
            assert service.wait_for_service(timeout_sec=20)
            future = service.call_async(GetState.Request())
            return wait_for(lambda: future.done() and (future.result(),), 20, "get_state", node)[0].current_state.label

        def push(value: float, n: int = 20) -> None:
            for _ in range(n):
                commands.publish(Float64MultiArray(data=[value, 0, 0, 0, 0, 0]))
                time.sleep(1 / 30)

        node = NodeProcess("robolearn_drivers.ros.lifecycle_driver_node", CONFIG / "robot.yaml", namespace=ns,
                           params={"port": bus.path, "calibration_file": str(calibration),
                                   "limits_file": str(limits)})
        with node:
            assert state_label() == "unconfigured"
            assert not change(Transition.TRANSITION_ACTIVATE), "activate before configure is refused"
            assert change(Transition.TRANSITION_CONFIGURE), node.output()[-2000:]
            assert state_label() == "inactive"
            push(0.2, 10)  # within the start gap of the measured pose (0): no operator confirmation needed
            assert not servo.torque and not states, "inactive: no state published, no command applied"
            assert change(Transition.TRANSITION_ACTIVATE)
            push(0.2)
            wait_for(lambda: servo.torque, 5, "torque on after a command while active", node)
            wait_for(lambda: states and abs(states[-1][1].position[0] - 0.2) < 0.02, 10, "the commanded position", node)
            assert change(Transition.TRANSITION_DEACTIVATE)
            held = servo.get(servo.regs.goal_position)
            push(-0.2)
            assert abs(servo.get(servo.regs.goal_position) - held) <= 2, "inactive: commands ignored, goal held"
            assert change(Transition.TRANSITION_CLEANUP)
            assert eventually(lambda: not any(s.torque for s in bus.servos.values()), 5), "cleanup: torque off"
            assert state_label() == "unconfigured"
            assert change(Transition.TRANSITION_CONFIGURE), "configure again after cleanup"


def test_a_far_start_is_refused_over_ros_until_the_operator_confirms(arm_files):
    require_ros()
    from diagnostic_msgs.msg import DiagnosticArray
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Float64MultiArray
    from std_srvs.srv import Trigger

    from robolearn_drivers.ros import qos

    calibration, limits = arm_files
    ns = "/far_start_test"
    with FAMILY.virtual({i: FAMILY.number for i in IDS.values()}) as bus, ros_client("far_client") as client:
        servo = bus.servos[IDS["shoulder_pan"]]
        diags = client.collect(DiagnosticArray, "/diagnostics", qos.DIAGNOSTICS)
        states = client.collect(JointState, f"{ns}/joint_states", qos.STATE_SUB)
        commands = client.publisher(Float64MultiArray, f"{ns}/joint_commands", qos.COMMAND)

        def push(n: int = 15) -> None:
            for _ in range(n):
                commands.publish(Float64MultiArray(data=[0.5, 0, 0, 0, 0, 0]))  # 0.5 rad from where it stands
                time.sleep(1 / 30)

        node = NodeProcess("robolearn_drivers.ros.driver_node", CONFIG / "robot.yaml", namespace=ns, params={
            "port": bus.path, "calibration_file": str(calibration), "limits_file": str(limits)})
        with node:
            wait_for(lambda: len(states) > 3, 30, "joint_states read from the servos", node)
            push()
            wait_for(lambda: latest_status(diags, f"{ns}/robot_driver: safety").get("estopped") == "true", 10,
                     "the refused far start latching a stop", node)
            assert not servo.torque and servo.position_writes == 0, "refused: torque off, not one goal sent"
            wait_for(lambda: "FarStartError" in node.output(), 10, "the refusal explained in the node's log", node)
            assert client.call(Trigger, f"{ns}/robot/confirm_far_start").success
            assert client.call(Trigger, f"{ns}/safety/reset").success
            push(30)
            assert servo.torque, "confirmed: the start is ramped to"
            assert abs(servo.get(servo.regs.goal_position) - (2048 + 0.5 * TICKS_PER_RAD)) <= 2
