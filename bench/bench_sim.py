"""Simulated robot throughput, as ratios against a bare peer in the same process.

For each robot: control steps per second of the full Robot step (safety filter + physics substeps +
observation), against raw `stepSimulation` calls for the same number of physics steps on the same
scene; chunks alternate round-robin so machine load hits both alike. The safety layer's own cost per
command is measured by bench/bench_safety.py.

    OMP_NUM_THREADS=1 /tmp/venv/bin/python bench/bench_sim.py [--rounds 5] [--chunk 100]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pybullet as p  # noqa: E402

from robolearn_sim import ROBOTS, make_robot  # noqa: E402


def robot_chunk(robot, commands) -> float:
    start = time.perf_counter()
    for command in commands:
        robot.send_action(command)
        robot.wait()
        robot.observe()
    return time.perf_counter() - start


def raw_chunk(robot, n_control_steps: int) -> float:
    client, substeps = robot.client, robot.control_substeps
    start = time.perf_counter()
    for _ in range(n_control_steps * substeps):
        p.stepSimulation(physicsClientId=client)
    return time.perf_counter() - start


def bench_robot(name: str, rounds: int, chunk: int, rng: np.random.Generator) -> dict:
    with make_robot(name) as robot:
        robot.reset(seed=0)
        stop = robot.safety.stop_command()
        span = robot.spec.command_high - robot.spec.command_low
        # Small commands around the resting one: the robot keeps moving but stays out of e-stops.
        commands = [stop + 0.05 * span * rng.uniform(-1, 1, stop.shape) for _ in range(chunk)]
        robot_chunk(robot, commands[:10])  # warm up
        full, raw = [], []
        for i in range(rounds):
            # Alternate which goes first, so neither always runs on the scene the other left behind.
            for which in (("full", "raw") if i % 2 == 0 else ("raw", "full")):
                robot.reset(seed=0)
                if which == "full":
                    full.append(robot_chunk(robot, commands) / chunk)
                else:
                    raw.append(raw_chunk(robot, chunk) / chunk)
        ratios = [f / r for f, r in zip(full, raw)]
        return {"robot": name, "substeps": robot.control_substeps, "full_hz": 1.0 / statistics.median(full),
                "raw_hz": 1.0 / statistics.median(raw), "ratio": statistics.median(ratios),
                "ratio_min": min(ratios)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--chunk", type=int, default=100, help="control steps per timed chunk")
    parser.add_argument("--robots", nargs="+", default=sorted(ROBOTS))
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"load average before: {os.getloadavg()}")
    print(f"\nSim step (median of {args.rounds} round-robin rounds of {args.chunk} control steps)")
    print(f"{'robot':<16}{'substeps':>9}{'robot steps/s':>15}{'raw steps/s':>13}{'full/raw time':>15}{'min':>7}")
    for name in args.robots:
        r = bench_robot(name, args.rounds, args.chunk, rng)
        print(f"{r['robot']:<16}{r['substeps']:>9}{r['full_hz']:>15.0f}{r['raw_hz']:>13.0f}"
              f"{r['ratio']:>15.2f}{r['ratio_min']:>7.2f}")
    print(f"\nload average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
