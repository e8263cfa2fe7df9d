"""AVG: network stabilisers, the update rule against a step-by-step reference, config, spaces, export
module, fail-safe on divergence, and exact checkpoint resume."""

import copy
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
import yaml

from robolearn.learners.avg import AVG, PRESETS, AVGConfig, AVGPolicy, NormalizedMLP
from robolearn.learners.base import ConfigError, Learner
from robolearn.learners.distributions import sample_tanh_gaussian

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def pendulum(max_steps: int = 50) -> gym.Env:
    return gym.wrappers.RescaleAction(gym.make("Pendulum-v1", max_episode_steps=max_steps), -1.0, 1.0)


def small_config(**overrides) -> AVGConfig:
    return AVGConfig(**{"hidden_size": 32, "eval_every": 0, "actor_lr": 1e-3, "critic_lr": 1e-3,
                        "entropy_coef": 0.1, **overrides})


# ---- networks ---------------------------------------------------------------------------------------

def test_penultimate_features_have_unit_norm():
    torch.manual_seed(0)
    net = NormalizedMLP(5, 3, 64)
    x = torch.randn(32, 5) * 10.0
    norms = net.features(x).norm(dim=-1)
    torch.testing.assert_close(norms, torch.ones(32), atol=1e-6, rtol=0)
    raw = NormalizedMLP(5, 3, 64, normalize_features=False)
    raw.load_state_dict(net.state_dict())
    assert (raw.features(x).norm(dim=-1) - 1.0).abs().max() > 0.1  # the check above can fail


def test_orthogonal_init_and_zero_bias():
    net = NormalizedMLP(4, 2, 16)
    w = net.hidden2.weight.detach()
    torch.testing.assert_close(w @ w.T, torch.eye(16), atol=1e-5, rtol=0)
    assert all(float(b.abs().max()) == 0.0 for b in (net.hidden1.bias, net.hidden2.bias, net.head.bias))


# ---- the update rule --------------------------------------------------------------------------------

def _reference_step(actor, critic, obs, next_obs, reward, terminated, eta, gamma, sigma, seed_a, seed_next,
                    critic_for_actor=None):
    """The recipe, literally: actor loss backward + actor step; zero critic grads; critic loss backward +
    critic step. Returns the gradients (actor, critic) it applied, computed at pre-update parameters."""
    mean, log_std = actor(obs).chunk(2, -1)
    action, log_prob = sample_tanh_gaussian(mean, log_std, generator=torch.Generator().manual_seed(seed_a))
    with torch.no_grad():
        m2, s2 = actor(next_obs).chunk(2, -1)
        next_action, next_log_prob = sample_tanh_gaussian(m2, s2, generator=torch.Generator().manual_seed(seed_next))
        target_v = critic(torch.cat((next_obs, next_action), -1)) - eta * next_log_prob
    q = critic(torch.cat((obs, action.detach()), -1))
    delta = (reward + (1 - terminated) * gamma * target_v - q) / sigma
    critic_loss = delta.pow(2).sum()
    judge = critic_for_actor if critic_for_actor is not None else critic
    actor_loss = (eta * log_prob - judge(torch.cat((obs, action), -1))).sum()
    actor_grads = torch.autograd.grad(actor_loss, list(actor.parameters()))
    critic_grads = torch.autograd.grad(critic_loss, list(critic.parameters()))
    return actor_grads, critic_grads


def _grads(module):
    return [p.grad.clone() for p in module.parameters()]


@pytest.mark.parametrize("terminated", [False, True])
def test_update_matches_reference_with_pre_update_parameters(terminated):
    learner = AVG(pendulum(), small_config(), device="cpu")
    obs, next_obs = torch.randn(1, 3), torch.randn(1, 3)
    for _ in range(3):  # warm the scaler so sigma != 1
        learner.td_scaler.push(float(np.random.default_rng(0).normal()), False)
    learner.td_scaler.push(5.0, True)
    actor0, critic0 = copy.deepcopy(learner.actor), copy.deepcopy(learner.critic)
    scaler = copy.deepcopy(learner.td_scaler)

    learner.generator.manual_seed(11)
    action, log_prob = learner._sample(obs)
    reward = 0.7
    scaler.push(reward - learner.config.entropy_coef * log_prob.item(), terminated)
    learner.generator.manual_seed(12)
    out = learner.update(obs, action, log_prob, reward, terminated, False, next_obs)
    assert out["sigma"] == pytest.approx(scaler.sigma) and out["sigma"] != 1.0

    ref_actor, ref_critic = _reference_step(actor0, critic0, obs, next_obs, reward, float(terminated),
                                            learner.config.entropy_coef, learner.config.gamma, scaler.sigma,
                                            11, 12)
    for got, want in zip(_grads(learner.actor), ref_actor):
        torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-4)
    for got, want in zip(_grads(learner.critic), ref_critic):
        torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-4)

    # Sensitivity: an actor loss judged by the critic *after* its step gives a different gradient.
    stepped_critic = copy.deepcopy(learner.critic)
    stale_actor, _ = _reference_step(copy.deepcopy(actor0), copy.deepcopy(critic0), obs, next_obs, reward,
                                     float(terminated), learner.config.entropy_coef, learner.config.gamma,
                                     scaler.sigma, 11, 12, critic_for_actor=stepped_critic)
    difference = max(float((g - w).abs().max()) for g, w in zip(_grads(learner.actor), stale_actor))
    assert difference > 1e-4

    # And the parameters moved by Adam(betas=(0, 0.999)) with those gradients.
    for module, start, grads, lr in ((learner.actor, actor0, ref_actor, learner.config.actor_lr),
                                     (learner.critic, critic0, ref_critic, learner.config.critic_lr)):
        for p, p0, g in zip(module.parameters(), start.parameters(), grads):
            step = lr * g / (g.abs() + 1e-8)  # first Adam step with beta1 = 0, bias-corrected
            torch.testing.assert_close(p.detach(), p0.detach() - step, atol=1e-6, rtol=1e-5)


def test_critic_learns_the_applied_action_when_safety_changed_it():
    learner = AVG(pendulum(), small_config(), device="cpu")
    obs, next_obs = torch.randn(1, 3), torch.randn(1, 3)
    applied = torch.tensor([[0.25]])
    actor0, critic0 = copy.deepcopy(learner.actor), copy.deepcopy(learner.critic)
    learner.generator.manual_seed(1)
    action, log_prob = learner._sample(obs)
    assert not torch.allclose(action, applied)
    learner.generator.manual_seed(2)
    learner.update(obs, action, log_prob, 0.3, False, False, next_obs, applied_action=applied)

    eta, gamma = learner.config.entropy_coef, learner.config.gamma
    with torch.no_grad():
        m, s = actor0(next_obs).chunk(2, -1)
        a2, lp2 = sample_tanh_gaussian(m, s, generator=torch.Generator().manual_seed(2))
        target = 0.3 + gamma * (critic0(torch.cat((next_obs, a2), -1)) - eta * lp2)
    loss = (target - critic0(torch.cat((obs, applied), -1))).pow(2).sum()  # sigma is 1 at the start
    for got, want in zip(_grads(learner.critic), torch.autograd.grad(loss, list(critic0.parameters()))):
        torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-4)


def test_critic_ignores_bootstrap_on_termination():
    learner = AVG(pendulum(), small_config(scale_td=False), device="cpu")
    obs = torch.randn(1, 3)
    next_a, next_b = torch.randn(1, 3), torch.randn(1, 3) * 5
    grads = []
    for next_obs in (next_a, next_b):
        clone = copy.deepcopy(learner)
        clone.generator.manual_seed(0)
        action, log_prob = clone._sample(obs)
        clone.update(obs, action, log_prob, 1.0, True, False, next_obs)
        grads.append(_grads(clone.critic))
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b)


# ---- config and spaces --------------------------------------------------------------------------------

def test_presets_and_yaml_files_agree():
    cfg = AVGConfig.from_preset("reacher")
    assert (cfg.actor_lr, cfg.critic_lr, cfg.entropy_coef, cfg.gamma) == (3e-6, 4.9e-3, 0.05, 0.97)
    assert AVGConfig.from_preset("finger_spin").beta1 == 0.9
    assert AVGConfig.from_preset("mujoco_default", seed=3).seed == 3
    with pytest.raises(ConfigError, match="unknown AVG preset"):
        AVGConfig.from_preset("nope")
    files = sorted(CONFIGS.glob("avg_*.yaml"))
    assert files, "configs/avg_*.yaml presets are missing"
    for path in files:
        preset = path.stem[len("avg_"):]
        assert preset in PRESETS, f"{path.name} has no matching preset"
        assert AVGConfig.from_yaml(path) == AVGConfig.from_preset(preset), path.name
        assert set(yaml.safe_load(path.read_text())) >= set(PRESETS[preset])


@pytest.mark.parametrize("field,value", [("actor_lr", 0.0), ("critic_lr", -1.0), ("gamma", 1.5),
                                         ("entropy_coef", -0.1), ("beta1", 1.0), ("hidden_size", 0)])
def test_bad_config_values_are_rejected(field, value):
    with pytest.raises(ConfigError, match=field):
        AVGConfig.from_dict({field: value})


def test_unknown_field_is_rejected():
    with pytest.raises(ConfigError, match="unknown field"):
        AVGConfig.from_dict({"learning_rate": 1e-3})


class _SpacesEnv(gym.Env):
    def __init__(self, observation_space, action_space):
        self.observation_space, self.action_space = observation_space, action_space


@pytest.mark.parametrize("obs_space,act_space,match", [
    (gym.spaces.Box(-1, 1, (3,)), gym.spaces.Discrete(3), "continuous"),
    (gym.spaces.Dict({"state": gym.spaces.Box(-1, 1, (3,)), "image": gym.spaces.Box(0, 255, (8, 8, 3), np.uint8)}),
     gym.spaces.Box(-1, 1, (2,)), "image"),
    (gym.spaces.Box(0, 255, (8, 8, 3), np.uint8), gym.spaces.Box(-1, 1, (2,)), "flat feature"),
    (gym.spaces.Box(-1, 1, (3,)), gym.spaces.Box(-2, 2, (2,)), "RescaleAction"),
])
def test_wrong_spaces_raise_config_error(obs_space, act_space, match):
    with pytest.raises(ConfigError, match=match):
        AVG(_SpacesEnv(obs_space, act_space), small_config(), device="cpu")


# ---- acting, export module, fail-safe -------------------------------------------------------------------

def test_policy_module_is_deterministic_frozen_and_matches_act():
    learner = AVG(pendulum(), small_config(), device="cpu")
    learner.train(120, progress=False)
    policy = learner.policy()
    assert isinstance(policy, AVGPolicy)
    obs = np.array([[0.3, -0.9, 4.0], [1.0, 0.0, -7.0]], dtype=np.float32)
    out = policy(torch.from_numpy(obs)).detach().numpy()
    assert out.shape == (2, 1) and np.all(np.abs(out) <= 1.0)
    np.testing.assert_allclose(out[0], learner.act(obs[0]), atol=1e-6)
    np.testing.assert_array_equal(learner.act(obs[0]), learner.act(obs[0]))  # deterministic
    # The normaliser inside is not the identity and does not follow further training.
    assert not torch.allclose(policy.normalizer(torch.from_numpy(obs)), torch.from_numpy(obs))
    learner.train(200, progress=False)
    np.testing.assert_array_equal(policy(torch.from_numpy(obs)).detach().numpy(), out)
    with pytest.raises(ValueError, match="shape"):
        learner.act(np.zeros(4))


class _CountingEnv(gym.Wrapper):
    def __init__(self, env):
        super().__init__(env)
        self.actions = []

    def step(self, action):
        self.actions.append(np.array(action))
        return self.env.step(action)


def test_diverged_networks_send_nothing_and_say_why():
    env = _CountingEnv(pendulum())
    learner = AVG(env, small_config(), device="cpu")
    learner.train(5, progress=False)
    with torch.no_grad():
        learner.actor.head.weight.fill_(float("nan"))
    sent = len(env.actions)
    with pytest.raises(FloatingPointError, match="non-finite action.*nothing was sent"):
        learner.train(10, progress=False)
    assert len(env.actions) == sent


# ---- checkpoints ------------------------------------------------------------------------------------------

def _assert_same_learner(a: AVG, b: AVG):
    for x, y in zip(list(a.actor.parameters()) + list(a.critic.parameters()),
                    list(b.actor.parameters()) + list(b.critic.parameters())):
        assert torch.equal(x, y)
    np.testing.assert_array_equal(a.obs_rms.mean, b.obs_rms.mean)
    np.testing.assert_array_equal(a.obs_rms.var, b.obs_rms.var)
    assert a.td_scaler.state_dict() == b.td_scaler.state_dict()
    assert (a.env_steps, a.episodes) == (b.env_steps, b.episodes)


def test_resume_from_checkpoint_replays_the_uninterrupted_run(tmp_path):
    learner = AVG(pendulum(), small_config(checkpoint_every=50), device="cpu")
    learner.train(100, run_dir=tmp_path, progress=False)  # ends on an episode boundary (50-step episodes)
    for name in ("checkpoint.pt", "metrics.csv", "learning_curve.png"):
        assert (tmp_path / name).is_file(), name
    assert list((tmp_path / "tensorboard").iterdir())
    resumed = Learner.load(tmp_path / "checkpoint.pt", pendulum(), device="cpu")
    assert isinstance(resumed, AVG)
    learner.train(175, progress=False)
    resumed.train(175, progress=False)
    _assert_same_learner(learner, resumed)


def test_mid_episode_checkpoint_gives_identical_next_update(tmp_path):
    learner = AVG(pendulum(), small_config(), device="cpu")
    learner.train(70, progress=False)
    learner.save(tmp_path / "mid.pt")
    resumed = AVG.load(tmp_path / "mid.pt", pendulum(), device="cpu")
    assert resumed.episodes == learner.episodes + 1  # the interrupted episode is closed, not replayed
    assert resumed.td_scaler.episode_return == 0.0
    obs, next_obs = torch.randn(1, 3), torch.randn(1, 3)
    for agent in (learner, resumed):
        action, log_prob = agent._sample(obs)
        agent.update(obs, action, log_prob, -1.5, False, False, next_obs)
    for x, y in zip(learner.optimizer.state_dict()["state"].values(),
                    resumed.optimizer.state_dict()["state"].values()):
        assert torch.equal(x["exp_avg_sq"], y["exp_avg_sq"])
    for x, y in zip(learner.critic.parameters(), resumed.critic.parameters()):
        assert torch.equal(x, y)
    for x, y in zip(learner.actor.parameters(), resumed.actor.parameters()):
        assert torch.equal(x, y)


def test_checkpoint_for_another_env_is_refused(tmp_path):
    from robolearn.learners.base import CheckpointError

    learner = AVG(pendulum(), small_config(), device="cpu")
    learner.save(tmp_path / "c.pt")
    other = gym.wrappers.RescaleAction(gym.make("MountainCarContinuous-v0"), -1.0, 1.0)
    with pytest.raises(CheckpointError, match="observation_space"):
        AVG.load(tmp_path / "c.pt", other, device="cpu")


def test_exported_onnx_policy_includes_the_normaliser(tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    learner = AVG(pendulum(), small_config(), device="cpu")
    learner.train(60, progress=False)
    path = tmp_path / "avg.onnx"
    torch.onnx.export(learner.policy(), (torch.zeros(1, 3),), str(path), dynamo=False,
                      input_names=["features"], output_names=["action"], dynamic_axes={"features": {0: "batch"}})
    session = onnxruntime.InferenceSession(str(path))
    raw = np.array([[0.5, 0.8, 3.0], [-1.0, 0.1, -6.0]], dtype=np.float32)
    out = session.run(None, {"features": raw})[0]
    for row, action in zip(raw, out):
        np.testing.assert_allclose(action, learner.act(row), atol=1e-5)


def test_periodic_evaluation_uses_a_separate_env_and_is_logged(tmp_path):
    env = pendulum()
    learner = AVG(env, small_config(eval_every=50, eval_episodes=2), device="cpu")
    summary = learner.train(100, run_dir=tmp_path, progress=False)
    assert summary["eval"] is not None and len(summary["eval"]["returns"]) == 2
    assert learner.evaluation_env() is not env and learner.evaluation_env().action_space == env.action_space
    rows = (tmp_path / "metrics.csv").read_text().splitlines()
    assert sum(",eval/return," in row for row in rows) == 2
    assert summary["episode_returns"] and all(np.isfinite(summary["episode_returns"]))


def test_divergence_keeps_the_last_good_checkpoint(tmp_path):
    learner = AVG(pendulum(), small_config(), device="cpu")
    learner.train(20, run_dir=tmp_path, progress=False)
    good = (tmp_path / "checkpoint.pt").read_bytes()
    with torch.no_grad():
        learner.critic.head.bias.fill_(float("inf"))
    with pytest.raises(FloatingPointError):
        learner.train(40, run_dir=tmp_path, progress=False)
    assert (tmp_path / "checkpoint.pt").read_bytes() == good
