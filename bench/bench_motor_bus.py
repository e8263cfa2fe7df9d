"""Motor bus cost per control step, as ratios (the build machines are shared and noisy).

For each bus family (Dynamixel Protocol 2.0 and Feetech STS through their vendor SDKs over a pty to the
test suite's virtual servos): one sync read of 6 servos against its peer, 6 single-servo reads (what a bus
without sync read costs), and one full control step (sync read + sync write of goals) as a fraction of the
SO-101's 30 Hz control period. Runs alternate round-robin so drift hits every variant alike.

    /tmp/venv/bin/python bench/bench_motor_bus.py [--rounds 30]

The pty has no wire time; on a real 1 Mbaud bus add ~1-2 ms of transfer and the adapter's latency timer.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from virtual_devices.bus_families import FAMILIES  # noqa: E402

IDS = [1, 2, 3, 4, 5, 6]
CONTROL_PERIOD_S = 1 / 30


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=10, help="calls per timing sample")
    args = parser.parse_args()
    sys.setswitchinterval(0.0005)
    print(f"{'bus':10s} {'6 single reads / 1 sync read':>30s} {'control step / 30 Hz period':>30s}")
    for name, family in FAMILIES.items():
        with family.virtual({i: family.number for i in IDS}) as device, \
                family.bus(device.path, retries=0, latency_ms=16.0) as bus:
            bus.check_models({i: family.model for i in IDS})
            goals = {i: 2048 for i in IDS}
            variants = {
                "sync": lambda: bus.read_state(IDS),
                "single": lambda: [bus.read_state([i]) for i in IDS],
                "step": lambda: (bus.read_state(IDS), bus.write_goal_positions(goals)),
            }
            samples: dict[str, list[float]] = {k: [] for k in variants}
            for _ in range(args.rounds):
                for key, call in variants.items():
                    start = time.perf_counter()
                    for _ in range(args.repeats):
                        call()
                    samples[key].append((time.perf_counter() - start) / args.repeats)
            med = {k: statistics.median(v) for k, v in samples.items()}
            print(f"{name:10s} {med['single'] / med['sync']:30.2f} {med['step'] / CONTROL_PERIOD_S:30.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
