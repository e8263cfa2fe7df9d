"""Closed-loop timing at 100 Hz: sim node -> policy node -> the driver's safety layer over Fast DDS, next to
the same loop (DriverLoop + PolicyLoop + the same ONNX policy) in one process, measured in the same run.

Reports, for each loop, the control period error |period - 1/rate| (p50, p99) and the observation-to-command
latency (p50, p99), then the DDS/in-process ratios. Goal: DDS p99 period error <= 2 ms.

DDS discovery must stay on this machine; run it inside a loopback-only network namespace:

    unshare -n bash -c 'ip link set lo up; ip link set lo multicast on; ip route add 224.0.0.0/4 dev lo; \
        ROS_DOMAIN_ID=77 /tmp/venv/bin/python bench/bench_ros_loop.py --seconds 10'
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
os.environ.setdefault("ROS_DOMAIN_ID", "77")

import numpy as np  # noqa: E402
import yaml  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the tests' node-process and client helpers (bench code, not library)
sys.path.insert(0, str(REPO / "bench"))
# The node processes find the 100 Hz pendulum module through this path too.
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "bench"), os.environ.get("PYTHONPATH")]))

from ros_helpers import NodeProcess, isolation_mode, ros_client, wait_for  # noqa: E402
from ros_loop_robots import RATE_HZ, use_fast_pendulum  # noqa: E402

ROBOT, TASK = "pendulum", "robolearn/PendulumBalance-v0"


def write_limits(rate_hz: float, root: Path) -> Path:
    from robolearn.safety import calibration_dir

    data = yaml.safe_load((calibration_dir() / ROBOT / "limits.yaml").read_text())
    data["control_rate_hz"] = rate_hz
    path = root / "limits.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def export_pd_policy(limits: Path, root: Path) -> Path:
    """The PD balance law as an exported ONNX policy for the pendulum at the benchmark's rate."""
    import gymnasium as gym
    import torch

    from robolearn.export.onnx_export import export_policy

    torch.set_num_threads(1)
    env = gym.make(TASK, limits_path=str(limits)).unwrapped
    layer = torch.nn.Linear(2, 1)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[-5.0, -1.0]]))
        layer.bias.zero_()
    path = root / "pd.onnx"
    try:
        export_policy(torch.nn.Sequential(layer, torch.nn.Tanh()), env, path, task_id=TASK, parity_samples=64)
    finally:
        env.close()
    return path


def percentiles(values: np.ndarray) -> tuple[float, float]:
    return float(np.percentile(values, 50)), float(np.percentile(values, 99))


def in_process_loop(policy: Path, limits: Path, rate_hz: float, seconds: float) -> dict:
    from robolearn_sim import make_robot
    from robolearn_drivers.core.driver_loop import DriverLoop
    from robolearn_drivers.core.policy_loop import PolicyLoop

    robot = make_robot(ROBOT, limits_path=str(limits))
    robot.connect()
    try:
        driver = DriverLoop(robot, advance_physics=True)
        driver.reset_robot(seed=0)
        brain = PolicyLoop.load(str(policy), ROBOT, limits_file=str(limits))
        period = 1.0 / rate_hz
        ticks, latencies, angles = [], [], []
        start = time.monotonic()
        for k in range(int(seconds * rate_hz)):
            due = start + k * period
            time.sleep(max(0.0, due - time.monotonic()))
            ticks.append(time.monotonic())
            observed = time.monotonic()
            command = brain.command_for(driver.last_observation)
            driver.submit(command)
            latencies.append(time.monotonic() - observed)
            angles.append(abs(float(driver.step().observation["joint_pos"][0])))
        return {"ticks": np.array(ticks), "latency": np.array(latencies), "max_angle": max(angles),
                "interventions": dict(driver.status()["counts"])}
    finally:
        robot.disconnect()


def dds_loop(policy: Path, limits: Path, rate_hz: float, seconds: float) -> dict:
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Float64MultiArray
    from std_srvs.srv import Trigger

    from robolearn_drivers.ros import qos

    ns = "/bench"
    params = {"limits_file": str(limits)}
    config = REPO / "drivers" / "config"
    with ros_client("bench_observer") as client, \
            NodeProcess("robolearn_drivers.ros.sim_node", config / "pendulum_sim.yaml", params, ns,
                        wrapper="ros_loop_robots") as sim, \
            NodeProcess("robolearn_drivers.ros.policy_node", config / "policy.yaml",
                        {**params, "policy_path": str(policy), "robot_model": ROBOT}, ns,
                        wrapper="ros_loop_robots") as brain:
        states = client.collect(JointState, f"{ns}/joint_states", qos.STATE_SUB)
        commands = client.collect(Float64MultiArray, f"{ns}/joint_commands", qos.COMMAND)
        wait_for(lambda: len(commands) > 10, 60, "the policy's commands", brain)
        assert client.call(Trigger, f"{ns}/robot/reset").success
        time.sleep(0.5)
        first_state, first_command = len(states), len(commands)
        time.sleep(seconds)
        window_states, window_commands = list(states[first_state:]), list(commands[first_command:])
        assert sim.alive() and brain.alive(), sim.output()[-2000:] + brain.output()[-2000:]
    stamps = np.array([m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for _, m in window_states])
    received = np.array([t for t, _ in window_states])
    command_times = np.array([t for t, _ in window_commands])
    # Each command answers the newest state received before it (the policy node acts on every state).
    index = np.searchsorted(received, command_times) - 1
    valid = index >= 0
    latency = command_times[valid] - received[index[valid]]
    return {"ticks": stamps, "received": received, "latency": latency,
            "max_angle": max(abs(float(m.position[0])) for _, m in window_states),
            "commands": len(window_commands), "states": len(window_states)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per loop (default 10)")
    args = parser.parse_args()
    args.rate = RATE_HZ
    use_fast_pendulum()
    mode = isolation_mode()
    if mode is None:
        print("refusing to run: DDS is not isolated; run inside `unshare -n` (see the docstring) or set "
              "ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST", file=sys.stderr)
        return 2
    period_ms = 1000.0 / args.rate
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        limits = write_limits(args.rate, root)
        policy = export_pd_policy(limits, root)
        local = in_process_loop(policy, limits, args.rate, args.seconds)
        dds = dds_loop(policy, limits, args.rate, args.seconds)

    rows = []
    for name, result, ticks in (("in-process", local, local["ticks"]), ("DDS (driver stamps)", dds, dds["ticks"]),
                                ("DDS (observer receive)", dds, dds["received"])):
        error_ms = np.abs(np.diff(ticks) * 1000.0 - period_ms)
        lat_ms = result["latency"] * 1000.0
        rows.append((name, len(ticks), *percentiles(error_ms), *percentiles(lat_ms), result["max_angle"]))
    print(f"\nclosed loop at {args.rate:g} Hz for {args.seconds:g} s each ({mode}; "
          f"{os.cpu_count()} CPUs, shared)")
    print(f"{'loop':<24}{'ticks':>7}{'period err p50':>16}{'p99 (ms)':>10}{'obs->cmd p50':>14}{'p99 (ms)':>10}"
          f"{'max |angle|':>13}")
    for name, n, e50, e99, l50, l99, angle in rows:
        print(f"{name:<24}{n:>7}{e50:>16.3f}{e99:>10.3f}{l50:>14.3f}{l99:>10.3f}{angle:>13.3f}")
    local_row, dds_row = rows[0], rows[1]
    print(f"\nratios DDS / in-process: period error p99 {dds_row[3] / max(local_row[3], 1e-6):.2f}x, "
          f"obs->cmd latency p50 {rows[2][4] / max(local_row[4], 1e-6):.1f}x")
    print(f"DDS commands per state: {dds['commands'] / max(dds['states'], 1):.3f}; in-process safety "
          f"interventions: {local['interventions'] or 'none'}")
    goal = dds_row[3] <= 2.0
    print(f"goal p99 period error <= 2 ms over DDS: {'met' if goal else 'NOT met'} ({dds_row[3]:.3f} ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
