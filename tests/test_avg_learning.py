"""AVG learns to balance the PyBullet pendulum within a small seeded budget (batch 1, no buffer)."""

import gymnasium as gym
import numpy as np
import pytest

import robolearn  # noqa: F401  (registers robolearn/* ids)
from robolearn.learners.avg import AVG, AVGConfig
from robolearn.learners.base import seed_everything
from robolearn.learners.run import evaluate_policy

ENV_ID = "robolearn/PendulumBalance-v0"
BUDGET = 3_000
EVAL_AT = (2_250, BUDGET)  # ≈7 s on the idle 2-core build machine, ≈60 s at load average 8


@pytest.mark.slow
def test_avg_learns_pendulum_balance():
    pytest.importorskip("pybullet")
    env, eval_env = gym.make(ENV_ID), gym.make(ENV_ID)
    max_return = env.spec.max_episode_steps  # reward <= 1 per step
    rng = np.random.default_rng(0)
    random_return = evaluate_policy(eval_env, lambda _: rng.uniform(-1.0, 1.0, size=1), episodes=3)["return_mean"]

    seed_everything(0)  # where the run starts, as robolearn train does
    learner = AVG(env, AVGConfig.from_preset("pendulum_balance", seed=0, eval_every=0), device="cpu")
    returns = []
    for steps in EVAL_AT:
        summary = learner.train(steps, progress=False)
        returns.append(evaluate_policy(eval_env, learner.act, episodes=3)["return_mean"])

    assert summary["env_steps"] == BUDGET and np.isfinite(summary["critic_loss"])
    # Random falls after ~50 steps (return ~45). A batch-1 learner's policy is not monotone (seed 2 of the
    # preset balances at 2,250 steps and falls again at 3,000; seed 1 the other way round), so the bar is
    # the better of the two checkpoints: seeds 0-2 all balance the whole episode (return ~300) at one.
    assert max(returns) >= max(3.0 * random_return, 0.45 * max_return), (random_return, returns)
