"""AVG learns to balance the PyBullet pendulum within a small seeded budget (batch 1, no buffer)."""

import gymnasium as gym
import numpy as np
import pytest

import robolearn  # noqa: F401  (registers robolearn/* ids)
from robolearn.learners.avg import AVG, AVGConfig
from robolearn.learners.run import evaluate_policy

ENV_ID = "robolearn/PendulumBalance-v0"
BUDGET = 3_000  # env steps; seeds 0-2 of the preset all clear the bar by then (≈13 s of CPU)


@pytest.mark.slow
def test_avg_learns_pendulum_balance():
    pytest.importorskip("pybullet")
    env, eval_env = gym.make(ENV_ID), gym.make(ENV_ID)
    max_return = env.spec.max_episode_steps  # reward <= 1 per step
    rng = np.random.default_rng(0)
    random_return = evaluate_policy(eval_env, lambda _: rng.uniform(-1.0, 1.0, size=1), episodes=5)["return_mean"]

    learner = AVG(env, AVGConfig.from_preset("pendulum_balance", seed=0, eval_every=0), device="cpu")
    summary = learner.train(BUDGET, progress=False)
    trained = evaluate_policy(eval_env, learner.act, episodes=5)

    assert summary["steps"] == BUDGET and np.isfinite(summary["critic_loss"])
    # Random falls after ~50 steps (return ~45); balancing most of the episode needs a learned policy.
    assert trained["return_mean"] >= max(3.0 * random_return, 0.45 * max_return), (random_return, trained)
