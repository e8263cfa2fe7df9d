"""The 30 Hz sim arm driven as a ROS client drives it: command-to-state latency and trajectory following.

Part 1, command-to-state latency: a client publishes joint_commands at 100 Hz; every half second the
shoulder_pan target steps by 0.1 rad, and the latency is the time from the first command of a step to the
first joint_states message showing the joint moving (> 3 mrad). Over Fast DDS (sim node in a process) against
the same loop in this process (DriverLoop ticked at 30 Hz by a Ticker thread, commands submitted from this
thread at 100 Hz), steps interleaved so both see the same load. A command waits in the driver for the next
control tick, so about half a period (16.7 ms) of the latency is that wait in either loop.

Part 2, trajectory following (in process, simulated time, deterministic): a 5-point trajectory through
core/trajectory.py sampled at 30 Hz, each sample through the SafetyController (DriverLoop, as the driver
does), against the same samples written to the motors directly (no safety layer). Reports the RMS joint error
(measured - desired, over every joint and tick until 0.5 s after the end) of both, and the time the safety
layer adds per point (Robot.send_action minus the bare motor write).

DDS discovery must stay on this machine; run it inside a loopback-only network namespace:

    unshare -n bash -c 'ip link set lo up; ip link set lo multicast on; ip route add 224.0.0.0/4 dev lo; \
        OMP_NUM_THREADS=1 PYTHONPATH=.:sim:drivers .venv/bin/python bench/bench_ros_command.py'
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
os.environ.setdefault("ROS_DOMAIN_ID", "78")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the tests' node-process and client helpers (bench code, not library)

from ros_helpers import NodeProcess, isolation_mode, ros_client, wait_for  # noqa: E402

ROBOT = "so101_arm"
COMMAND_HZ = 100.0
STEP_RAD = 0.1
MOVED_RAD = 0.003
STEP_S = 0.5


def percentiles(values) -> tuple[float, float]:
    values = np.asarray(values) * 1e3
    return float(np.percentile(values, 50)), float(np.percentile(values, 99))


class InProcessArm:
    """DriverLoop on the sim arm, ticked at its control rate by a Ticker thread, as the driver node runs it."""

    def __init__(self) -> None:
        from robolearn_sim import make_robot
        from robolearn_drivers.core.driver_loop import DriverLoop
        from robolearn_drivers.core.ticker import Ticker

        self.robot = make_robot(ROBOT, seed=0)
        self.robot.connect()
        self.loop = DriverLoop(self.robot, advance_physics=True)
        self.loop.reset_robot(seed=0)
        self.lock = threading.Lock()
        self.states: list[tuple[float, np.ndarray]] = []
        self.ticker = Ticker(self.robot.spec.control_period_s, self._tick, name="bench-arm")
        self.ticker.start()

    def _tick(self) -> None:
        with self.lock:
            observation = self.loop.step().observation
        self.states.append((time.monotonic(), np.array(observation["joint_pos"])))

    def command(self, values: np.ndarray) -> None:
        with self.lock:
            self.loop.submit(values)

    def close(self) -> None:
        self.ticker.stop()
        self.robot.disconnect()


def step_latency(publish, states: list, position_of, base: np.ndarray, delta: float) -> float | None:
    """Publish base+delta on joint 0 at COMMAND_HZ for STEP_S; the latency to the first state that moved
    (None if none did: a step to where the joint already is)."""
    target = base.copy()
    target[0] += delta
    before = position_of(states[-1][1])[0]  # where the joint is when the step begins
    first_state = len(states)
    start = time.monotonic()
    latency = None
    for k in range(int(STEP_S * COMMAND_HZ)):
        time.sleep(max(0.0, start + k / COMMAND_HZ - time.monotonic()))
        sent = time.monotonic()
        publish(target)
        if k == 0:
            start_sent = sent
        if latency is None:
            for received, msg in states[first_state:]:
                if received > start_sent and abs(position_of(msg)[0] - before) > MOVED_RAD:
                    latency = received - start_sent
                    break
    return latency


def measure_latency(steps: int) -> dict[str, list[float]]:
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Float64MultiArray

    from robolearn_drivers.ros import qos

    ns = "/bench_command"
    local = InProcessArm()
    results: dict[str, list[float]] = {"DDS": [], "in-process": []}
    try:
        with ros_client("bench_commander") as client, NodeProcess(
                "robolearn_drivers.ros.sim_node", REPO / "drivers" / "config" / "sim.yaml",
                {"robot_model": ROBOT}, ns) as sim:
            states = client.collect(JointState, f"{ns}/joint_states", qos.STATE_SUB)
            pub = client.publisher(Float64MultiArray, f"{ns}/joint_commands", qos.COMMAND)
            wait_for(lambda: len(states) > 10 and pub.get_subscription_count() > 0, 60, "the sim arm", sim)

            def publish(values) -> None:
                pub.publish(Float64MultiArray(data=[float(v) for v in values]))

            dds_base = np.array(states[-1][1].position)
            local_base = local.states[-1][1].copy()
            # Settle both at their start pose under 100 Hz commands before measuring.
            step_latency(publish, states, lambda m: m.position, dds_base, 0.0)
            step_latency(local.command, local.states, lambda q: q, local_base, 0.0)
            for i in range(steps):
                delta = STEP_RAD if i % 2 == 0 else 0.0  # out and back
                dds = step_latency(publish, states, lambda m: m.position, dds_base, delta)
                here = step_latency(local.command, local.states, lambda q: q, local_base, delta)
                for name, value in (("DDS", dds), ("in-process", here)):
                    if value is not None:
                        results[name].append(value)
            assert sim.alive(), sim.output()[-2000:]
    finally:
        local.close()
    return results


# -------------------------------------------------------------------------------------- trajectory
POINTS = [(0.8, [0.3, 0.2, 1.1, 0.5, 0.0, 0.2]), (1.6, [0.5, 0.5, 0.8, 0.3, 0.4, 0.6]),
          (2.4, [0.1, 0.6, 0.6, 0.6, 0.2, 0.3]), (3.2, [-0.3, 0.3, 1.0, 0.4, -0.2, 0.1]),
          (4.0, [0.0, 0.0, 1.3, 0.6, 0.0, 0.0])]


def follow(through_safety: bool) -> tuple[float, np.ndarray]:
    """RMS error (rad) following POINTS, and the seconds per point spent sending (send_action or bare write)."""
    from robolearn_sim import make_robot
    from robolearn_drivers.core.driver_loop import DriverLoop
    from robolearn_drivers.core.trajectory import JointTrajectory

    robot = make_robot(ROBOT, seed=0)
    with robot:
        loop = DriverLoop(robot, advance_physics=True)
        loop.reset_robot(seed=0)
        names = robot.spec.joint_names
        trajectory = JointTrajectory.parse(ROBOT, names, names, [t for t, _ in POINTS], [q for _, q in POINTS],
                                           robot.now(), loop.last_observation["joint_pos"])
        errors, send_times = [], []
        while robot.now() < trajectory.end + 0.5:
            sample = trajectory.sample(robot.now())
            started = time.perf_counter()
            if through_safety:
                robot.send_action(sample)  # what DriverLoop.step does with a queued command
            else:
                robot._write(sample)  # the peer: straight to the motors
            send_times.append(time.perf_counter() - started)
            robot.wait()
            observation = robot.observe()
            errors.append(observation["joint_pos"] - trajectory.sample(robot.now()))
        return float(np.sqrt(np.mean(np.square(errors)))), np.array(send_times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=40, help="command steps per loop (default 40)")
    parser.add_argument("--rounds", type=int, default=5, help="trajectory runs per variant (default 5)")
    args = parser.parse_args()
    mode = isolation_mode()
    if mode is None:
        print("refusing to run: DDS is not isolated; run inside `unshare -n` (see the docstring) or set "
              "ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST", file=sys.stderr)
        return 2
    latency = measure_latency(args.steps)
    print(f"\ncommand-to-state latency, {COMMAND_HZ:g} Hz commands to the {ROBOT} at 30 Hz, {args.steps} steps "
          f"({mode}; {os.cpu_count()} CPUs, shared; load average {os.getloadavg()[0]:.1f})")
    rows = {name: percentiles(values) for name, values in latency.items()}
    for name, (p50, p99) in rows.items():
        print(f"  {name:<12} p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  ({len(latency[name])} steps)")
    print(f"  ratio DDS / in-process: p50 {rows['DDS'][0] / rows['in-process'][0]:.2f}x, "
          f"p99 {rows['DDS'][1] / rows['in-process'][1]:.2f}x; the wait for the next tick alone averages "
          f"{1e3 / 30 / 2:.1f} ms")

    safe_rms, bare_rms, safe_t, bare_t = [], [], [], []
    for _ in range(args.rounds):
        rms, times = follow(True)
        safe_rms.append(rms)
        safe_t.append(np.median(times))
        rms, times = follow(False)
        bare_rms.append(rms)
        bare_t.append(np.median(times))
    added = np.median(safe_t) - np.median(bare_t)
    print(f"\ntrajectory following, {len(POINTS)} points over {POINTS[-1][0]:g} s at 30 Hz (simulated time), "
          f"{args.rounds} runs each")
    print(f"  RMS joint error through the SafetyController {np.median(safe_rms):.4f} rad, written directly "
          f"{np.median(bare_rms):.4f} rad (ratio {np.median(safe_rms) / np.median(bare_rms):.3f}x)")
    print(f"  per point: send_action {np.median(safe_t) * 1e6:.1f} us vs bare write {np.median(bare_t) * 1e6:.1f} us: "
          f"the safety layer adds {added * 1e6:.1f} us, {added * 30 * 100:.3f}% of the 33.3 ms period")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
