"""Actor/learner link over loopback: weight transfer, link-loss detection, control-tick jitter.

1. Weight transfer for a 2x256 MLP policy and a conv encoder: learner `publish` until the actor's
   `take_weights` returns them, against the same bytes sent raw over a loopback TCP socket (the peer: what
   framing, msgpack, MAC and reassembly cost on top of the wire).
2. Link-loss detection: a learner process is paused (SIGSTOP, so only the missing heartbeat tells) and the
   time until the actor's control loop stops is reported as a ratio to the heartbeat timeout.
3. Control-tick lateness at --hz with a learner process running real updates (matrix products) concurrently,
   against the same loop with no learner, and against today's in-loop update (same update inside the tick).

    OMP_NUM_THREADS=1 PYTHONPATH=. python bench/bench_link.py [--hz 50] [--ticks 300] [--update-ms 30]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import signal
import socket
import statistics
import threading
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from robolearn.link.actor import ActorLink, control_loop  # noqa: E402
from robolearn.link.handshake import Identity  # noqa: E402
from robolearn.link.learner import LearnerServer  # noqa: E402

IDENTITY = Identity(b"bench-link-key-0123456789abcdef", "bench", "pendulum", "swingup")


def mlp_weights() -> dict[str, np.ndarray]:
    import torch

    net = torch.nn.Sequential(torch.nn.Linear(17, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
                              torch.nn.ReLU(), torch.nn.Linear(256, 12))
    return {k: v.numpy() for k, v in net.state_dict().items()}


def conv_weights() -> dict[str, np.ndarray]:
    from robolearn.learners.encoders import ConvEncoder  # the pixel SAC encoder

    return {k: v.numpy() for k, v in ConvEncoder((84, 84, 3)).state_dict().items()}


def raw_transfer_s(payload: bytes) -> float:
    listener = socket.create_server(("127.0.0.1", 0))
    received = threading.Event()

    def sink():
        conn, _ = listener.accept()
        got = 0
        while got < len(payload):
            got += len(conn.recv(1 << 20))
        received.set()
        conn.close()

    threading.Thread(target=sink, daemon=True).start()
    sock = socket.create_connection(listener.getsockname())
    t = time.perf_counter()
    sock.sendall(payload)
    received.wait()
    elapsed = time.perf_counter() - t
    sock.close()
    listener.close()
    return elapsed


def weight_transfer(name: str, weights: dict[str, np.ndarray], rounds: int) -> None:
    server = LearnerServer(IDENTITY, heartbeat_s=0.05, actor_timeout_s=2.0)
    actor = ActorLink(IDENTITY, *server.address, timeout_s=2.0)
    server.wait_connected(5)
    size = sum(a.nbytes for a in weights.values())
    link_s, raw_s = [], []
    for _ in range(rounds):
        t = time.perf_counter()
        server.publish(weights)
        while actor.take_weights() is None:
            time.sleep(0.0002)
        link_s.append(time.perf_counter() - t)
        raw_s.append(raw_transfer_s(b"\0" * size))
    actor.close()
    server.close()
    link, raw = statistics.median(link_s), statistics.median(raw_s)
    print(f"{name:14s} {size / 1e6:7.2f} MB  link {link * 1e3:7.2f} ms  raw TCP {raw * 1e3:6.2f} ms  "
          f"ratio {link / raw:5.1f}x  ({size / link / 1e6:6.0f} MB/s)")


def learner_process(port_out, update_ms: float, heartbeat_s: float) -> None:
    server = LearnerServer(IDENTITY, heartbeat_s=heartbeat_s, actor_timeout_s=10 * heartbeat_s)
    port_out.send(server.address[1])
    w = np.zeros((256, 256), np.float32)
    x = np.ones((256, 256), np.float32)

    def update(batch):
        end = time.perf_counter() + update_ms / 1e3
        while time.perf_counter() < end:  # real CPU work, as an update on the same machine would be
            np.dot(x, w, out=w)
            w[:] = np.tanh(w + 1e-3)
        return {"w": w[:64]}

    server.serve(update)


def start_learner(update_ms: float, heartbeat_s: float):
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=learner_process, args=(child, update_ms, heartbeat_s), daemon=True)
    proc.start()
    return proc, parent.recv()


def detection(timeout_s: float) -> float:
    proc, port = start_learner(1.0, heartbeat_s=timeout_s / 5)
    actor = ActorLink(IDENTITY, "127.0.0.1", port, on_loss="stop", timeout_s=timeout_s)
    while not actor.link_up:
        time.sleep(0.01)
    time.sleep(3 * timeout_s)
    stopped_at = []
    paused = time.monotonic()
    os.kill(proc.pid, signal.SIGSTOP)
    control_loop(lambda: None, 0.005, int(10 * timeout_s / 0.005), actor,
                 stop_robot=lambda why: stopped_at.append(time.monotonic()))
    actor.close()
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    return stopped_at[0] - paused


def jitter(period: float, ticks: int, update_ms: float) -> None:
    obs = np.zeros(17, np.float32)
    policy = np.ones((17, 12), np.float32)

    def act():
        return np.tanh(obs @ policy)

    alone = control_loop(act, period, ticks)

    proc, port = start_learner(update_ms, heartbeat_s=0.05)
    actor = ActorLink(IDENTITY, "127.0.0.1", port, timeout_s=1.0)
    while not actor.link_up:
        time.sleep(0.01)

    def act_and_send():
        actor.send_transition(obs=obs, action=act())

    apart = control_loop(act_and_send, period, ticks, actor)
    actor.close()
    proc.kill()
    proc.join()

    w = np.zeros((256, 256), np.float32)
    x = np.ones((256, 256), np.float32)

    def act_and_update():
        act()
        end = time.perf_counter() + update_ms / 1e3
        while time.perf_counter() < end:
            np.dot(x, w, out=w)

    inloop = control_loop(act_and_update, period, ticks)
    print(f"control at {1 / period:.0f} Hz, {ticks} ticks, update {update_ms:.0f} ms")
    for name, r in (("no learner", alone), ("async learner", apart), ("in-loop update", inloop)):
        print(f"  {name:15s} p99 lateness {r.p99_lateness_s() * 1e3:7.2f} ms ({r.p99_lateness_s() / period:5.2f} "
              f"periods)  missed {r.missed:4d}  weight swaps {len(r.weight_swaps)}")
    print(f"  p99 ratio async/no-learner {apart.p99_lateness_s() / max(alone.p99_lateness_s(), 1e-6):.2f}, "
          f"in-loop/no-learner {inloop.p99_lateness_s() / max(alone.p99_lateness_s(), 1e-6):.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hz", type=float, default=50.0)
    parser.add_argument("--ticks", type=int, default=300)
    parser.add_argument("--update-ms", type=float, default=30.0)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    print("weight transfer (median of", args.rounds, "rounds)")
    weight_transfer("mlp 2x256", mlp_weights(), args.rounds)
    weight_transfer("conv encoder", conv_weights(), args.rounds)
    print("link-loss detection (learner paused), stop policy")
    for timeout in (0.2, 0.5, 1.0):
        d = detection(timeout)
        print(f"  timeout {timeout:.1f} s: stopped after {d:.3f} s ({d / timeout:.2f}x the timeout)")
    jitter(1 / args.hz, args.ticks, args.update_ms)


if __name__ == "__main__":
    main()
