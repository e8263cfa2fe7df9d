"""Benchmark-only: the sim pendulum at 100 Hz (no shipped robot runs that fast), for bench_ros_loop.py.

`python -m ros_loop_robots <node module> --ros-args ...` runs a robolearn_drivers node with "pendulum"
resolving to FastPendulum, so the sim node and the policy node of the benchmark agree on the rate.
"""

from __future__ import annotations

import dataclasses
import runpy
import sys

from robolearn_sim.classic import PendulumRobot
from robolearn_sim.config import SimConfig

RATE_HZ = 100.0


class FastPendulum(PendulumRobot):
    control_rate_hz = RATE_HZ

    def __init__(self, config: SimConfig | None = None, limits_path=None) -> None:
        # 400 Hz physics: a whole number of substeps per 100 Hz control period.
        super().__init__(dataclasses.replace(config or SimConfig(), physics_hz=4 * RATE_HZ), limits_path)


def use_fast_pendulum() -> None:
    import robolearn_sim.factory

    robolearn_sim.factory.ROBOTS["pendulum"] = "ros_loop_robots:FastPendulum"


if __name__ == "__main__":
    use_fast_pendulum()
    node_module = sys.argv.pop(1)
    sys.argv[0] = node_module
    runpy.run_module(node_module, run_name="__main__", alter_sys=True)
