"""Motor bus cost per control step, as ratios (the build machines are shared and noisy).

For each bus family (Dynamixel Protocol 2.0 and Feetech STS through their vendor SDKs over a pty to the
test suite's virtual servos, 6 servos):
- sync/single: 6 single-servo reads (a bus without sync read) over one sync read, wall time;
- step/period: one control step (sync read + sync write of goals) as a fraction of the SO-101's 30 Hz period;
- busy/select: the same step with the SDK's stock busy-polling `readPort` over ours, which waits on the
  descriptor: process CPU time and wall time (the virtual servos run in a thread of this process, so a
  busy-polling reader also delays their replies, as it would delay any other thread on a robot).
Variants alternate round-robin so drift hits all alike.

    /tmp/venv/bin/python bench/bench_motor_bus.py [--rounds 20]

The pty has no wire time; on a real 1 Mbaud bus add ~1-2 ms of transfer and the adapter's latency timer.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from virtual_devices.bus_families import FAMILIES  # noqa: E402

IDS = [1, 2, 3, 4, 5, 6]
CONTROL_PERIOD_S = 1 / 30


def timed(call, repeats: int) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(repeats):
        call()
    return (time.perf_counter() - wall) / repeats, (time.process_time() - cpu) / repeats


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=10, help="calls per timing sample")
    args = parser.parse_args()
    sys.setswitchinterval(0.0005)
    print(f"{'bus':10s} {'single/sync wall':>17s} {'step/period':>12s} {'busy/select cpu':>16s} "
          f"{'busy/select wall':>17s}")
    for name, family in FAMILIES.items():
        with family.virtual({i: family.number for i in IDS}) as device, \
                family.bus(device.path, retries=0, latency_ms=16.0) as bus:
            bus.check_models({i: family.model for i in IDS})
            goals = {i: 2048 for i in IDS}
            handler = bus._port_handler  # the bench swaps its read strategy; the library never does
            waiting_read = handler.readPort
            busy_read = types.MethodType(family.bus.sdk.PortHandler.readPort, handler)

            def step():
                bus.read_state(IDS)
                bus.write_goal_positions(goals)

            def busy_step():
                handler.readPort = busy_read
                try:
                    step()
                finally:
                    handler.readPort = waiting_read

            variants = {"sync": lambda: bus.read_state(IDS),
                        "single": lambda: [bus.read_state([i]) for i in IDS],
                        "step": step, "busy": busy_step}
            wall: dict[str, list[float]] = {k: [] for k in variants}
            cpu: dict[str, list[float]] = {k: [] for k in variants}
            for _ in range(args.rounds):
                for key, call in variants.items():
                    w, c = timed(call, args.repeats)
                    wall[key].append(w)
                    cpu[key].append(c)
            w = {k: statistics.median(v) for k, v in wall.items()}
            c = {k: statistics.median(v) for k, v in cpu.items()}
            print(f"{name:10s} {w['single'] / w['sync']:17.2f} {w['step'] / CONTROL_PERIOD_S:12.3f} "
                  f"{c['busy'] / c['step']:16.2f} {w['busy'] / w['step']:17.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
