"""End to end over real Fast DDS: the sim node (pendulum behind the driver's topics, with its safety layer)
and the policy node running an exported ONNX policy, as two processes.

The policy is a PD balance law exported with robolearn.export: while it runs the pendulum stays upright;
without it the pendulum falls. So "the robot does what the policy says" and "the robot stops when the
policy dies" are both visible in the joint angle.
"""

from __future__ import annotations

import time

import pytest

from ros_helpers import CONFIG, NodeProcess, exported_pendulum_policy, require_ros, ros_client, wait_for

pytestmark = pytest.mark.ros
NS = "/policy_test"


@pytest.fixture(scope="module")
def policies(tmp_path_factory):
    require_ros()
    return {"balance": exported_pendulum_policy(tmp_path_factory)}


@pytest.fixture(scope="module")
def sim(policies):
    from diagnostic_msgs.msg import DiagnosticArray
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Bool

    from robolearn_drivers.ros import qos

    with NodeProcess("robolearn_drivers.ros.sim_node", CONFIG / "pendulum_sim.yaml", namespace=NS) as node, \
            ros_client("policy_test_client") as client:
        client.node_process = node
        client.states = client.collect(JointState, f"{NS}/joint_states", qos.STATE_SUB)
        client.diags = client.collect(DiagnosticArray, "/diagnostics", qos.DIAGNOSTICS)
        client.estop = client.publisher(Bool, f"{NS}/estop", qos.ESTOP)
        wait_for(lambda: client.states, 30, "joint_states from the sim node", node)
        yield client


def start_policy(path, **params) -> NodeProcess:
    return NodeProcess("robolearn_drivers.ros.policy_node", CONFIG / "policy.yaml",
                       params={"policy_path": str(path), "robot_model": "pendulum", **params}, namespace=NS)


def status(client, name: str, since: float = 0.0) -> dict:
    """The newest diagnostic values of node `name` received after `since` (monotonic time)."""
    from robolearn_drivers.ros.conversions import diagnostic_values

    for received, msg in reversed(list(client.diags)):
        if received < since:
            break
        values = diagnostic_values(msg).get(f"{NS}/{name}")
        if values is not None:
            return values
    return {}


def angle(client) -> float:
    return float(client.states[-1][1].position[0])


def max_abs_angle(client, seconds: float) -> float:
    start = len(client.states)
    time.sleep(seconds)
    return max(abs(float(m.position[0])) for _, m in client.states[start:])


def balance_from_upright(client, policy: NodeProcess) -> None:
    """Wait until the policy's commands reach the driver, then reset the sim to its near-upright start."""
    from std_srvs.srv import Trigger

    wait_for(lambda: status(client, "sim_driver: safety").get("last_command"), 30,
             "the policy's commands to reach the driver", policy)
    assert client.call(Trigger, f"{NS}/robot/reset").success
    wait_for(lambda: abs(angle(client)) < 0.2, 5, "the reset to bring the pendulum upright", policy)


def test_policy_balances_and_the_watchdog_stops_the_robot_when_the_policy_dies(sim, policies):
    with start_policy(policies["balance"]) as policy:
        balance_from_upright(sim, policy)
        assert max_abs_angle(sim, 2.0) < 0.3, "the PD policy keeps the pendulum upright over DDS"
        # Diagnostics arrive at their own pace (0.5 s period, discovered separately from the command topic):
        # wait for a report rather than reading whatever arrived last.
        wait_for(lambda: int(status(sim, "policy: policy").get("commands_published", 0)) > 50, 10,
                 "the policy's diagnostics to report more than 50 published commands", policy)
        watchdog_before = int(status(sim, "sim_driver: safety").get("count.watchdog", 0))
        policy.kill()  # SIGKILL: no goodbye command
        killed = time.monotonic()
        wait_for(lambda: int(status(sim, "sim_driver: safety").get("count.watchdog", 0)) > watchdog_before,
                 5, "the watchdog to stop the robot", sim.node_process)
        # limits.yaml watchdog_timeout_s = 0.5; allow one diagnostics hop and a loaded machine.
        assert time.monotonic() - killed < 0.5 + 0.6
        assert status(sim, "sim_driver: safety")["last_command"] == "", "no command is applied after the stop"
    wait_for(lambda: abs(angle(sim)) > 1.0, 10, "the unpowered pendulum to fall", sim.node_process)


def test_estop_stops_the_policy_until_reset_and_a_fresh_command(sim, policies):
    from std_msgs.msg import Bool
    from std_srvs.srv import Trigger

    with start_policy(policies["balance"]) as policy:
        balance_from_upright(sim, policy)
        sim.estop.publish(Bool(data=True))
        wait_for(lambda: status(sim, "sim_driver: safety").get("estopped") == "true", 5, "the e-stop", policy)
        refused = int(status(sim, "sim_driver: safety").get("count.estop", 0))
        wait_for(lambda: abs(angle(sim)) > 1.0, 10, "the pendulum to fall while e-stopped", policy)
        wait_for(lambda: int(status(sim, "sim_driver: safety").get("count.estop", 0)) > refused, 10,
                 "the driver to report the policy's commands refused by the e-stop", policy)
        assert status(sim, "sim_driver: safety")["estopped"] == "true"
        sim.estop.publish(Bool(data=False))
        assert sim.call(Trigger, f"{NS}/safety/reset").success
        wait_for(lambda: status(sim, "sim_driver: safety").get("estopped") == "false", 5, "the reset", policy)
        balance_from_upright(sim, policy)
        assert max_abs_angle(sim, 1.0) < 0.3, "fresh policy commands drive the robot again after the reset"


def test_bad_policies_are_refused_and_publish_nothing(sim, policies, tmp_path):
    """A policy for another robot, a missing file and a corrupt file (three nodes started side by side)."""
    from std_msgs.msg import Float64MultiArray

    from robolearn_drivers.ros import qos

    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"not onnx")
    cases = {
        "other_robot": ({"policy_path": str(policies["balance"]), "robot_model": "cartpole"},
                        ["does not fit this robot", "robot is 'cartpole', the policy is for 'pendulum'",
                         "command names"]),
        "missing": ({"policy_path": str(tmp_path / "missing.onnx")}, ["does not exist"]),
        "corrupt": ({"policy_path": str(corrupt)}, ["is not an ONNX model"]),
    }
    commands = sim.collect(Float64MultiArray, f"{NS}/joint_commands", qos.COMMAND)
    started = time.monotonic()
    nodes = {name: NodeProcess("robolearn_drivers.ros.policy_node", CONFIG / "policy.yaml",
                               params={"robot_model": "pendulum", **params}, namespace=NS,
                               remaps={"__node": f"policy_{name}"})
             for name, (params, _) in cases.items()}
    try:
        for name, (_, expected) in cases.items():
            fault = wait_for(lambda: status(sim, f"policy_{name}: policy", started).get("fault"), 30,
                             f"the {name} policy's fault", nodes[name])
            for text in expected:
                assert text in fault, fault
            assert "refused" in nodes[name].output()
        time.sleep(0.3)
    finally:
        for node in nodes.values():
            node.__exit__(None, None, None)
    assert commands == [], "a refused policy publishes no command"
