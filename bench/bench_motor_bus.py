"""Motor bus cost per control step, as ratios (the build machines are shared and noisy).

For each bus family (Dynamixel Protocol 2.0 and Feetech STS through their vendor SDKs over a pty to the
test suite's virtual servos, 6 servos):
- sync/single: 6 single-servo reads (a bus without sync read) over one sync read, wall time;
- step/period: one control step (sync read + sync write of goals) as a fraction of the SO-101's 30 Hz period;
- busy/select: the same step with the SDK's stock busy-polling `readPort` over ours, which waits on the
  descriptor: process CPU time and wall time (the virtual servos run in a thread of this process, so a
  busy-polling reader also delays their replies, as it would delay any other thread on a robot).
Variants alternate round-robin so drift hits all alike.
- round trip / wire floor: sync read + sync write of 6 servos over the pty, against the time the same bytes
  take on a 1 Mbaud wire (10 bits a byte). The pty has no wire time, so this is the software's share.
- ticks lost per 10,000 at 30 Hz with 1/5/20 % of replies dropped or corrupted (seeded), for today's bus
  (retries=2, waiting out owed replies, a retry only while it still fits in the period), the same with a
  count budget of 1 retry per period (the previous attempt's design), and the previous bus (retries=2, no
  wait-out, no budget), each run in this script. A tick is lost when its read raises or the step
  overruns the period. Latency timer 1 ms (the low-latency setting LeRobot uses), so a timeout costs 4 ms.

    /tmp/venv/bin/python bench/bench_motor_bus.py [--rounds 20] [--ticks 2000]

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
    parser.add_argument("--ticks", type=int, default=2000, help="control ticks per fault setting")
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
    wire_and_faults(args.ticks)
    return 0


def previous_bus(family, path: str):
    """The bus before this change: the same class with the wait-out and the period deadline switched off."""
    bus = family.bus(path, retries=2, latency_ms=1.0)
    bus._wait_out_owed = lambda owed_bytes, replies: None
    bus.begin_period = lambda period_s=None: None
    return bus


def wire_floor_s(family, n: int) -> float:
    bus = family.bus
    block, goal = bus.table.state_block, bus.table.goal_position
    if family.name == "dynamixel":
        instruction = 10 + 4 + n  # header, id, length, instruction, CRC + address/length + ids
        write = 10 + 4 + n * (1 + goal.size)
    else:
        instruction = 6 + 2 + n
        write = 6 + 2 + n * (1 + goal.size)
    replies = n * (bus.status_overhead + block.size)
    return (instruction + replies + write) * 10 / 1_000_000


def wire_and_faults(ticks: int) -> None:
    from robolearn.hardware.errors import BusError

    print(f"\n{'bus':10s} {'round trip/wire floor':>22s}")
    for name, family in FAMILIES.items():
        with family.virtual({i: family.number for i in IDS}) as device, \
                family.bus(device.path, retries=0, latency_ms=1.0) as bus:
            bus.check_models({i: family.model for i in IDS})
            goals = {i: 2048 for i in IDS}
            samples = []
            for _ in range(200):
                t = time.perf_counter()
                bus.read_state(IDS)
                bus.write_goal_positions(goals)
                samples.append(time.perf_counter() - t)
            print(f"{name:10s} {statistics.median(samples) / wire_floor_s(family, len(IDS)):22.2f}")
    print(f"\nticks lost per 10,000 at 30 Hz (dynamixel, 6 servos, {ticks} ticks each): failed + overran")
    print(f"{'fault':18s} {'today':>16s} {'count budget 1':>16s} {'previous':>16s}")
    family = FAMILIES["dynamixel"]
    for fault in ("drop", "corrupt"):
        for rate in (0.01, 0.05, 0.20):
            lost = {}
            for design in ("today", "count budget", "previous"):
                with family.virtual({i: family.number for i in IDS}) as device:
                    bus = (family.bus(device.path, retries=2, latency_ms=1.0) if design == "today"
                           else family.bus(device.path, retries=2, latency_ms=1.0, retries_per_period=1)
                           if design == "count budget" else previous_bus(family, device.path))
                    with bus:
                        bus.check_models({i: family.model for i in IDS})
                        setattr(device, f"{fault}_probability", rate)
                        failed = overran = 0
                        for _ in range(ticks):
                            t = time.perf_counter()
                            bus.begin_period(CONTROL_PERIOD_S)
                            try:
                                bus.read_state(IDS)
                                bus.write_goal_positions({i: 2048 for i in IDS})
                            except BusError:
                                failed += 1
                                continue
                            overran += time.perf_counter() - t > CONTROL_PERIOD_S
                lost[design] = (failed * 10_000 / ticks, overran * 10_000 / ticks)
            cells = [f"{lost[d][0]:7.0f} + {lost[d][1]:5.0f}" for d in ("today", "count budget", "previous")]
            print(f"{fault:7s} {rate:4.0%}{'':6s} {cells[0]:>16s} {cells[1]:>16s} {cells[2]:>16s}")


if __name__ == "__main__":
    raise SystemExit(main())
