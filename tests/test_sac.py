import csv
import dataclasses
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from robolearn.learners.base import CheckpointError, ConfigError, Learner, seed_everything
from robolearn.learners.replay import ReplayBuffer
from robolearn.learners.sac import SAC, SACConfig

TINY = dict(critic_ensemble=4, hidden_sizes=[32, 32], batch_size=32, utd=2, learning_starts=50,
            eval_every=10**9, demos="none")


def pendulum():
    return gym.wrappers.RescaleAction(gym.make("Pendulum-v1"), -1.0, 1.0)


def tiny_sac(env=None, **overrides) -> SAC:
    return SAC(env or pendulum(), SACConfig(**{**TINY, **overrides}), "cpu")


def parameters(learner: SAC) -> dict[str, torch.Tensor]:
    out = {}
    for prefix, module in (("actor", learner.actor), ("critic", learner.critic), ("target", learner.critic_target)):
        out.update({f"{prefix}.{k}": v.detach().clone() for k, v in module.state_dict().items()})
    out["log_alpha"] = learner.log_alpha.detach().clone()
    return out


def assert_same_parameters(a: SAC, b: SAC) -> None:
    pa, pb = parameters(a), parameters(b)
    assert pa.keys() == pb.keys()
    for name in pa:
        assert torch.equal(pa[name], pb[name]), f"{name} differs"


def test_config_rejects_unknown_and_out_of_range_fields(tmp_path):
    with pytest.raises(ConfigError, match="critic_ensembel"):
        SACConfig.from_dict({"critic_ensembel": 10})
    with pytest.raises(ConfigError, match="critic_subsample"):
        SACConfig.from_dict({"critic_ensemble": 2, "critic_subsample": 3})
    with pytest.raises(ConfigError, match="demo_fraction"):
        SACConfig.from_dict({"demo_fraction": 1.0})
    with pytest.raises(ConfigError, match="hidden_sizes"):
        SACConfig.from_dict({"hidden_sizes": [256, -1]})
    with pytest.raises(ConfigError, match="utd"):
        SACConfig.from_dict({"utd": "four"})
    with pytest.raises(ConfigError, match="encoder_weights"):
        SACConfig.from_dict({"encoder": "frozen"})
    with pytest.raises(ConfigError, match="does not exist"):
        SACConfig.from_yaml(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("gamma: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        SACConfig.from_yaml(tmp_path / "bad.yaml")


CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_shipped_configs_are_valid():
    configs = sorted(CONFIGS.glob("sac*.yaml"))
    assert configs, "configs/sac*.yaml missing"
    for path in configs:
        SACConfig.from_yaml(path)


def test_actions_outside_the_unit_box_are_refused_with_the_fix():
    with pytest.raises(ConfigError, match="RescaleAction"):
        SAC(gym.make("Pendulum-v1"), SACConfig(**TINY), "cpu")


def test_target_is_min_over_two_distinct_random_members():
    learner = tiny_sac(critic_ensemble=10, critic_subsample=2, gamma=1.0)
    # Make target member i a constant function equal to i, so the target reveals which members were used.
    with torch.no_grad():
        last = learner.critic_target.q.net[-1]
        last.weight.zero_()
        last.bias.copy_(torch.arange(10.0).view(10, 1, 1))
    buffer = ReplayBuffer(4, 3, 1)
    buffer.add(np.zeros(3), np.zeros(1), 0.0, np.zeros(3), terminated=False, truncated=True)
    batch = buffer.gather(np.zeros(1, dtype=int))
    torch.manual_seed(0)
    targets = [float(learner.td_target(batch)[0]) for _ in range(400)]
    # Two distinct members of 0..9: the min is never 9 (drawing with replacement would give 9 one time in 100)
    # and follows P(min = m) = (9 - m) / 45.
    assert max(targets) <= 8.0 and set(targets) <= set(range(9))
    counts = np.bincount(np.array(targets, dtype=int), minlength=9)
    expected = 400 * (9 - np.arange(9)) / 45
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected) + 2)
    # A truncated transition bootstraps; a terminated one does not.
    buffer.add(np.zeros(3), np.zeros(1), 1.5, np.zeros(3), terminated=True, truncated=False)
    assert float(learner.td_target(buffer.gather(np.array([1])))[0]) == 1.5


def test_learner_batches_split_between_demo_and_online_buffers():
    learner = tiny_sac(batch_size=64, demo_fraction=0.25)
    for value, buffer in ((0.0, learner.online), (1.0, learner.demo_buffer)):
        for _ in range(100):
            buffer.add(np.full(3, value), np.zeros(1), 0.0, np.zeros(3), False, False)
    batch = learner.sample_batch()
    assert len(batch) == 64 and int(batch.observations[:, 0].sum()) == 16


def test_demonstrations_from_a_file_fill_the_demo_buffer(tmp_path):
    from robolearn.data.transitions import Transitions

    n = 30
    demos = Transitions(np.ones((n, 3), np.float32), np.zeros((n, 1), np.float32), np.ones(n, np.float32),
                        np.ones((n, 3), np.float32), np.zeros(n, bool), np.zeros(n, bool))
    demos.save(tmp_path / "demos.npz")
    learner = tiny_sac(demos=str(tmp_path / "demos.npz"), learning_starts=10)
    learner.train(20, progress=False)
    assert len(learner.demo_buffer) == n and len(learner.online) == 20
    with pytest.raises(FileNotFoundError, match="not found"):
        tiny_sac(demos=str(tmp_path / "missing.npz")).train(1, progress=False)


# SERL's recipe, and SB3's (configs/sac_sb3.yaml: actor on the min of 2 plain ReLU critics, entropy backup).
SB3_LIKE = dict(critic_ensemble=2, actor_q="min", backup_entropy=True, layer_norm=False)


@pytest.mark.parametrize("overrides", [{}, SB3_LIKE], ids=["serl", "sb3"])
def test_checkpoint_resume_gives_exactly_the_uninterrupted_run(tmp_path, overrides):
    # Pendulum-v1 episodes last 200 steps, so step 200 is an episode boundary: the resumed run starts the
    # same (seeded) episode the uninterrupted run starts there.
    # Each run seeds where it starts (a learner never seeds the global RNGs itself).
    seed_everything(3)
    straight = tiny_sac(seed=3, **overrides)
    straight.train(300, progress=False)

    seed_everything(3)
    first = tiny_sac(seed=3, **overrides)
    first.train(200, progress=False)
    first.save(tmp_path / "ckpt.pt")
    resumed = Learner.load(tmp_path / "ckpt.pt", pendulum(), "cpu")
    assert isinstance(resumed, SAC) and resumed.env_steps == 200
    resumed.train(300, progress=False)

    assert resumed.updates == straight.updates > 0
    assert_same_parameters(straight, resumed)
    # ... and the next update (fresh batches, target members, action noise) is identical too. Both learners
    # share this process's torch RNG, so each starts its update from the same RNG state.
    rng = torch.get_rng_state()
    straight.update()
    torch.set_rng_state(rng)
    resumed.update()
    assert_same_parameters(straight, resumed)
    for name in ("exp_avg", "exp_avg_sq"):
        a = straight.critic_optimizer.state_dict()["state"][0][name]
        assert torch.equal(a, resumed.critic_optimizer.state_dict()["state"][0][name])


def test_checkpoint_bad_input_errors(tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable"):
        Learner.load(garbage, pendulum())
    with pytest.raises(CheckpointError, match="does not exist"):
        Learner.load(tmp_path / "missing.pt", pendulum())
    learner = tiny_sac()
    learner.save(tmp_path / "ckpt.pt")
    other = gym.wrappers.RescaleAction(gym.make("MountainCarContinuous-v0"), -1.0, 1.0)
    with pytest.raises(CheckpointError, match="observation_space"):
        SAC.load(tmp_path / "ckpt.pt", other)


def test_policy_module_is_deterministic_tanh_mean_matching_act():
    learner = tiny_sac()
    learner.train(60, progress=False)
    policy = learner.policy()
    obs = np.array([0.3, -0.9, 2.0], np.float32)
    out = policy(torch.as_tensor(obs)[None])
    assert out.shape == (1, 1) and torch.all(out.abs() <= 1)
    np.testing.assert_allclose(out[0].detach().numpy(), learner.act(obs, deterministic=True), atol=1e-6)
    # Changing the learner afterwards does not change an exported policy.
    learner.train(120, progress=False)
    assert torch.equal(policy(torch.as_tensor(obs)[None]), out)


def test_nan_observation_is_refused():
    learner = tiny_sac()
    with pytest.raises(ValueError, match="NaN"):
        learner.act(np.array([np.nan, 0.0, 0.0], np.float32))


def test_sb3_preset_uses_two_critics_without_layer_norm():
    config = SACConfig.from_yaml(CONFIGS / "sac_sb3.yaml")
    learner = SAC(pendulum(), dataclasses.replace(config, buffer_size=1000), "cpu")
    assert learner.critic.q.members == 2 and learner.target_member_indices() is None
    assert not any(isinstance(m, torch.nn.LayerNorm) for m in learner.actor.modules())
    assert learner.target_entropy == -1.0


def test_training_logs_the_last_updates_losses_and_stops_on_a_non_finite_one(tmp_path):
    learner = tiny_sac(seed=2, log_every=100)
    learner.train(300, run_dir=tmp_path, progress=False)
    with open(tmp_path / "metrics.csv") as handle:
        logged: dict[str, list[float]] = {}
        for row in csv.DictReader(handle):
            logged.setdefault(row["name"], []).append(float(row["value"]))
    names = ("train/critic_loss", "train/q_mean", "train/actor_loss", "train/entropy")
    assert all(len(logged[name]) == 3 and np.isfinite(logged[name]).all() for name in names)
    # Step 300 is the last update, so the last logged values are that update's.
    last = learner.training_metrics()
    for name in names:
        assert logged[name][-1] == pytest.approx(last[name], rel=1e-6)
    assert last["train/critic_loss"] >= 0.0
    q, error = learner._last_critic
    learner._last_critic = (q, torch.full_like(error, float("nan")))
    with pytest.raises(FloatingPointError, match="critic_loss became nan: training diverged"):
        learner.training_metrics()
