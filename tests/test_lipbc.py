"""Lipschitz-constrained behaviour cloning: the certificate holds after training, the clone balances,
checkpoints resume exactly, and bad configs or data fail with a clear error."""

from __future__ import annotations

import json
import math
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from robolearn.data import Transitions, collect_demonstrations
from robolearn.learners.base import CheckpointError, ConfigError, Learner, seed_everything
from robolearn.learners.lipbc import LipBCConfig, LipBCLearner, certificate_path
from robolearn.learners.run import evaluate_policy

FAST = dict(bound_starts=64, bound_steps=30, eval_episodes=0, log_every=50)


class TinyPendulum(gym.Env):
    """Inverted pendulum theta'' = 10 sin(theta) + 5 a, 50 Hz, a in [-1, 1]: small enough for fast tests.

    The torque limit makes the clipped linear expert a = clip(-(4 theta + omega)) a saturated controller,
    and any policy much flatter than it lets the pole fall: alpha matters here.
    """

    observation_space = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)
    action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    gain = np.array([4.0, 1.0])

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.state = self.np_random.uniform(-0.3, 0.3, 2)
        self.steps = 0
        return self.state.astype(np.float32), {}

    def step(self, action):
        a = float(np.clip(action[0], -1.0, 1.0))
        theta, omega = self.state
        omega = omega + 0.02 * (10.0 * np.sin(theta) + 5.0 * a)
        theta = theta + 0.02 * omega
        self.state = np.array([theta, omega])
        self.steps += 1
        fell = abs(theta) > 0.8
        reward = 1.0 - min(theta**2 + 0.1 * omega**2, 1.0)
        return self.state.astype(np.float32), reward, fell, self.steps >= 200 and not fell, {}

    @classmethod
    def expert(cls, obs) -> np.ndarray:
        return np.clip([-(cls.gain @ np.asarray(obs, dtype=np.float64))], -1.0, 1.0)


@pytest.fixture(scope="module")
def demos() -> Transitions:
    return collect_demonstrations(TinyPendulum(), episodes=10, expert=TinyPendulum.expert)


def make_learner(demos, **overrides) -> LipBCLearner:
    config = LipBCConfig.from_dict({**FAST, **overrides})
    return LipBCLearner(TinyPendulum(), config, device="cpu", demonstrations=demos)


def matrix_2norm(matrix: torch.Tensor) -> float:
    return float(torch.linalg.matrix_norm(matrix.detach().double(), ord=2))


@pytest.mark.parametrize("alpha", [0.5, 2.0, 8.0])
def test_certificate_holds_after_training(demos, alpha):
    learner = make_learner(demos, alpha=alpha)
    summary = learner.train(200, progress=False)
    cert = learner.certificate()
    assert summary["certificate"] == cert
    assert cert["alpha"] == alpha and cert["norm"] == "l2"
    assert 0.0 < cert["lower_bound"] <= cert["upper_bound"] <= alpha
    # The bound is that of the exported module, normaliser included, recomputed here from its weights.
    policy = learner.policy()
    layers = [m for m in policy.modules() if isinstance(m, torch.nn.Linear)]
    by_hand = matrix_2norm(layers[0].weight.double() * policy.input_scale.double()) * np.prod(
        [matrix_2norm(layer.weight) for layer in layers[1:]])
    assert cert["upper_bound"] == pytest.approx(by_hand, rel=1e-9)
    # A random raw-feature pair around the demonstrations never changes the action by more than UB.
    gen = torch.Generator().manual_seed(0)
    x = torch.as_tensor(demos.observations)[torch.randint(len(demos), (4000,), generator=gen)]
    y = x + 0.05 * torch.randn(x.shape, generator=gen)
    quotient = torch.linalg.vector_norm(policy(x) - policy(y), dim=1) / torch.linalg.vector_norm(x - y, dim=1)
    assert float(quotient.max()) <= cert["upper_bound"]
    assert float(quotient.max()) <= cert["lower_bound"] * (1 + 1e-6)  # the search beat random pairs


def test_binding_constraint_is_used_up_and_costs_imitation_accuracy(demos):
    tight = make_learner(demos, alpha=0.5)
    loose = make_learner(demos, alpha=8.0)
    tight.train(200, progress=False)
    loose.train(200, progress=False)
    # The expert's slope is about 4.1: alpha = 0.5 binds, and the clone goes as steep as it may.
    assert tight.certificate()["lower_bound"] >= 0.9 * 0.5
    assert tight.imitation_loss() > 10 * loose.imitation_loss()


@pytest.mark.slow
def test_clone_balances_like_the_expert_only_when_alpha_allows(demos):
    env = TinyPendulum()
    expert_return = evaluate_policy(env, TinyPendulum.expert, episodes=5)["return_mean"]
    results = {}
    for alpha in (0.5, 8.0):  # 300 gradient steps: alpha = 8 matches the expert from about 200 on
        learner = make_learner(demos, alpha=alpha, eval_episodes=5)
        results[alpha] = learner.train(300, progress=False)["eval"]["return_mean"]
    assert results[8.0] >= 0.97 * expert_return
    assert results[0.5] < 0.5 * expert_return


@pytest.mark.slow
def test_clone_balances_the_pybullet_pendulum():
    env = pytest.importorskip("robolearn.envs.registry").make_env("robolearn/PendulumBalance-v0")
    try:
        config = LipBCConfig.from_dict({**FAST, "alpha": 20.0, "demo_episodes": 5, "eval_episodes": 3})
        learner = LipBCLearner(env, config, device="cpu")
        summary = learner.train(300, progress=False)
        base = env.unwrapped
        expert = evaluate_policy(env, lambda _: base.task.expert_action(base._obs, base.robot.spec), 3)
        assert summary["eval"]["return_mean"] >= 0.95 * expert["return_mean"]
        assert summary["certificate"]["upper_bound"] <= 20.0
    finally:
        env.close()


def test_resume_from_checkpoint_is_bit_exact(demos, tmp_path):
    seed_everything(0)  # each run seeds where it starts (a learner never seeds the global RNGs itself)
    straight = make_learner(demos, alpha=2.0)
    straight.train(120, progress=False)

    seed_everything(0)
    first = make_learner(demos, alpha=2.0)
    first.train(60, progress=False)
    first.save(tmp_path / "half.pt")
    resumed = Learner.load(tmp_path / "half.pt", TinyPendulum(), device="cpu")
    assert isinstance(resumed, LipBCLearner) and resumed.steps == 60
    resumed.train(120, progress=False)
    for a, b in zip(straight.net.state_dict().values(), resumed.net.state_dict().values()):
        assert torch.equal(a, b)
    assert resumed.certificate() == straight.certificate()


def test_certificate_is_saved_in_checkpoint_and_json(demos, tmp_path):
    learner = make_learner(demos, alpha=1.0)
    learner.train(50, progress=False)
    sha = learner.save(tmp_path / "model.pt")
    sidecar = json.loads(certificate_path(tmp_path / "model.pt").read_text())
    cert = learner.certificate()
    assert sidecar["checkpoint_sha256"] == sha
    for key in ("alpha", "upper_bound", "lower_bound", "norm"):
        assert sidecar[key] == cert[key]
    loaded = LipBCLearner.load(tmp_path / "model.pt", TinyPendulum(), device="cpu")
    assert loaded.certificate() == cert


def test_checkpoint_with_weights_beyond_alpha_is_refused(demos, tmp_path):
    learner = make_learner(demos, alpha=1.0)
    learner.train(20, progress=False)
    with torch.no_grad():
        learner.net.layers[-1].weight.mul_(3.0)  # what an edited or corrupted file would hold
    path = tmp_path / "tampered.pt"
    Learner.save(learner, path)  # the base save: no certificate is computed for the edited weights
    with pytest.raises(ValueError, match="Lipschitz bound"):
        LipBCLearner.load(path, TinyPendulum(), device="cpu")


def test_training_writes_a_run_folder(demos, tmp_path):
    learner = make_learner(demos, alpha=2.0, checkpoint_every=40, eval_episodes=1)
    learner.train(80, run_dir=tmp_path, progress=False)
    for name in ("checkpoint.pt", "checkpoint.certificate.json", "metrics.csv", "learning_curve.png"):
        assert (tmp_path / name).is_file(), name
    assert "certificate/upper_bound" in (tmp_path / "metrics.csv").read_text()


def test_policy_module_is_deterministic_bounded_and_matches_act(demos):
    learner = make_learner(demos, alpha=8.0)
    learner.train(50, progress=False)
    policy = learner.policy()
    x = torch.randn(256, 2) * 100.0  # far outside the data: the clamp keeps actions in [-1, 1]
    out = policy(x)
    assert torch.equal(out, policy(x))
    assert float(out.abs().max()) <= 1.0
    np.testing.assert_allclose(learner.act(x.numpy()), out.numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="shape"):
        learner.act(np.zeros(3))
    # A NaN feature gives a NaN action, never a plausible number: RobotEnv and the safety layer stop on it.
    assert np.all(np.isnan(learner.act(np.array([np.nan, 0.0], np.float32))))


def test_demonstrations_from_an_npz_file(demos, tmp_path):
    demos.save(tmp_path / "demos.npz")
    config = LipBCConfig.from_dict({**FAST, "demonstrations": str(tmp_path / "demos.npz")})
    learner = LipBCLearner(TinyPendulum(), config, device="cpu")
    learner.train(10, progress=False)
    np.testing.assert_array_equal(learner.demo_obs.numpy(), demos.observations)


@pytest.mark.parametrize("values, match", [
    ({"alpha": 0.0}, "alpha"),
    ({"alpha": -1.0}, "alpha"),
    ({"alpha": math.inf}, "alpha"),
    ({"alpha": math.nan}, "alpha"),
    ({"alpha": "big"}, "alpha"),
    ({"hidden_sizes": [63]}, "even"),
    ({"hidden_sizes": []}, "hidden_sizes"),
    ({"activation": "elu"}, "activation"),
    ({"projection": "power"}, "projection"),
    ({"learning_rate": 0.0}, "learning_rate"),
    ({"batch_size": 0}, "batch_size"),
    ({"alpah": 1.0}, "unknown field"),
])
def test_bad_config_is_rejected(values, match):
    with pytest.raises(ConfigError, match=match):
        LipBCConfig.from_dict(values)


def test_bad_demonstrations_are_rejected(demos, tmp_path):
    n = len(demos)

    def with_(**arrays) -> Transitions:
        base = dict(observations=demos.observations, actions=demos.actions, rewards=demos.rewards,
                    next_observations=demos.next_observations, terminated=demos.terminated,
                    truncated=demos.truncated)
        base.update(arrays)
        return Transitions(**base)

    empty = Transitions(*(np.zeros((0, 2), np.float32) for _ in range(2)), np.zeros(0, np.float32),
                        np.zeros((0, 2), np.float32), np.zeros(0, bool), np.zeros(0, bool))
    with pytest.raises(ValueError, match="empty"):
        make_learner(empty)
    wide = np.zeros((n, 3), np.float32)
    with pytest.raises(ValueError, match="another task"):
        make_learner(with_(observations=wide, next_observations=wide))
    with pytest.raises(ValueError, match="actions have shape"):
        make_learner(with_(actions=np.zeros((n, 2), np.float32)))
    with pytest.raises(ValueError, match="policy space"):
        make_learner(with_(actions=demos.actions * 5.0))
    with pytest.raises(FileNotFoundError, match="not found"):
        config = LipBCConfig.from_dict({**FAST, "demonstrations": str(tmp_path / "missing.npz")})
        LipBCLearner(TinyPendulum(), config, device="cpu").train(1, progress=False)
    with pytest.raises(ConfigError, match="no scripted expert"):
        LipBCLearner(TinyPendulum(), LipBCConfig.from_dict(FAST), device="cpu").train(1, progress=False)
    learner = make_learner(demos)
    learner.train(1, progress=False)
    with pytest.raises(RuntimeError, match="fixed once training"):
        learner.set_demonstrations(demos)


def test_image_observations_are_refused():
    class ImageEnv(TinyPendulum):
        observation_space = gym.spaces.Dict({"state": TinyPendulum.observation_space,
                                             "image": gym.spaces.Box(0, 255, (8, 8, 3), np.uint8)})

    with pytest.raises(ConfigError, match="flat feature vector"):
        LipBCLearner(ImageEnv(), LipBCConfig.from_dict(FAST), device="cpu")


def test_registered_and_loadable_by_name(demos, tmp_path):
    assert Learner.registry["lipbc"] is LipBCLearner
    learner = make_learner(demos)
    learner.save(tmp_path / "m.pt")

    class OtherSpaces(TinyPendulum):
        observation_space = gym.spaces.Box(-np.inf, np.inf, (3,), np.float32)

    with pytest.raises(CheckpointError, match="does not match"):
        Learner.load(tmp_path / "m.pt", OtherSpaces(), device="cpu")


CONFIGS = sorted((Path(__file__).parents[1] / "configs").glob("lipbc*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_are_valid(path):
    config = LipBCConfig.from_yaml(path)
    assert config.alpha > 0 and config.demonstrations == ""
    assert len(CONFIGS) >= 2
