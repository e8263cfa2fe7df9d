"""Safety filter cost per command, against a bare `np.clip` of the same commands in the same process.

One command is what a control loop pays per tick: `update_observation` (overload and hazard checks) plus
`filter` (limits, rate limit, watchdog, workspace). Rows: the arm with its production workspace model (the
forward kinematics the robot definition supplies, or any `--fk module:function` callable), the arm's
controller alone (a free FK: the controller's own overhead), the FK alone, and the diff-drive base with its
braking-distance workspace model. Timed chunks alternate round-robin with the np.clip peer, so machine load
hits both alike; the figure to read is the ratio and the µs per command.

    OMP_NUM_THREADS=1 PYTHONPATH=. python bench/bench_safety.py [--rounds 7] [--n 3000] [--fk mod:fn]
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import time
from typing import Callable

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from robolearn.safety import SafetyController, load_robot_limits  # noqa: E402
from robolearn.spec import Observation  # noqa: E402

GOAL_ARM_US = 20.0  # issue 12: at most 20 µs per command on the arm, workspace FK included
ARM_REST = np.array([0.0, 0.0, 1.3, 0.6, 0.0, 0.0])  # the sim arm's home pose: tool point inside the box


def production_arm_fk() -> Callable[[np.ndarray], np.ndarray]:
    """The FK the sim and hardware arm use for their workspace box."""
    from robolearn.robots.registry import robot_definition

    return robot_definition("so101_arm").describe()[1].workspace.fk


def load_fk(spec: str) -> Callable[[np.ndarray], np.ndarray]:
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def timed(step: Callable[[int], None], n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        step(i)
    return (time.perf_counter() - start) / n * 1e6


def bench(label: str, safety: SafetyController, rest: np.ndarray, values: dict, rounds: int, n: int,
          rng: np.random.Generator) -> dict:
    limits = safety.limits
    period = limits.period_s
    span = limits.high - limits.low
    # Small moves around the rest command: some rate-limited, none leaving the workspace or stopping.
    commands = [rest + 0.01 * span * rng.uniform(-1, 1, rest.shape) for _ in range(n)]
    observations = [Observation((i + 1) * period, values) for i in range(n)]
    low, high = limits.low, limits.high

    def filter_step(i: int) -> None:
        safety.update_observation(observations[i])
        safety.filter(commands[i], observations[i].timestamp)

    def clip_step(i: int) -> None:
        np.clip(commands[i], low, high)

    filter_us, clip_us = [], []
    for r in range(rounds + 1):  # round 0 warms up
        safety.reset(-1.0)
        if r % 2:  # alternate which goes first
            f = timed(filter_step, n)
            c = timed(clip_step, n)
        else:
            c = timed(clip_step, n)
            f = timed(filter_step, n)
        if r:
            filter_us.append(f)
            clip_us.append(c)
    stopped = {k: v for k, v in safety.counts.items() if k not in ("rate_limit", "command_limit")}
    if stopped:
        raise SystemExit(f"{label}: the benchmark's commands were stopped ({stopped}); it would time the wrong path")
    ratios = [f / c for f, c in zip(filter_us, clip_us)]
    return {"label": label, "filter_us": statistics.median(filter_us), "clip_us": statistics.median(clip_us),
            "ratio": statistics.median(ratios)}


def bench_fk(fk: Callable[[np.ndarray], np.ndarray], rounds: int, n: int, rng: np.random.Generator) -> float:
    poses = [ARM_REST + 0.02 * rng.uniform(-1, 1, 6) for _ in range(n)]
    return statistics.median(timed(lambda i: fk(poses[i]), n) for _ in range(rounds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--n", type=int, default=3000, help="commands per timed chunk")
    parser.add_argument("--fk", default="", help="module:function of another arm FK to time in the filter")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    arm_limits = load_robot_limits("so101_arm")
    base_limits = load_robot_limits("diffdrive_base")
    fk = load_fk(args.fk) if args.fk else production_arm_fk()
    fk_name = args.fk or "production (robot definition)"
    tool = np.asarray(fk(ARM_REST), dtype=float)
    arm_values = {"joint_pos": ARM_REST, "joint_vel": np.zeros(6), "joint_effort": np.zeros(6)}
    base_values = {"base_pose": np.zeros(3), "base_twist": np.zeros(2), "hazards": np.zeros(3)}
    from robolearn.robots.workspace import ArmWorkspace, PlanarBaseWorkspace

    arm = SafetyController(arm_limits, ArmWorkspace(fk))
    arm_alone = SafetyController(arm_limits, ArmWorkspace(lambda q: tool))
    base = SafetyController(base_limits, PlanarBaseWorkspace(float(base_limits.max_rate[0])))
    print(f"load average before: {os.getloadavg()}")
    rows = [
        bench(f"arm, FK {fk_name}", arm, ARM_REST, arm_values, args.rounds, args.n, rng),
        bench("arm, free FK (controller only)", arm_alone, ARM_REST, arm_values, args.rounds, args.n, rng),
        bench("base, braking workspace", base, np.array([0.2, 0.0]), base_values, args.rounds, args.n, rng),
    ]
    print(f"\nupdate_observation + filter per command vs bare np.clip (median of {args.rounds} round-robin rounds "
          f"of {args.n})")
    print(f"{'':<44}{'filter µs':>10}{'clip µs':>9}{'ratio':>8}")
    for r in rows:
        print(f"{r['label']:<44}{r['filter_us']:>10.1f}{r['clip_us']:>9.2f}{r['ratio']:>8.1f}")
    print(f"{'FK alone (' + fk_name + ')':<44}{bench_fk(fk, args.rounds, args.n, rng):>10.1f}")
    arm = rows[0]["filter_us"]
    print(f"\narm goal <= {GOAL_ARM_US:g} µs per command: {arm:.1f} µs "
          f"({'met' if arm <= GOAL_ARM_US else 'not met'})")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
