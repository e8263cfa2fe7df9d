"""Closed-loop timing at 100 Hz: sim node -> policy node -> the driver's safety layer over Fast DDS, next to
the same loop (DriverLoop + PolicyLoop + the same ONNX policy) in one process, measured in the same run.

Reports, for each loop, the control period error |period - 1/rate| (p50, p99) and the observation-to-command
latency (p50, p99), then the DDS/in-process ratios. Goal: DDS p99 period error <= 2 ms. Over DDS the latency
runs from the driver's state stamp to the policy's command arriving at an observer process (an upper bound
of what the driver sees); in process it is the time to compute the command from the observation.

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


class Timings:
    """Per-segment tick times (period errors never span two segments) and obs->command latencies."""

    def __init__(self) -> None:
        self.period_errors: list[np.ndarray] = []
        self.latencies: list[np.ndarray] = []
        self.max_angle = 0.0
        self.ticks = 0

    def add(self, ticks: np.ndarray, latencies: np.ndarray, period_s: float, max_angle: float = 0.0) -> None:
        self.period_errors.append(np.abs(np.diff(ticks) - period_s) * 1000.0)
        self.latencies.append(np.asarray(latencies) * 1000.0)
        self.max_angle = max(self.max_angle, max_angle)
        self.ticks += len(ticks)

    def row(self) -> tuple[float, float, float, float]:
        errors = np.concatenate(self.period_errors)
        latencies = np.concatenate(self.latencies) if any(len(x) for x in self.latencies) else np.zeros(1)
        return (*percentiles(errors), *percentiles(latencies))


def paced(rate_hz: float, seconds: float, body) -> np.ndarray:
    """Run `body()` at absolute due times (no drift) and return the tick times."""
    period = 1.0 / rate_hz
    ticks = []
    start = time.monotonic()
    for k in range(int(seconds * rate_hz)):
        time.sleep(max(0.0, start + k * period - time.monotonic()))
        ticks.append(time.monotonic())
        body()
    return np.array(ticks)


class InProcessLoop:
    """DriverLoop (robot + safety) and PolicyLoop (task features + onnxruntime) in this process, no DDS."""

    def __init__(self, policy: Path, limits: Path) -> None:
        from robolearn_sim import make_robot
        from robolearn_drivers.core.driver_loop import DriverLoop
        from robolearn_drivers.core.policy_loop import PolicyLoop

        self.robot = make_robot(ROBOT, limits_path=str(limits))
        self.robot.connect()
        self.driver = DriverLoop(self.robot, advance_physics=True)
        self.driver.reset_robot(seed=0)
        self.brain = PolicyLoop.load(str(policy), ROBOT, limits_file=str(limits))
        self.latencies: list[float] = []
        self.max_angle = 0.0

    def tick(self) -> None:
        observed = time.monotonic()
        self.driver.submit(self.brain.command_for(self.driver.last_observation))
        self.latencies.append(time.monotonic() - observed)
        self.max_angle = max(self.max_angle, abs(float(self.driver.step().observation["joint_pos"][0])))

    def close(self) -> None:
        self.robot.disconnect()


def measure(policy: Path, limits: Path, rate_hz: float, seconds: float, segments: int) -> dict[str, Timings]:
    """Alternate bare-timer, in-process and DDS segments while the DDS nodes run throughout, so the three see
    the same background load (the machine is shared and noisy)."""
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Float64MultiArray
    from std_srvs.srv import Trigger

    from robolearn_drivers.ros import qos

    ns, period = "/bench", 1.0 / rate_hz
    params = {"limits_file": str(limits)}
    config = REPO / "drivers" / "config"
    results = {name: Timings() for name in ("bare timer", "in-process", "DDS (driver stamps)")}
    dds_received = Timings()
    local = InProcessLoop(policy, limits)
    try:
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
            segment = seconds / segments
            for _ in range(segments):
                results["bare timer"].add(paced(rate_hz, segment, lambda: None), [], period)
                local.latencies.clear()
                ticks = paced(rate_hz, segment, local.tick)
                results["in-process"].add(ticks, local.latencies, period, local.max_angle)
                first_state, first_command = len(states), len(commands)
                time.sleep(segment)
                window_states, window_commands = states[first_state:], commands[first_command:]
                stamps = np.array([m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for _, m in window_states])
                received = np.array([t for t, _ in window_states])
                # Commands' receive times on the system clock, the clock of the driver's state stamps.
                wall_offset = time.time() - time.monotonic()
                command_times = np.array([t for t, _ in window_commands]) + wall_offset
                # Each command answers the newest state published before it (the policy acts on every state):
                # from the driver publishing a state to its command arriving here, as it arrives at the driver.
                index = np.searchsorted(stamps, command_times) - 1
                latency = command_times[index >= 0] - stamps[index[index >= 0]]
                angle = max(abs(float(m.position[0])) for _, m in window_states)
                results["DDS (driver stamps)"].add(stamps, latency, period, angle)
                dds_received.add(received, latency, period, angle)
            assert sim.alive() and brain.alive(), sim.output()[-2000:] + brain.output()[-2000:]
    finally:
        local.close()
    results["DDS (observer receive)"] = dds_received
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per loop (default 10)")
    parser.add_argument("--segments", type=int, default=5, help="interleaved segments per loop (default 5)")
    args = parser.parse_args()
    args.rate = RATE_HZ
    use_fast_pendulum()
    mode = isolation_mode()
    if mode is None:
        print("refusing to run: DDS is not isolated; run inside `unshare -n` (see the docstring) or set "
              "ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        limits = write_limits(args.rate, root)
        policy = export_pd_policy(limits, root)
        results = measure(policy, limits, args.rate, args.seconds, args.segments)

    print(f"\nclosed loop at {args.rate:g} Hz, {args.seconds:g} s per loop in {args.segments} interleaved segments "
          f"({mode}; {os.cpu_count()} CPUs, shared; load average {os.getloadavg()[0]:.1f})")
    print(f"{'loop':<24}{'ticks':>7}{'period err p50':>16}{'p99 (ms)':>10}{'obs->cmd p50':>14}{'p99 (ms)':>10}"
          f"{'max |angle|':>13}")
    rows = {}
    for name, timing in results.items():
        rows[name] = timing.row()
        e50, e99, l50, l99 = rows[name]
        latency = f"{l50:>14.3f}{l99:>10.3f}" if name != "bare timer" else f"{'-':>14}{'-':>10}"
        print(f"{name:<24}{timing.ticks:>7}{e50:>16.3f}{e99:>10.3f}{latency}{timing.max_angle:>13.3f}")
    dds, local, bare = rows["DDS (driver stamps)"], rows["in-process"], rows["bare timer"]
    print(f"\nratios: DDS / in-process period error p99 {dds[1] / max(local[1], 1e-6):.2f}x "
          f"(in-process / bare timer {local[1] / max(bare[1], 1e-6):.2f}x); "
          f"obs->cmd latency p50 DDS / in-process {dds[2] / max(local[2], 1e-6):.1f}x")
    print(f"goal p99 period error <= 2 ms over DDS: {'met' if dds[1] <= 2.0 else 'NOT met'} ({dds[1]:.3f} ms; "
          f"this machine's bare timer p99 is {bare[1]:.3f} ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
