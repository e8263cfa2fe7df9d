"""Benchmark robolearn SAC against Stable-Baselines3 SAC on the same task, in the same process.

(a) Gradient updates per second in SB3's configuration (2 critics, batch 256, 2x256, no LayerNorm, utd 1:
    configs/sac_sb3.yaml) against SB3 SAC's own `train()`, on identically filled buffers. Rounds interleave
    the two learners, so machine load hits both alike; the reported figure is ours/SB3 per round.
    Each round also times the bare matrix products one of our updates needs (same shapes, nothing else:
    no activations, sampling, losses or optimiser), which bounds what any implementation of these exact
    semantics can reach: `ceiling_vs_sb3` = SB3 update time / that GEMM-only time.
(b) Sample efficiency: env steps our SAC (SERL recipe with demonstrations) needs to reach the final
    deterministic return of SB3 SAC trained for --budget steps, divided by --budget (smaller is better).
    The returns of a zero-action policy and of the scripted expert are printed alongside: at budgets of a few
    thousand steps SB3 SAC on ArmReach has not yet beaten doing nothing, so read (b) against them.

Both parts run torch and OpenMP with one thread unless --threads says otherwise (set OMP_NUM_THREADS to the
same number). Usage (all options have defaults):
    OMP_NUM_THREADS=1 python bench/bench_sac.py --task robolearn/ArmReach-v0 --seeds 3 --rounds 3
    python bench/bench_sac.py --part a      # only throughput
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from robolearn.training import make_env  # noqa: E402
from robolearn.learners.run import evaluate_policy  # noqa: E402
from robolearn.learners.base import seed_everything  # noqa: E402
from robolearn.learners.sac import SAC, SACConfig  # noqa: E402

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def sb3_sac(env: gym.Env, seed: int, learning_starts: int):
    from stable_baselines3 import SAC as SB3SAC

    return SB3SAC("MlpPolicy", env, batch_size=256, learning_starts=learning_starts, buffer_size=1_000_000,
                  policy_kwargs={"net_arch": [256, 256]}, seed=seed, device="cpu", verbose=0)


# ------------------------------------------------------------------------------------------- part (a)
def gemm_skeleton(obs_dim: int, act_dim: int, hidden: list[int], members: int, batch: int):
    """A function running, back to back, exactly the matrix products of one of our SAC updates at utd 1
    (actor on s', target critics; critic forward and backward for weights; actor on s, critic forward and
    backward for the action only; actor backward), on random tensors of the same shapes."""
    def scaled(*shape):
        return torch.randn(*shape) / shape[-2] ** 0.5

    actor_dims = [obs_dim, *hidden, 2 * act_dim]
    critic_dims = [obs_dim + act_dim, *hidden, 1]
    actor = [scaled(i, o) for i, o in zip(actor_dims[:-1], actor_dims[1:])]
    critic = [scaled(members, i, o) for i, o in zip(critic_dims[:-1], critic_dims[1:])]
    target = [w.clone() for w in critic]
    obs = torch.randn(batch, obs_dim)
    critic_in = torch.randn(batch, obs_dim + act_dim).expand(members, -1, -1)

    def t2(x):
        return x.transpose(-2, -1)

    def forward(weights, x, product):
        inputs = [x]
        for w in weights:
            inputs.append(product(inputs[-1], w))
        return inputs

    def backward(weights, inputs, product, weight_grads, input_grad_of_first):
        grad = inputs[-1]
        for k in reversed(range(len(weights))):
            if weight_grads:
                product(t2(inputs[k]), grad)
            if k > 0 or input_grad_of_first:
                grad = product(grad, t2(weights[k]))

    def update() -> None:
        forward(actor, obs, torch.mm)  # a' ~ pi(s')
        forward(target, critic_in, torch.bmm)  # target members
        critic_acts = forward(critic, critic_in, torch.bmm)
        backward(critic, critic_acts, torch.bmm, weight_grads=True, input_grad_of_first=False)
        actor_acts = forward(actor, obs, torch.mm)
        critic_acts = forward(critic, critic_in, torch.bmm)
        backward(critic, critic_acts, torch.bmm, weight_grads=False, input_grad_of_first=True)
        backward(actor, actor_acts, torch.mm, weight_grads=True, input_grad_of_first=False)

    return update


def updates_per_second(task: str, seeds: int, rounds: int, updates: int, fill: int) -> dict:
    sb3_config = SACConfig.from_yaml(CONFIGS / "sac_sb3.yaml")
    pairs = []
    for seed in range(seeds):
        sb3 = sb3_sac(make_env(task), seed, learning_starts=fill)
        sb3.learn(fill, progress_bar=False)  # fills the buffer; no update before learning_starts
        seed_everything(seed)  # where each run starts (a learner never seeds the global RNGs)
        ours = SAC(make_env(task), dataclasses.replace(sb3_config, seed=seed, learning_starts=fill + 1), "cpu")
        ours.train(fill, progress=False)
        pairs.append((sb3, ours))
    env = pairs[0][1].env
    skeleton = gemm_skeleton(env.observation_space.shape[0], env.action_space.shape[0], sb3_config.hidden_sizes,
                             sb3_config.critic_ensemble, sb3_config.batch_size)
    for sb3, ours in pairs:  # warm-up: first calls allocate optimiser state and caches
        sb3.train(gradient_steps=5, batch_size=256)
        for _ in range(5):
            ours.update()
            skeleton()
    ratios, sb3_rates, our_rates, gemm_shares, ceilings = [], [], [], [], []
    for _ in range(rounds):
        for sb3, ours in pairs:
            t0 = time.perf_counter()
            sb3.train(gradient_steps=updates, batch_size=256)
            t1 = time.perf_counter()
            for _ in range(updates):
                ours.update()
            t2 = time.perf_counter()
            for _ in range(updates):
                skeleton()
            t3 = time.perf_counter()
            sb3_rates.append(updates / (t1 - t0))
            our_rates.append(updates / (t2 - t1))
            ratios.append(our_rates[-1] / sb3_rates[-1])
            gemm_shares.append((t3 - t2) / (t2 - t1))
            ceilings.append((t1 - t0) / (t3 - t2))
    return {"ratio_median": statistics.median(ratios), "ratio_min": min(ratios), "ratios": ratios,
            "ours_updates_per_s_median": statistics.median(our_rates),
            "sb3_updates_per_s_median": statistics.median(sb3_rates),
            "ours_time_in_gemms_median": statistics.median(gemm_shares),
            "ceiling_vs_sb3_median": statistics.median(ceilings), "ceiling_vs_sb3_max": max(ceilings)}


# ------------------------------------------------------------------------------------------- part (b)
def reference_returns(task: str, episodes: int) -> dict:
    """Returns of doing nothing and of the task's scripted expert, to read the SB3 target against."""
    from robolearn.data.transitions import collect_demonstrations

    env = make_env(task)
    out = {"zero_action": evaluate_policy(env, lambda o: np.zeros(env.action_space.shape, np.float32),
                                          episodes)["return_mean"]}
    try:
        demos = collect_demonstrations(env, episodes, seed=10_000)
        out["scripted_expert"] = float(demos.rewards.sum() / episodes)
    except (NotImplementedError, AttributeError):
        out["scripted_expert"] = None
    return out


def steps_to_sb3_return(task: str, seeds: int, budget: int, eval_every: int, eval_episodes: int,
                        ours_config: SACConfig, max_ratio: float) -> dict:
    rows = []
    for seed in range(seeds):
        sb3 = sb3_sac(make_env(task), seed, learning_starts=100)
        sb3.learn(budget, progress_bar=False)
        sb3_eval = evaluate_policy(make_env(task), lambda o: sb3.predict(o, deterministic=True)[0], eval_episodes)
        target = sb3_eval["return_mean"]

        seed_everything(seed)  # where each run starts (a learner never seeds the global RNGs)
        ours = SAC(make_env(task), dataclasses.replace(ours_config, seed=seed, eval_every=10**9), "cpu")
        eval_env = make_env(task)
        reached, ours_return, steps = None, None, 0
        while steps < int(budget * max_ratio):
            steps += eval_every
            ours.train(steps, progress=False)
            ours_return = evaluate_policy(eval_env, ours.act, eval_episodes)["return_mean"]
            if ours_return >= target:
                reached = steps
                break
        rows.append({"seed": seed, "sb3_final_return": target, "ours_steps_to_reach": reached,
                     "ours_last_return": ours_return, "ratio": (reached / budget) if reached else None})
        print(json.dumps(rows[-1]), flush=True)
    ratios = [r["ratio"] for r in rows if r["ratio"] is not None]
    return {"rows": rows, "reached": f"{len(ratios)}/{len(rows)}",
            # Runs that never reached the target count as the cap: a conservative median.
            "ratio_median": statistics.median([r["ratio"] or max_ratio for r in rows]),
            "ratio_max": max([r["ratio"] or max_ratio for r in rows])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="robolearn/ArmReach-v0")
    parser.add_argument("--part", choices=["a", "b", "both"], default="both")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--updates", type=int, default=100, help="(a) updates per timed chunk")
    parser.add_argument("--fill", type=int, default=1000, help="(a) transitions in the buffers")
    parser.add_argument("--budget", type=int, default=5000, help="(b) SB3 SAC env steps")
    parser.add_argument("--eval-every", type=int, default=500, help="(b) our evaluation interval")
    parser.add_argument("--eval-episodes", type=int, default=5)
    parser.add_argument("--ours-config", default=str(CONFIGS / "sac.yaml"), help="(b) our SAC config")
    parser.add_argument("--max-ratio", type=float, default=1.0, help="(b) stop ours at budget * this")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads for both learners")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import stable_baselines3

    report = {"task": args.task, "torch": torch.__version__, "sb3": stable_baselines3.__version__,
              "threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine(),
              "python": platform.python_version(), "load_before": os.getloadavg()}
    if args.part in ("a", "both"):
        report["a_updates_per_second"] = updates_per_second(args.task, args.seeds, args.rounds, args.updates,
                                                            args.fill)
        print(json.dumps(report["a_updates_per_second"]), flush=True)
    if args.part in ("b", "both"):
        config = SACConfig.from_yaml(args.ours_config)
        report["b_reference_returns"] = reference_returns(args.task, args.eval_episodes)
        report["b_steps_to_sb3_return"] = steps_to_sb3_return(args.task, args.seeds, args.budget, args.eval_every,
                                                              args.eval_episodes, config, args.max_ratio)
    report["load_after"] = os.getloadavg()
    print(json.dumps(report, indent=2, default=float))


if __name__ == "__main__":
    main()
