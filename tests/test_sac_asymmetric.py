"""SAC's asymmetric critic (`asymmetric_critic: true`): the critic reads the sim's privileged true state, the
actor and the exported policy only the policy's observation; refused where there is no true state."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from robolearn.envs.privileged import WithPrivilegedState, privileged_layout
from robolearn.learners.base import ConfigError
from robolearn.learners.sac import SAC, SACConfig
from robolearn.training import make_env

TINY = dict(critic_ensemble=2, hidden_sizes=[16, 16], batch_size=16, utd=1, learning_starts=20, demo_episodes=1,
            eval_every=1000, eval_episodes=1, asymmetric_critic=True)


@pytest.fixture
def noisy_pendulum():
    # Sensor noise and latency: the policy's observation and the true state differ, so a mix-up shows.
    env = make_env("PendulumBalance", randomize={"perturbation": {"observation_noise_std": 0.05,
                                                                 "measurement_latency_steps": 1}})
    yield env
    env.close()


def test_critic_sees_the_true_state_and_the_actor_does_not(noisy_pendulum):
    env = noisy_pendulum
    learner = SAC(env, SACConfig(**TINY), "cpu")
    obs_dim = env.observation_space.shape[0]
    true_dim = sum(size for _, size in privileged_layout(env))
    assert true_dim == 2  # the pendulum's joint_pos and joint_vel
    assert learner.actor.net[0].in_features == obs_dim
    act_dim = env.action_space.shape[0]
    assert learner.critic.q_values(torch.zeros(3, obs_dim + true_dim), torch.zeros(3, act_dim)).shape == (2, 3)
    with pytest.raises(RuntimeError):
        learner.critic.q_values(torch.zeros(3, obs_dim), torch.zeros(3, act_dim))
    learner.train(60, run_dir=None, progress=False)
    assert learner.updates > 0 and len(learner.demo_buffer) > 0

    # Stored transitions are [policy observation, true state], demonstrations included.
    for buffer in (learner.online, learner.demo_buffer):
        assert buffer.observations.shape[1] == obs_dim + true_dim
    stored = learner.online.observations[: len(learner.online)]
    check = WithPrivilegedState(make_env("PendulumBalance", randomize=env.spec.kwargs["perturbation"]))
    first, info = check.reset(seed=learner.config.seed)  # the learner's first episode starts here
    check.close()
    np.testing.assert_allclose(stored[0], first, rtol=1e-6)
    true_state = info["true_state"]
    np.testing.assert_allclose(first[obs_dim:], [true_state["joint_pos"][0], true_state["joint_vel"][0]], rtol=1e-6)
    # The pendulum's features are its measured joint_pos and joint_vel: noisy and late against the true ones.
    measured, true = stored[:, :obs_dim], stored[:, obs_dim:]
    assert not np.allclose(measured, true, atol=1e-3) and np.abs(measured - true)[:, 0].mean() < 0.2

    # The deployed side takes the policy's observation only.
    policy = learner.policy()
    with torch.no_grad():
        action = policy(torch.zeros(1, obs_dim))
    assert action.shape == (1, env.action_space.shape[0])
    with pytest.raises(RuntimeError):
        policy(torch.zeros(1, obs_dim + true_dim))
    assert learner.act(np.zeros(obs_dim, np.float32)).shape == env.action_space.shape


def test_asymmetric_critic_is_refused_without_a_true_state():
    env = gym.wrappers.RescaleAction(gym.make("Pendulum-v1"), -1.0, 1.0)
    with pytest.raises(ConfigError, match="asymmetric_critic.*no privileged true state"):
        SAC(env, SACConfig(**TINY), "cpu")
    with pytest.raises(ConfigError, match="demonstrations file"):
        SACConfig(**{**TINY, "demos": "demos.npz"}).validate()


def test_asymmetric_critic_is_refused_over_the_link(noisy_pendulum):
    from robolearn.link.training import link_learner

    with pytest.raises(ConfigError, match="carry no privileged state"):
        link_learner(SAC(noisy_pendulum, SACConfig(**TINY), "cpu"))
