"""SAC learning gate on the PyBullet balance task (slow: about 25 s on a quiet 2-core machine)."""

import pytest

from robolearn.learners.sac import SAC, SACConfig


@pytest.mark.slow
def test_sac_with_expert_demos_learns_to_balance_the_pybullet_pendulum():
    # robolearn/PendulumBalance-v0: 300 steps at 60 Hz, reward <= 1 per step; the LQR expert scores ~300,
    # the untrained policy ~50 (the pole falls). RLPD batches: half from 2 expert episodes.
    from robolearn.envs.registry import make_env

    config = SACConfig(seed=1, critic_ensemble=4, hidden_sizes=[64, 64], batch_size=64, utd=2,
                       learning_starts=100, demo_episodes=2, eval_every=10**9)
    learner = SAC(make_env("robolearn/PendulumBalance-v0"), config, "cpu")
    eval_env = make_env("robolearn/PendulumBalance-v0")
    before = learner.evaluate(episodes=3, env=eval_env)["return_mean"]
    # 4000 steps: seeds 1, 4, 5, 6, 8 pass at 4000 and only half of seeds 1-8 at 3000 (measured; RL training
    # amplifies float rounding, so a seed's outcome at the margin changes with any change to the arithmetic).
    learner.train(4000, progress=False)
    after = learner.evaluate(episodes=3, env=eval_env)["return_mean"]
    assert len(learner.demo_buffer) == 600
    assert before < 150 and after > 250, (before, after)
