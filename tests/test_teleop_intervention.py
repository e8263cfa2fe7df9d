"""The intervention wrapper: a simulated human takes over a bad policy during training-style stepping."""

import numpy as np

from robolearn.data.episodes import EpisodeEnded
from robolearn.envs.registry import make_env
from robolearn.teleop import SimulatedHuman
from robolearn.teleop.intervention import InterventionWrapper
from robolearn.teleop.sources import expert_of


def _episode(env, policy, seed):
    obs, _ = env.reset(seed=seed)
    flags, executed, done, info = [], [], False, {}
    while not done:
        proposed = policy(obs)
        obs, reward, terminated, truncated, info = env.step(proposed)
        flags.append(info["intervention"])
        executed.append(info["executed_action"])
        done = terminated or truncated
    return np.array(flags), np.array(executed), info


def test_interventions_are_flagged_counted_and_executed():
    base = make_env("ArmReach")
    expert = expert_of(base)
    env = InterventionWrapper(base, SimulatedHuman(None, expert, threshold=0.05, reaction_steps=1, budget=15))
    try:
        bad = lambda obs: -np.clip(expert(obs), -1, 1)  # noqa: E731
        flags, executed, info = _episode(env, bad, 0)
        assert flags.sum() == info["episode_interventions"] == 15
        assert info["intervention_rate"] == flags.mean()
        assert not flags[0] and flags[1]  # one step of reaction delay
        good_flags, _, info = _episode(env, lambda obs: np.clip(expert(obs), -1, 1), 1)
        assert not good_flags.any() and info["intervention_rate"] == 0.0
    finally:
        env.close()


def test_success_key_ends_the_episode_and_labels_the_reward():
    class SuccessAfter:
        def __init__(self):
            self.n = 0

        def reset(self):
            self.n = 0

        def decide(self, obs, proposed):
            self.n += 1
            if self.n == 4:
                raise EpisodeEnded("success")
            return proposed, False

    env = InterventionWrapper(make_env("ArmReach"), SuccessAfter(), label_reward=True)
    try:
        env.reset(seed=0)
        for _ in range(3):
            _, reward, terminated, truncated, _ = env.step(np.zeros(env.action_space.shape))
            assert not (terminated or truncated) and reward == 0.0
        _, reward, terminated, truncated, info = env.step(np.zeros(env.action_space.shape))
        # A labelled success is the goal reached: terminal, so the critic does not bootstrap past it.
        assert terminated and not truncated and reward == 1.0 and info["human_label"] == "success"
    finally:
        env.close()
