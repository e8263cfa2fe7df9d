"""Sim scale-out on Ray: env steps/s with 1 and 2 Ray workers against the in-process loop, the measured
per-worker costs, and from them a scaling model for 8-64 workers.

Same script, same task, same policy (SAC's default 2x256 actor, sampled as in training):
1. In-process: (a) the bare loop (policy + env.step), (b) the workers' whole path without Ray (collect a
   chunk, encode it as a link `transitions` frame, decode and sequence-check it, store it in SAC's buffer).
2. Ray with 1 and 2 workers through RayTrainer (the real coordinator), collection only (learning_starts
   above the run length, so the learner stores but never updates): env steps/s and ratios to 1(a).
3. Per-worker costs: encode and decode per transition, one Ray call round trip per chunk, weight broadcast
   (ray.put once per version; per worker: fetch + load of the 2x256 actor), and the learner's update round
   (sac_small and the default SAC config) that bounds throughput once learning runs.
4. The scaling model for 8-64 workers built from those numbers (printed; the README quotes it).

Rounds are interleaved and the median reported, as ratios hold better than absolute figures on a shared CPU.

    OMP_NUM_THREADS=1 PYTHONPATH=.:sim python bench/bench_ray.py [--task PendulumBalance] [--steps 2000]
        [--chunk 16] [--rounds 3] [--workers 1,2]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from robolearn.learners.sac import SAC, SACConfig  # noqa: E402
from robolearn.link.learner import LearnerStats, TransitionSequence  # noqa: E402
from robolearn.link.sac_adapter import SacActorPolicy  # noqa: E402
from robolearn.link.training import link_learner  # noqa: E402
from robolearn.link.wire import decode_frame  # noqa: E402
from robolearn.scale.cluster import start_ray  # noqa: E402
from robolearn.scale.trainer import RayTrainer  # noqa: E402
from robolearn.scale.worker import SimWorker  # noqa: E402
from robolearn.training import make_env  # noqa: E402

# Collection only: the buffer fills, no update ever runs, so the figures are the collection path's.
COLLECT = SACConfig(learning_starts=200_000, demos="none", eval_every=10**9, log_every=10**9,
                    checkpoint_every=10**9)


def bare_loop(task: str, steps: int) -> float:
    env = make_env(task)
    policy = SacActorPolicy(env.observation_space, env.action_space, COLLECT)  # sampling, as in training
    obs, _ = env.reset(seed=0)
    start = time.perf_counter()
    for _ in range(steps):
        obs, _, terminated, truncated, _ = env.step(policy(obs))
        if terminated or truncated:
            obs, _ = env.reset()
    rate = steps / (time.perf_counter() - start)
    env.close()
    return rate


def worker_path_in_process(task: str, steps: int, chunk: int) -> tuple[float, float, float]:
    """(env steps/s, encode µs per transition, decode + check + store µs per transition)."""
    worker = SimWorker(0, task, "sac", COLLECT)
    adapter = link_learner(SAC(make_env(task), COLLECT, "cpu"))
    sequence = TransitionSequence(LearnerStats())
    worker.collect(0, 1, adapter.actor_weights(), False)
    encode_s = learner_s = 0.0
    start = time.perf_counter()
    for _ in range(steps // chunk):
        frame, _ = worker.collect(chunk, 1, None, False)
        t0 = time.perf_counter()
        adapter.ingest(sequence.accept(decode_frame(frame)))
        learner_s += time.perf_counter() - t0
    total = time.perf_counter() - start
    # encode alone: the same chunk's rows packed again (collect times env steps and encoding together)
    from robolearn.link.wire import encode, pack_array

    rows = {k: np.zeros((chunk, *np.shape(v)), np.float32) for k, v in
            (("obs", worker.env.observation_space.sample()), ("action", worker.env.action_space.sample()),
             ("reward", 0.0), ("next_obs", worker.env.observation_space.sample()))}
    rows |= {"terminated": np.zeros(chunk, bool), "truncated": np.zeros(chunk, bool)}
    t0 = time.perf_counter()
    for seq in range(200):
        encode("transitions", seq=seq, count=chunk, arrays={k: pack_array(v) for k, v in rows.items()})
    encode_s = (time.perf_counter() - t0) / 200
    worker.close()
    return (steps // chunk) * chunk / total, encode_s / chunk * 1e6, learner_s / (steps // chunk * chunk) * 1e6


def ray_rate(trainer: RayTrainer, steps: int) -> float:
    start_steps, start = trainer.learner.env_steps, time.perf_counter()
    trainer.train(start_steps + steps, progress=False)
    return (trainer.learner.env_steps - start_steps) / (time.perf_counter() - start)


def call_costs(ray, trainer: RayTrainer, calls: int = 200) -> tuple[float, float, float, int]:
    """(round trip of an empty collect call, ms; ray.put of the weights, ms; a worker's fetch + load of a new
    version beyond the round trip, ms; weight bytes)."""
    worker = next(iter(trainer.workers.values()))
    version = 10_000
    ray.get(worker.collect.remote(0, version, None, False))
    t0 = time.perf_counter()
    for _ in range(calls):
        ray.get(worker.collect.remote(0, version, None, False))
    round_trip = (time.perf_counter() - t0) / calls
    weights = trainer.adapter.actor_weights()
    nbytes = sum(a.nbytes for a in weights.values())
    put_s = fetch_s = 0.0
    for _ in range(calls // 4):
        t0 = time.perf_counter()
        ref = ray.put(weights)
        t1 = time.perf_counter()
        version += 1
        ray.get(worker.collect.remote(0, version, ref, False))
        t2 = time.perf_counter()
        put_s += t1 - t0
        fetch_s += t2 - t1 - round_trip
    n = calls // 4
    return round_trip * 1e3, put_s / n * 1e3, max(fetch_s / n, 0.0) * 1e3, nbytes


def update_ms(task: str, config: SACConfig, rounds: int = 10) -> float:
    config = dataclasses.replace(config, learning_starts=config.batch_size, demos="none", eval_every=10**9)
    sac = SAC(make_env(task), config, "cpu")
    env, rng = make_env(task), np.random.default_rng(0)
    obs, _ = env.reset(seed=0)
    for _ in range(max(config.batch_size, 300)):
        action = rng.uniform(-1, 1, env.action_space.shape).astype(np.float32)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        sac.online.add(obs, action, float(reward), next_obs, terminated, truncated)
        obs = env.reset()[0] if terminated or truncated else next_obs
    sac.update()
    t0 = time.perf_counter()
    for _ in range(rounds):
        sac.update()
    return (time.perf_counter() - t0) / rounds * 1e3


def _name(workers: int) -> str:
    return f"ray {workers} worker{'s' if workers > 1 else ''}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="PendulumBalance")
    parser.add_argument("--steps", type=int, default=2000, help="env steps per measurement")
    parser.add_argument("--chunk", type=int, default=16, help="env steps per worker call (RayTrainer's default)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", default="1,2", help="worker counts to measure (1 must be among them: the "
                                                        "model's per-worker rate); e.g. 1,2,4,8 on a bigger machine")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"load average before: {os.getloadavg()}; {os.cpu_count()} CPUs")

    counts = sorted({int(n) for n in args.workers.split(",")})
    if 1 not in counts:
        parser.error("--workers must include 1")
    ray = start_ray(num_cpus=sum(counts))  # one CPU per worker of every trainer (they run in turns)
    trainers = {}
    for n in counts:
        sac = SAC(make_env(args.task), COLLECT, "cpu")
        trainers[n] = RayTrainer(sac, args.task, n, steps_per_call=args.chunk)
        ray_rate(trainers[n], 4 * args.chunk * n)  # workers started and warm
    rates: dict[str, list[float]] = {"in-process bare loop": [], "in-process worker path": [],
                                     **{_name(n): [] for n in counts}}
    encode_us, learner_us = [], []
    for _ in range(args.rounds):
        rates["in-process bare loop"].append(bare_loop(args.task, args.steps))
        rate, enc, dec = worker_path_in_process(args.task, args.steps, args.chunk)
        rates["in-process worker path"].append(rate)
        encode_us.append(enc)
        learner_us.append(dec)
        for n in counts:
            rates[_name(n)].append(ray_rate(trainers[n], args.steps))
    print(f"\nenv steps/s on {args.task}, chunk {args.chunk}, median of {args.rounds} rounds (min ratio):")
    for name, values in rates.items():
        ratios = [v / b for v, b in zip(values, rates["in-process bare loop"])]
        print(f"  {name:24s} {statistics.median(values):8.0f}/s   ratio {statistics.median(ratios):.2f} "
              f"(min {min(ratios):.2f})")

    round_trip, put, fetch, nbytes = call_costs(ray, trainers[1])
    enc, dec = statistics.median(encode_us), statistics.median(learner_us)
    small = update_ms(args.task, SACConfig.from_yaml(os.path.join(os.path.dirname(__file__), "..", "configs",
                                                                  "sac_small.yaml")))
    default = update_ms(args.task, SACConfig(), rounds=3)
    for trainer in trainers.values():
        trainer.close()
    ray.shutdown()
    print(f"\nper-worker costs: encode {enc:.1f} µs/transition (worker); decode + check + store {dec:.1f} µs/"
          f"transition (learner); Ray call round trip {round_trip:.2f} ms per chunk; weights {nbytes / 1e3:.0f} kB: "
          f"ray.put {put:.2f} ms per version (learner), fetch + load {fetch:.2f} ms per worker per version")
    print(f"learner update round: sac_small {small:.1f} ms, default SAC (2x256, 10 critics, utd 4, batch 256) "
          f"{default:.1f} ms")

    # ---- the model: N workers' supply against the one learner process's per-step and per-chunk costs
    worker_rate = statistics.median(rates[_name(1)])  # one worker with a core of its own
    per_step = dec * 1e-6 + round_trip * 1e-3 / args.chunk  # learner-side cost per collected step (call: bound)
    collect_cap = 1 / per_step
    learn_cap = 1 / (per_step + small * 1e-3)  # sac_small, one update round per transition (utd_cap 1)
    print(f"\nscaling model, chunk {args.chunk}, one core per worker: supply N x {worker_rate:.0f} steps/s; the "
          f"learner process caps collection at {collect_cap:.0f}/s (reached at N = {collect_cap / worker_rate:.1f}) "
          f"and learning (sac_small, UTD 1) at {learn_cap:.0f}/s (N = {learn_cap / worker_rate:.2f}); chunk 64 would "
          f"cap collection at {1 / (dec * 1e-6 + round_trip * 1e-3 / 64):.0f}/s")
    for n in (8, 16, 32, 64):
        supply = n * worker_rate
        # learning: a version goes out at most once per chunk (publish_every 4 rounds, chunk rounds per chunk)
        versions = min(learn_cap / args.chunk, learn_cap / 4)
        print(f"  N={n:2d}: supply {supply:7.0f}/s; collection only {min(supply, collect_cap):6.0f}/s "
              f"({'learner-process bound' if supply > collect_cap else 'worker bound'}); learning {learn_cap:4.0f}/s "
              f"(update bound); weights out {n * nbytes * versions / 1e6:5.1f} MB/s at {versions:.0f} versions/s, "
              f"{n * nbytes * versions * 10 / 1e6:6.1f} MB/s for a learner 10x faster")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
