"""AVG benchmarks: per-step cost against an SB3 SAC step, and final return on the reach task against SB3 SAC.

    python bench/bench_avg.py latency [--rounds 5]
    python bench/bench_avg.py reach [--budget 6000 --seeds 0 1 2]
    python bench/bench_avg.py reach-time [--budget 24000 --seeds 0 1 2]

`latency`: AVG act + update (batch 1, one thread, ArmReach-sized networks: 21 features, 6 actions) and an
SB3 SAC step (predict + one gradient step on a batch of 256) are timed round-robin in this process, so
the reported ratio is robust to the shared machine's load; AVG's step times also give the deadline
misses of simulated 125 Hz and 500 Hz control loops (a step longer than the period misses it).

`reach`: AVG (no buffer) and SB3 SAC (default hyperparameters, 1M buffer) train on robolearn/ArmReach-v0
with the same budget and seeds, interleaved in chunks, with deterministic evaluation on a separate env
instance after every chunk. Returns are also reported normalised between a random policy (0) and the
task's scripted IK expert (1), because reach returns are negative and a ratio of raw returns means nothing.

`reach-time`: the same two learners given the same wall-clock instead of the same env steps, which is
the comparison that matters on a robot whose computer is the limit: AVG trains --budget steps in chunks;
after each AVG chunk SB3 SAC trains for exactly as long as that chunk took (it stops at the first env step
past it), so machine load hits both alike. Both are then evaluated as in `reach`.

All print a JSON report (and write it with --out).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402
from importlib import metadata  # noqa: E402

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import robolearn  # noqa: E402,F401  (registers the robolearn/* env ids)
from robolearn.data.transitions import collect_demonstrations  # noqa: E402
from robolearn.learners.avg import AVG, AVGConfig  # noqa: E402
from robolearn.learners.base import seed_everything  # noqa: E402
from robolearn.learners.run import evaluate_policy  # noqa: E402

REACH_ID = "robolearn/ArmReach-v0"


class SpacesOnly(gym.Env):
    """An env that only carries spaces, for timing learners without a simulator."""

    def __init__(self, obs_dim: int, action_dim: int) -> None:
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (obs_dim,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (action_dim,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self.observation_space.sample(), {}

    def step(self, action):
        return self.observation_space.sample(), 0.0, False, False, {}


# ---- latency -------------------------------------------------------------------------------------------

def _avg_steps(learner: AVG, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per-step µs of act + update (what a control loop pays), and of act alone (inference)."""
    step_us, act_us = np.empty(n), np.empty(n)
    obs = learner._observation_tensor(rng.normal(size=learner.obs_dim), update_normalizer=True)
    for i in range(n):
        raw_next = rng.normal(size=learner.obs_dim)
        t0 = time.perf_counter_ns()
        action, log_prob = learner._sample(obs)
        action.detach().numpy()
        t1 = time.perf_counter_ns()
        next_obs = learner._observation_tensor(raw_next, update_normalizer=True)
        learner.update(obs, action, log_prob, float(rng.normal()), False, False, next_obs)
        t2 = time.perf_counter_ns()
        step_us[i], act_us[i] = (t2 - t0) / 1e3, (t1 - t0) / 1e3
        obs = next_obs
    return step_us, act_us


def _sb3_sac(env: gym.Env, seed: int, **kwargs):
    from stable_baselines3 import SAC
    from stable_baselines3.common.logger import configure

    model = SAC("MlpPolicy", env, seed=seed, device="cpu", verbose=0, **kwargs)
    model.set_logger(configure(None, []))
    return model


def _sac_steps(model, env: gym.Env, n: int, rng: np.random.Generator) -> np.ndarray:
    step_us = np.empty(n)
    for i in range(n):
        obs = rng.normal(size=env.observation_space.shape).astype(np.float32)
        t0 = time.perf_counter_ns()
        model.predict(obs, deterministic=False)
        model.train(gradient_steps=1, batch_size=256)
        step_us[i] = (time.perf_counter_ns() - t0) / 1e3
    return step_us


def bench_latency(rounds: int, avg_steps: int, sac_steps: int, obs_dim: int = 21, action_dim: int = 6) -> dict:
    rng = np.random.default_rng(0)
    env = SpacesOnly(obs_dim, action_dim)
    learner = AVG(env, AVGConfig.from_preset("arm_reach", eval_every=0), device="cpu")
    sac = _sb3_sac(env, seed=0, buffer_size=10_000, learning_starts=0)
    for _ in range(2_000):  # a filled buffer, as in training
        o, a = env.observation_space.sample(), env.action_space.sample()
        sac.replay_buffer.add(o[None], o[None], a[None], np.zeros(1), np.zeros(1), [{}])
    _avg_steps(learner, 200, rng)  # warm-up: allocator, fused Adam state
    _sac_steps(sac, env, 5, rng)
    avg_all, act_all, ratios = [], [], []
    for _ in range(rounds):
        avg_us, act_us = _avg_steps(learner, avg_steps, rng)
        sac_us = _sac_steps(sac, env, sac_steps, rng)
        avg_all.append(avg_us)
        act_all.append(act_us)
        ratios.append(float(np.median(sac_us) / np.median(avg_us)))
        print(f"  round: AVG median {np.median(avg_us):.0f} µs, SAC median {np.median(sac_us):.0f} µs, "
              f"SAC/AVG {ratios[-1]:.1f}x", flush=True)
    avg_us, act_us = np.concatenate(avg_all), np.concatenate(act_all)
    return {
        "dims": {"obs": obs_dim, "action": action_dim, "hidden": 256},
        "avg_step_us": _percentiles(avg_us),
        "avg_act_only_us": _percentiles(act_us),
        "sac_over_avg_step_ratio": {"median_of_rounds": float(np.median(ratios)), "min": float(np.min(ratios)),
                                    "rounds": ratios},
        "deadline_miss_fraction": {
            "avg_step_125hz": float(np.mean(avg_us > 8_000)),
            "avg_step_500hz": float(np.mean(avg_us > 2_000)),
            "act_only_500hz": float(np.mean(act_us > 2_000)),
            "act_only_1000hz": float(np.mean(act_us > 1_000)),
        },
    }


def _percentiles(us: np.ndarray) -> dict:
    return {"median": float(np.median(us)), "p99": float(np.percentile(us, 99)),
            "p99.9": float(np.percentile(us, 99.9)), "n": int(us.size)}


# ---- reach: final return vs SB3 SAC --------------------------------------------------------------------

def _reference_returns(episodes: int) -> dict:
    """Random and scripted-expert returns on the evaluation episodes, to normalise scores."""
    env = gym.make(REACH_ID)
    rng = np.random.default_rng(0)
    random = evaluate_policy(env, lambda obs: rng.uniform(-1, 1, env.action_space.shape), episodes)
    # Same reset seeds as evaluate_policy's (10_000 + episode), so both references see the same targets.
    expert = collect_demonstrations(env, episodes, seed=10_000)
    env.close()
    return {"random": random["return_mean"], "expert": float(expert.rewards.sum() / episodes)}


def bench_reach(budget: int, seeds: list[int], chunks: int, episodes: int, preset: str) -> dict:
    refs = _reference_returns(episodes)
    span = refs["expert"] - refs["random"]
    curves: dict[str, dict[int, list[float]]] = {"avg": {}, "sac": {}}
    seconds = {"avg": 0.0, "sac": 0.0}
    for seed in seeds:
        avg_env, sac_env = gym.make(REACH_ID), gym.make(REACH_ID)
        avg_eval, sac_eval = gym.make(REACH_ID), gym.make(REACH_ID)
        seed_everything(seed)  # where each run starts (a learner never seeds the global RNGs)
        avg = AVG(avg_env, AVGConfig.from_preset(preset, seed=seed, eval_every=0), device="cpu")
        sac = _sb3_sac(sac_env, seed=seed)
        curves["avg"][seed], curves["sac"][seed] = [], []
        for k in range(1, chunks + 1):
            steps = budget * k // chunks
            t0 = time.perf_counter()
            avg.train(steps, progress=False)
            t1 = time.perf_counter()
            sac.learn(steps - sac.num_timesteps, reset_num_timesteps=False)
            t2 = time.perf_counter()
            seconds["avg"] += t1 - t0
            seconds["sac"] += t2 - t1
            r_avg = evaluate_policy(avg_eval, avg.act, episodes)["return_mean"]
            r_sac = evaluate_policy(sac_eval, lambda o: sac.predict(o, deterministic=True)[0], episodes)["return_mean"]
            curves["avg"][seed].append(r_avg)
            curves["sac"][seed].append(r_sac)
            print(f"  seed {seed} step {steps}: AVG {r_avg:.2f}  SAC {r_sac:.2f}", flush=True)
        for env in (avg_env, sac_env, avg_eval, sac_eval):
            env.close()
    final = {name: np.array([c[-1] for c in curves[name].values()]) for name in curves}
    normalised = {name: (final[name] - refs["random"]) / span for name in final}
    # One evaluation of a few episodes is noisy; the mean over the last third of the evaluations is the
    # steadier reading of where each learner ended (the same window for both).
    window = max(1, chunks // 3)
    late = {name: (np.array([np.mean(c[-window:]) for c in curves[name].values()]) - refs["random"]) / span
            for name in curves}
    return {
        "env": REACH_ID, "budget_steps": budget, "seeds": seeds, "eval_episodes": episodes, "avg_preset": preset,
        "reference_returns": refs,
        "eval_steps": [budget * k // chunks for k in range(1, chunks + 1)],
        "curves": {name: {str(s): v for s, v in c.items()} for name, c in curves.items()},
        "final_return_iqm": {name: _iqm_with_ci(final[name]) for name in final},
        "final_normalised_iqm": {name: _iqm_with_ci(normalised[name]) for name in normalised},
        "avg_over_sac_normalised": float(_iqm(normalised["avg"]) / max(_iqm(normalised["sac"]), 1e-9)),
        "late_window_evaluations": window,
        "late_normalised_iqm": {name: _iqm_with_ci(late[name]) for name in late},
        "avg_over_sac_late_normalised": float(_iqm(late["avg"]) / max(_iqm(late["sac"]), 1e-9)),
        "train_seconds": seconds,
    }


def _stop_after(seconds: float):
    """An SB3 callback ending `learn` at the first env step after `seconds` of it."""
    from stable_baselines3.common.callbacks import BaseCallback

    class StopAfter(BaseCallback):
        def _on_training_start(self) -> None:
            self.started = time.perf_counter()

        def _on_step(self) -> bool:
            return time.perf_counter() - self.started < seconds

    return StopAfter()


def bench_reach_equal_time(budget: int, seeds: list[int], chunks: int, episodes: int, preset: str) -> dict:
    refs = _reference_returns(episodes)
    span = refs["expert"] - refs["random"]
    results: dict[str, dict[str, list]] = {name: {"normalised": [], "steps": [], "seconds": []}
                                           for name in ("avg", "sac")}
    for seed in seeds:
        avg_env, sac_env = gym.make(REACH_ID), gym.make(REACH_ID)
        seed_everything(seed)  # where each run starts (a learner never seeds the global RNGs)
        avg = AVG(avg_env, AVGConfig.from_preset(preset, seed=seed, eval_every=0), device="cpu")
        sac = _sb3_sac(sac_env, seed=seed)
        seconds = {"avg": 0.0, "sac": 0.0}
        for k in range(1, chunks + 1):
            t0 = time.perf_counter()
            avg.train(budget * k // chunks, progress=False)
            t1 = time.perf_counter()
            sac.learn(10**9, callback=_stop_after(t1 - t0), reset_num_timesteps=False)
            seconds["avg"] += t1 - t0
            seconds["sac"] += time.perf_counter() - t1
        eval_env = gym.make(REACH_ID)
        returns = {"avg": evaluate_policy(eval_env, avg.act, episodes)["return_mean"],
                   "sac": evaluate_policy(eval_env, lambda o: sac.predict(o, deterministic=True)[0],
                                          episodes)["return_mean"]}
        for name, steps in (("avg", avg.env_steps), ("sac", sac.num_timesteps)):
            results[name]["normalised"].append((returns[name] - refs["random"]) / span)
            results[name]["steps"].append(int(steps))
            results[name]["seconds"].append(seconds[name])
        print(f"  seed {seed}: AVG {avg.env_steps} steps in {seconds['avg']:.0f} s -> {returns['avg']:.2f}; "
              f"SAC {sac.num_timesteps} steps in {seconds['sac']:.0f} s -> {returns['sac']:.2f}", flush=True)
        for env in (avg_env, sac_env, eval_env):
            env.close()
    normalised = {name: np.array(r["normalised"]) for name, r in results.items()}
    return {
        "env": REACH_ID, "avg_budget_steps": budget, "seeds": seeds, "eval_episodes": episodes,
        "avg_preset": preset, "reference_returns": refs, "per_seed": results,
        "final_normalised_iqm": {name: _iqm_with_ci(v) for name, v in normalised.items()},
        "avg_over_sac_normalised": float(_iqm(normalised["avg"]) / max(_iqm(normalised["sac"]), 1e-9)),
    }


def _iqm(x: np.ndarray) -> float:
    x = np.sort(np.asarray(x, dtype=np.float64))
    cut = int(np.floor(0.25 * x.size))
    return float(x[cut: x.size - cut].mean())


def _iqm_with_ci(x: np.ndarray, resamples: int = 2_000) -> dict:
    rng = np.random.default_rng(0)
    boots = [_iqm(rng.choice(x, size=x.size)) for _ in range(resamples)]
    return {"iqm": _iqm(x), "ci95": [float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))],
            "values": [float(v) for v in x]}


# ---- main --------------------------------------------------------------------------------------------------

def _environment() -> dict:
    versions = {}
    for pkg in ("torch", "stable-baselines3", "gymnasium", "pybullet", "numpy"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {"python": platform.python_version(), "versions": versions, "torch_threads": torch.get_num_threads(),
            "cpus": os.cpu_count()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["latency", "reach", "reach-time", "all"])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--avg-steps", type=int, default=400, help="AVG steps timed per round")
    parser.add_argument("--sac-steps", type=int, default=30, help="SB3 SAC steps timed per round")
    parser.add_argument("--budget", type=int, default=6_000, help="env steps per learner and seed (reach)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--chunks", type=int, default=6, help="evaluations along the run (reach)")
    parser.add_argument("--episodes", type=int, default=5, help="evaluation episodes")
    parser.add_argument("--preset", default="arm_reach", help="AVG preset for the reach run")
    parser.add_argument("--out", help="also write the JSON report here")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    report = {"environment": _environment(), "load_before": os.getloadavg()}
    if args.what in ("latency", "all"):
        report["latency"] = bench_latency(args.rounds, args.avg_steps, args.sac_steps)
    if args.what in ("reach", "all"):
        report["reach"] = bench_reach(args.budget, args.seeds, args.chunks, args.episodes, args.preset)
    if args.what == "reach-time":
        report["reach_equal_time"] = bench_reach_equal_time(args.budget, args.seeds, args.chunks, args.episodes,
                                                            args.preset)
    report["load_after"] = os.getloadavg()
    report["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
