"""SAC learning gate on the PyBullet balance task, over several seeds (slow: about 65 s on a quiet 2-core
machine)."""

import numpy as np
import pytest

from robolearn.learners.base import seed_everything
from robolearn.learners.sac import SAC, SACConfig

SEEDS = (1, 2, 3)


@pytest.mark.slow
def test_sac_with_expert_demos_learns_to_balance_the_pybullet_pendulum():
    # robolearn/PendulumBalance-v0: 300 steps at 60 Hz, reward <= 1 per step; the LQR expert scores ~300,
    # the untrained policy ~50 (the pole falls). RLPD batches: half from 2 expert episodes.
    from robolearn.envs.registry import make_env

    results = {}
    for seed in SEEDS:
        config = SACConfig(seed=seed, critic_ensemble=4, hidden_sizes=[64, 64], batch_size=64, utd=2,
                           learning_starts=100, demo_episodes=2, eval_every=10**9)
        seed_everything(config.seed)  # where the run starts, as robolearn train does
        learner = SAC(make_env("robolearn/PendulumBalance-v0"), config, "cpu")
        eval_env = make_env("robolearn/PendulumBalance-v0")
        before = learner.evaluate(episodes=3, env=eval_env)["return_mean"]
        learner.train(4000, progress=False)
        assert len(learner.demo_buffer) == 600
        results[seed] = (before, learner.evaluate(episodes=3, env=eval_env)["return_mean"])
    # Measured at 4000 steps: seeds 1, 2, 3 score 51 -> 298, 20 -> 300, 31 -> 296. RL training amplifies float
    # rounding, so one seed may land at the margin after any change to the arithmetic: the gate is that
    # every untrained policy falls and at least two of three seeds balance the whole episode.
    befores, afters = zip(*results.values())
    assert max(befores) < 150, results
    assert np.sum(np.array(afters) > 250) >= 2, results
