"""A stop holds over DDS: the loaded sim arm behind the driver's topics, stopped by an e-stop message, a malformed
command and the watchdog, must not creep for 20 simulated seconds (issue: the elbow used to sag 0.27 rad).

The in-process version (tests/test_safety_hold.py) checks the latch itself; this one checks what a ROS user
sees: joint_states from a node stopped through its topics.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from ros_helpers import CONFIG, NodeProcess, latest_status, require_ros, ros_client, wait_for

pytestmark = pytest.mark.ros
NS = "/hold_test"
DIAG_NAME = f"{NS}/sim_driver: safety"
CONTROL_HZ = 30
# Simulated seconds per wall-clock second: 20 simulated seconds of hold take 5 s of the suite's time.
REAL_TIME_FACTOR = 4.0
LOADED_POSE = [0.0, 1.2, -0.3, 0.0, 0.0, 0.0]  # upper arm near horizontal: gravity pulls hardest
HOLD_STATES = 20 * CONTROL_HZ  # one joint_states per control tick; a dropped one only lengthens the hold
SETTLE_STATES = CONTROL_HZ  # the stop's own braking is over after a simulated second


@pytest.fixture(scope="module")
def arm():
    require_ros()
    from diagnostic_msgs.msg import DiagnosticArray
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Bool, Float64MultiArray

    from robolearn_drivers.ros import qos

    with NodeProcess("robolearn_drivers.ros.sim_node", CONFIG / "sim.yaml", namespace=NS,
                     params={"real_time_factor": REAL_TIME_FACTOR, "diagnostics_period_s": 0.1}) as node, \
            ros_client("hold_test_client") as client:
        client.node_process = node
        client.states = client.collect(JointState, f"{NS}/joint_states", qos.STATE_SUB)
        client.diags = client.collect(DiagnosticArray, "/diagnostics", qos.DIAGNOSTICS)
        client.commands = client.publisher(Float64MultiArray, f"{NS}/joint_commands", qos.COMMAND)
        client.estop = client.publisher(Bool, f"{NS}/estop", qos.ESTOP)
        wait_for(lambda: len(client.states) > 5, 30, "joint_states from the sim arm", node)
        yield client


def _positions(client, index: int = -1) -> np.ndarray:
    return np.asarray(client.states[index][1].position, dtype=float)


def _drive_to_loaded_pose(client) -> None:
    from std_msgs.msg import Bool, Float64MultiArray
    from std_srvs.srv import Trigger

    client.estop.publish(Bool(data=False))
    assert client.call(Trigger, f"{NS}/safety/reset").success

    def arrived() -> bool:  # keeps commanding while it waits, so the watchdog never stops the arm
        client.commands.publish(Float64MultiArray(data=LOADED_POSE))
        time.sleep(0.01)
        return bool(np.abs(_positions(client)[:3] - LOADED_POSE[:3]).max() < 0.05)

    wait_for(arrived, 30, "the arm at the loaded pose", client.node_process)


@pytest.mark.parametrize("cause,reason", [("estop", "external_estop"), ("malformed", "malformed_command"),
                                          ("watchdog", "watchdog")])
def test_a_stopped_loaded_arm_holds_for_20_simulated_seconds_over_dds(arm, cause, reason):
    from std_msgs.msg import Bool, Float64MultiArray

    _drive_to_loaded_pose(arm)
    if cause == "estop":
        arm.estop.publish(Bool(data=True))
    elif cause == "malformed":
        arm.commands.publish(Float64MultiArray(data=[0.0, 1.0]))  # two values for six joints
    # watchdog: simply no more commands

    def stopped() -> bool:
        status = latest_status(arm.diags, DIAG_NAME)
        return bool(status.get("last_stop")) and status.get("stop_reason") == reason

    wait_for(stopped, 10, f"a stop for {reason} on /diagnostics", arm.node_process)
    settled = len(arm.states) + SETTLE_STATES
    wait_for(lambda: len(arm.states) > settled, 30, "a simulated second of joint_states", arm.node_process)
    held = _positions(arm, settled)
    wait_for(lambda: len(arm.states) > settled + HOLD_STATES, 60, "20 simulated seconds of joint_states",
             arm.node_process)
    drift = np.abs(_positions(arm, settled + HOLD_STATES) - held)
    assert drift.max() < 0.005, f"held by {cause}, the arm drifted {np.round(drift, 4)} rad in 20 s"
    assert latest_status(arm.diags, DIAG_NAME).get("stop_reason") == reason, "the stop's first cause is kept"
