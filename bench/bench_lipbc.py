"""The robustness trade-off of Lipschitz-constrained behaviour cloning (Al Makdah, Krishnan, Pasqualetti).

    python bench/bench_lipbc.py [--tasks PendulumBalance CartPoleBalance ArmReach] [--alphas 1 2 3 ...]
                                [--zetas 0.02 0.05 0.1] [--steps 2000] [--episodes 5] [--seed 0]

For every task: demonstrations from the task's scripted expert, then for every alpha a LipBC clone
(hard constraint lip <= alpha, l2 from features to action) and, as the peer in the same run, an
unconstrained clone (same network and training, alpha = 1e9 so the projection never acts). Each policy is
evaluated in closed loop nominally and under a bounded adversarial observation perturbation
||w||_2 <= zeta at every step: projected gradient ascent on ||pi(x + w) - pi(x)||_2 from a random
point of the sphere (an attack of the kind the paper's robustness bound covers: the action moves by at
most alpha * zeta; see `adversarial`). Returns are reported as a score on the same evaluation episodes:
0 = the zero action, 1 = the scripted expert, nominal (reach returns are negative, so a plain ratio of
returns would mean nothing).
Also reported: the certified upper bound, the empirical lower bound, the imitation MSE, and the
projection's share of one gradient step (timed round-robin in this process).

Prints a table, writes bench/results/lipbc_tradeoff.png and bench/results/lipbc_tradeoff.json.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from importlib import metadata  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from robolearn.data import collect_demonstrations  # noqa: E402
from robolearn.envs.registry import make_env  # noqa: E402
from robolearn.learners.base import seed_everything  # noqa: E402
from robolearn.learners.lipbc import LipBCConfig, LipBCLearner  # noqa: E402
from robolearn.learners.run import evaluate_policy  # noqa: E402

RESULTS = Path(__file__).parent / "results"
UNCONSTRAINED_ALPHA = 1e9
EVAL_SEED = 10_000


def adversarial(policy: torch.nn.Module, zeta: float, steps: int, seed: int,
                objective: str = "opposing") -> Callable[[np.ndarray], np.ndarray]:
    """act(obs) of `policy` fed obs + w, with w from projected gradient ascent in ||w||_2 <= zeta.

    "opposing" maximises -<pi(x + w) - pi(x), pi(x) / ||pi(x)||>: it weakens or reverses the corrective
    action at every step, in a consistent direction, so its effect builds up in closed loop.
    "deviation" maximises ||pi(x + w) - pi(x)||_2, the quantity the Lipschitz bound caps at alpha * zeta;
    its sign is arbitrary from step to step and often averages out.
    """
    if objective not in ("opposing", "deviation"):
        raise ValueError(f"unknown attack objective {objective!r}: use opposing or deviation")
    gen = torch.Generator().manual_seed(seed)

    def act(obs: np.ndarray) -> np.ndarray:
        x = torch.as_tensor(np.asarray(obs, dtype=np.float32)).unsqueeze(0)
        with torch.no_grad():
            clean = policy(x)
        direction = clean / torch.linalg.vector_norm(clean).clamp_min(1e-8)
        w = torch.randn(x.shape, generator=gen)
        w *= zeta / torch.linalg.vector_norm(w)
        for _ in range(steps):
            w.requires_grad_(True)
            change = policy(x + w) - clean
            gain = -torch.sum(change * direction) if objective == "opposing" else torch.sum(change**2)
            (grad,) = torch.autograd.grad(gain, w)
            with torch.no_grad():
                norm = torch.linalg.vector_norm(grad)
                if norm == 0:  # saturated output: no direction helps
                    break
                w = w + 0.5 * zeta * grad / norm
                w *= torch.clamp(zeta / torch.linalg.vector_norm(w), max=1.0)
        with torch.no_grad():
            return policy(x + w.detach())[0].numpy()

    return act


def nominal(policy: torch.nn.Module) -> Callable[[np.ndarray], np.ndarray]:
    def act(obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return policy(torch.as_tensor(np.asarray(obs, dtype=np.float32)).unsqueeze(0))[0].numpy()

    return act


def expert_policy(env) -> Callable[[np.ndarray], np.ndarray]:
    base = env.unwrapped
    return lambda _obs: base.task.expert_action(base._obs, base.robot.spec)


def projection_share(learner: LipBCLearner, rounds: int = 5, reps: int = 50) -> dict:
    """Median over rounds of (time of net.project_()) / (time of one whole gradient step, projection included)."""
    ratios = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(reps):
            learner._update()
        step = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(reps):
            learner.net.project_()
        ratios.append((time.perf_counter() - start) / step)
    return {"projection_over_step_median": float(np.median(ratios)), "min": float(np.min(ratios)),
            "step_ms_last_round": 1e3 * step / reps}


def run_task(task: str, args) -> dict:
    env = make_env(task)
    try:
        demos = collect_demonstrations(env, args.demo_episodes, seed=args.seed)
        expert = evaluate_policy(env, expert_policy(env), args.episodes, seed=EVAL_SEED)["return_mean"]
        floor = evaluate_policy(env, lambda _o: np.zeros(env.action_space.shape), args.episodes,
                                seed=EVAL_SEED)["return_mean"]
        rows = []
        for alpha in [*args.alphas, UNCONSTRAINED_ALPHA]:
            config = LipBCConfig(alpha=float(alpha), seed=args.seed, eval_episodes=0, log_every=10**9,
                                 checkpoint_every=10**9, learning_rate=args.lr)
            seed_everything(args.seed)  # where each run starts (a learner never seeds the global RNGs)
            learner = LipBCLearner(env, config, device="cpu", demonstrations=demos)
            start = time.perf_counter()
            learner.train(args.steps, progress=False)
            train_s = time.perf_counter() - start
            cert = learner.certificate()
            policy = learner.policy()
            row = {"alpha": alpha, "upper_bound": cert["upper_bound"], "lower_bound": cert["lower_bound"],
                   "mse": learner.imitation_loss(), "train_s": train_s,
                   "nominal": evaluate_policy(env, nominal(policy), args.episodes, seed=EVAL_SEED)["return_mean"]}
            for zeta in args.zetas:
                attacked = adversarial(policy, zeta, args.pgd_steps, args.seed, args.attack)
                row[f"zeta={zeta}"] = evaluate_policy(env, attacked, args.episodes, seed=EVAL_SEED)["return_mean"]
            rows.append(row)
            print(f"  {task} alpha={alpha:g}: " + ", ".join(f"{k}={v:.4g}" for k, v in row.items() if k != "alpha"),
                  flush=True)
        timing = projection_share(learner)
        return {"task": task, "expert_return": expert, "zero_action_return": floor, "demo_rows": len(demos),
                "rows": rows, "timing": timing}
    finally:
        env.close()


def scorer(result: dict) -> Callable[[float], float]:
    low, high = result["zero_action_return"], result["expert_return"]
    return lambda value: (value - low) / (high - low)


def print_table(result: dict, zetas: list[float]) -> None:
    score = scorer(result)
    print(f"\n{result['task']}: expert return {result['expert_return']:.2f}, zero action "
          f"{result['zero_action_return']:.2f}; scores below: 0 = zero action, 1 = expert")
    header = f"{'alpha':>10} {'UB':>9} {'LB':>9} {'MSE':>9} {'nominal':>8}" + "".join(
        f" {'z=' + format(z, 'g'):>8}" for z in zetas)
    print(header)
    for row in result["rows"]:
        alpha = "unconstr." if row["alpha"] == UNCONSTRAINED_ALPHA else f"{row['alpha']:g}"
        line = (f"{alpha:>10} {row['upper_bound']:9.4g} {row['lower_bound']:9.4g} {row['mse']:9.2e} "
                f"{score(row['nominal']):8.3f}")
        print(line + "".join(f" {score(row[f'zeta={z}']):8.3f}" for z in zetas))
    t = result["timing"]
    print(f"projection / gradient step time: median {t['projection_over_step_median']:.2f} "
          f"(min {t['min']:.2f}); step {t['step_ms_last_round']:.2f} ms")


def plot(results: list[dict], zetas: list[float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(results), figsize=(5 * len(results), 7), squeeze=False)
    for col, result in enumerate(results):
        rows = [r for r in result["rows"] if r["alpha"] != UNCONSTRAINED_ALPHA]
        peer = next(r for r in result["rows"] if r["alpha"] == UNCONSTRAINED_ALPHA)
        alphas = [r["alpha"] for r in rows]
        score = scorer(result)
        ax = axes[0, col]
        ax.plot(alphas, [score(r["nominal"]) for r in rows], "o-", label="nominal")
        ax.axhline(score(peer["nominal"]), color="C0", ls=":", label="unconstrained, nominal")
        for i, zeta in enumerate(zetas, start=1):
            ax.plot(alphas, [score(r[f"zeta={zeta}"]) for r in rows], "s-", color=f"C{i}",
                    label=f"attack ||w|| <= {zeta:g}")
            ax.axhline(score(peer[f"zeta={zeta}"]), color=f"C{i}", ls=":")
        ax.set_xscale("log")
        ax.set_xlabel("alpha (Lipschitz bound)")
        ax.set_ylabel("score (0 zero action, 1 expert)")
        ax.set_title(result["task"])
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        ax = axes[1, col]
        ax.plot(alphas, [r["upper_bound"] for r in rows], "o-", label="certified upper bound")
        ax.plot(alphas, [r["lower_bound"] for r in rows], "s-", label="empirical lower bound")
        ax.plot(alphas, alphas, "k:", label="alpha")
        ax.axhline(peer["lower_bound"], color="C1", ls=":", label="unconstrained, lower bound")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("alpha")
        ax.set_ylabel("Lipschitz constant (l2)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=["PendulumBalance", "CartPoleBalance", "ArmReach"])
    parser.add_argument("--alphas", nargs="+", type=float, default=[1, 2, 3, 5, 10, 30, 100])
    parser.add_argument("--zetas", nargs="+", type=float, default=[0.02, 0.05, 0.1])
    parser.add_argument("--steps", type=int, default=2000, help="gradient steps per clone")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--episodes", type=int, default=5)
    parser.add_argument("--demo-episodes", type=int, default=20)
    parser.add_argument("--pgd-steps", type=int, default=5)
    parser.add_argument("--attack", choices=["opposing", "deviation"], default="opposing")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(RESULTS / "lipbc_tradeoff.png"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    load_before = os.getloadavg()
    results = [run_task(task, args) for task in args.tasks]
    for result in results:
        print_table(result, args.zetas)
    out = Path(args.out)
    plot(results, args.zetas, out)
    report = {"args": vars(args), "results": results, "load_before": load_before, "load_after": os.getloadavg(),
              "versions": {p: metadata.version(p) for p in ("torch", "pybullet", "gymnasium", "numpy")},
              "python": platform.python_version()}
    out.with_suffix(".json").write_text(json.dumps(report, indent=2))
    print(f"\nplot: {out}\nreport: {out.with_suffix('.json')}\nload average before {load_before}, "
          f"after {report['load_after']}")


if __name__ == "__main__":
    main()
