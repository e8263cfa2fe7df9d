"""Feedback policy gradients: learned vs nominal tracking cost with a half-wrong model, and the ablation
that removes the embedded feedback controller from the gradient estimator.

    OMP_NUM_THREADS=1 /tmp/venv/bin/python bench/bench_fpg.py            # full run (a few minutes)
    OMP_NUM_THREADS=1 /tmp/venv/bin/python bench/bench_fpg.py --quick    # smoke run

1. Car figure-eight (robolearn/CarFigureEight-v0, PyBullet) and pendulum balance
   (robolearn/PendulumBalance-v0): the approximate model's parameters are 0.5x the nominal ones; the
   nominal controller (the untrained policy) and the learned policy are evaluated on the same seeded
   starts; reported: cost ratio learned / nominal after each block of rollouts and the simulated minutes
   of training data used. Goal (Westenbroek et al.): <= 0.5x nominal within 6 simulated minutes.
2. Ablation on a linear system (slightly unstable A, model with A off by 0.02 and a 30% wrong input gain):
   relative gradient error of the ghost estimator against the exact gradient (the same estimator with the
   true model) and the gradient norm, for horizons T = 20, 150, 300, with and without a stabilising
   feedback gain inside the policy. Ratios and norms only: they do not depend on the machine's speed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import robolearn  # noqa: E402,F401
from robolearn.control import dlqr  # noqa: E402
from robolearn.learners.base import seed_everything  # noqa: E402
from robolearn.learners.fpg import FpgConfig, FpgLearner  # noqa: E402
from robolearn.learners.ghost import ghost_loss, rollout_model  # noqa: E402
from robolearn.models import LinearModel  # noqa: E402

F64 = torch.float64
EVAL_SEED = 50_000


def evaluate(learner: FpgLearner, seeds: int) -> float:
    """Mean per-step tracking cost (the problem's cost) over `seeds` seeded starts."""
    return float(np.mean([learner.collect_rollout(seed=EVAL_SEED + i)[1]["tracking_cost"] for i in range(seeds)]))


def mismatched(path: str, factor: float = 0.5) -> FpgConfig:
    """The repo's config with the approximate model's mismatch parameters scaled by `factor`."""
    config = dataclasses.replace(FpgConfig.from_yaml(path), model_param_scale=factor)
    config.validate()
    return config


def learning_run(env_id: str, config: FpgConfig, rollouts: int, seeds: int) -> dict:
    env = gym.make(env_id)
    try:
        seed_everything(config.seed)  # where the run starts (a learner never seeds the global RNGs)
        learner = FpgLearner(env, config)
        period = learner.problem.spec.control_period_s
        nominal = evaluate(learner, seeds)
        # context: the same nominal controller designed on the correct model (what a perfect model would give)
        correct = evaluate(FpgLearner(env, dataclasses.replace(config, model_param_scale=1.0)), seeds)
        print(f"  {env_id}: nominal cost {nominal:.4g} (with the correct model: {correct:.4g} = "
              f"{correct / nominal:.3f} x)", flush=True)
        curve = []
        start = time.perf_counter()
        for target in sorted({1, 2, 3, *range(5, rollouts + 1, 5), rollouts}):
            while learner.episodes < target:  # one rollout, one update
                learner.train(learner.steps + 1, progress=False)
            cost = evaluate(learner, seeds)
            curve.append({"rollouts": learner.episodes, "sim_minutes": learner.steps * period / 60.0,
                          "cost": cost, "ratio": cost / nominal})
            print(f"  {env_id}: {learner.episodes:3d} rollouts, {curve[-1]['sim_minutes']:5.2f} sim min: "
                  f"cost {cost:.4g} = {cost / nominal:.3f} x nominal", flush=True)
        reached = next((c for c in curve if c["ratio"] <= 0.5), None)
        return {"env": env_id, "config": config.to_dict(), "nominal_cost": nominal,
                "correct_model_nominal_cost": correct, "curve": curve,
                "best_ratio": min(c["ratio"] for c in curve),
                "minutes_to_half": None if reached is None else reached["sim_minutes"],
                "wall_s": time.perf_counter() - start}
    finally:
        env.close()


class FeedforwardPolicy(torch.nn.Module):
    """u = -K x + w . [1, sin, cos](2 pi t / 50): learned feedforward, optional embedded feedback K."""

    def __init__(self, gain: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("gain", torch.as_tensor(gain, dtype=F64))
        self.w = torch.nn.Parameter(torch.zeros(gain.shape[0], 3, dtype=F64))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        phase = 2 * math.pi * t / 50.0
        features = torch.stack((torch.ones_like(t), torch.sin(phase), torch.cos(phase)), dim=-1)
        return -(x @ self.gain.T) + features @ self.w.T


def ablation(horizons: tuple[int, ...]) -> list[dict]:
    A = np.array([[1.01, 0.1], [0.0, 1.005]])  # slightly unstable
    B = np.array([[0.0], [0.1]])
    plant = LinearModel(dt=1.0, A=A, B=B)
    model = LinearModel(dt=1.0, A=A - 0.02 * np.eye(2), B=B, input_gain=0.7)
    # R = 1 while the cost weighs u by 0.1: K is stabilising but not optimal for the cost, so the true
    # gradient does not vanish at long horizons (it would for the cost's own LQR gain).
    gain = dlqr(A, B, np.eye(2), np.eye(1))

    def cost(x, u, t):
        return (x**2).sum(-1) + 0.1 * (u**2).sum(-1)

    rows = []
    for horizon in horizons:
        row = {"T": horizon}
        for name, k in (("open_loop", np.zeros_like(gain)), ("with_K", gain)):
            policy = FeedforwardPolicy(k)
            data = rollout_model(plant, policy, torch.tensor([1.0, 0.0], dtype=F64),
                                 torch.arange(horizon + 1, dtype=F64))
            exact, = torch.autograd.grad(ghost_loss(plant, policy, data, cost, window=horizon).loss, [policy.w])
            estimate, = torch.autograd.grad(ghost_loss(model, policy, data, cost, window=horizon).loss, [policy.w])
            row[name] = {"relative_error": float((estimate - exact).norm() / exact.norm()),
                         "grad_norm": float(estimate.norm()), "true_grad_norm": float(exact.norm())}
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="few rollouts: a smoke test of the script")
    parser.add_argument("--car-rollouts", type=int, default=40)
    parser.add_argument("--pendulum-rollouts", type=int, default=40)
    parser.add_argument("--eval-seeds", type=int, default=3)
    parser.add_argument("--json", type=Path, default=Path("bench/results/fpg.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    car_n, pend_n = (3, 3) if args.quick else (args.car_rollouts, args.pendulum_rollouts)
    load_before = os.getloadavg()
    print("1. learned vs nominal with the model's parameters at 0.5x")
    car = learning_run("robolearn/CarFigureEight-v0", mismatched("configs/fpg_car.yaml"), car_n,
                       args.eval_seeds)
    pendulum = learning_run("robolearn/PendulumBalance-v0", mismatched("configs/fpg_pendulum.yaml"), pend_n,
                            args.eval_seeds)
    print("\n2. ablation: gradient error vs horizon, open loop vs embedded feedback (linear system)")
    rows = ablation((20, 150, 300))
    print(f"{'T':>5} | {'open loop: rel. error (|grad|)':>32} | {'with K: rel. error (|grad|)':>30}")
    for r in rows:
        o, k = r["open_loop"], r["with_K"]
        print(f"{r['T']:>5} | {o['relative_error']:>18.3f} ({o['grad_norm']:>10.3g}) | "
              f"{k['relative_error']:>16.3f} ({k['grad_norm']:>10.3g})")
    print("\nsummary")
    for run in (car, pendulum):
        half = "not reached" if run["minutes_to_half"] is None else f"{run['minutes_to_half']:.2f} sim min"
        last = run["curve"][-1]
        print(f"  {run['env']}: nominal cost {run['nominal_cost']:.4g}; after {last['rollouts']} rollouts "
              f"({last['sim_minutes']:.2f} sim min) {last['ratio']:.3f} x nominal; best {run['best_ratio']:.3f}; "
              f"<= 0.5 x nominal: {half}; wall {run['wall_s']:.0f} s")
    print(f"  load average before {load_before[0]:.1f}, after {os.getloadavg()[0]:.1f}; torch {torch.__version__}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"car": car, "pendulum": pendulum, "ablation": rows}, indent=1))


if __name__ == "__main__":
    main()
