"""Fine-tuning from another run's checkpoint (`Learner.init_from`, `robolearn train --init-from`): SAC and AVG
keep what transfers to new dynamics (weights, temperature, normalisers), reset what does not (replay data,
optimiser moments, counters), say which, and refuse checkpoints that cannot fit."""

import gymnasium as gym
import numpy as np
import pytest
import torch
import yaml

from robolearn.cli import main
from robolearn.learners.avg import AVG, AVGConfig
from robolearn.learners.base import CheckpointError, ConfigError, Learner, load_checkpoint
from robolearn.learners.sac import SAC, SACConfig
from robolearn.training import make_env

SAC_TINY = {"critic_ensemble": 2, "hidden_sizes": [32, 32], "batch_size": 32, "utd": 1, "learning_starts": 40,
            "demo_episodes": 1, "eval_every": 1000, "eval_episodes": 1, "checkpoint_every": 1000}


def pendulum(max_steps: int = 40) -> gym.Env:
    return gym.wrappers.RescaleAction(gym.make("Pendulum-v1", max_episode_steps=max_steps), -1.0, 1.0)


def _trained(learner, steps: int, path) -> None:
    learner.train(steps, run_dir=None, progress=False)
    learner.save(path)


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_sac_keeps_networks_and_temperature_and_resets_data(tmp_path):
    source = SAC(pendulum(), SACConfig(**{**SAC_TINY, "demos": "none", "temperature_lr": 1e-2}), "cpu")
    _trained(source, 80, tmp_path / "sim.pt")
    assert len(source.online) == 80 and source.updates > 0

    target = SAC(pendulum(), SACConfig(**{**SAC_TINY, "demos": "none", "seed": 7}), "cpu")
    assert not _same_weights(target.actor, source.actor)  # the check below can fail
    start = target.init_from(tmp_path / "sim.pt")
    assert _same_weights(target.actor, source.actor) and _same_weights(target.critic, source.critic)
    assert _same_weights(target.critic_target, source.critic_target)
    assert target.alpha == pytest.approx(source.alpha) and source.alpha != pytest.approx(1e-2)
    assert len(target.online) == 0 and target.env_steps == 0 and target.updates == 0
    assert not target.critic_optimizer.state  # fresh Adam moments
    assert start.source_steps == 80
    assert any("actor" in k for k in start.kept) and any("temperature" in k for k in start.kept)
    assert any("online replay buffer (80 transitions" in r for r in start.reset)
    # The fine-tuned run acts like the source policy before it has learned anything new.
    obs, _ = target.env.reset(seed=3)
    np.testing.assert_array_equal(target.act(obs), source.act(obs))


def test_avg_keeps_networks_and_normalisers_and_resets_the_optimiser(tmp_path):
    config = AVGConfig(hidden_size=32, eval_every=0, actor_lr=1e-3, critic_lr=1e-3, entropy_coef=0.1)
    source = AVG(pendulum(), config, "cpu")
    _trained(source, 60, tmp_path / "sim.pt")
    assert source.obs_rms.count > 1

    target = AVG(pendulum(), AVGConfig(**{**config.to_dict(), "seed": 3}), "cpu")
    start = target.init_from(tmp_path / "sim.pt")
    assert _same_weights(target.actor, source.actor) and _same_weights(target.critic, source.critic)
    np.testing.assert_array_equal(target.obs_rms.mean, source.obs_rms.mean)
    assert target.obs_rms.count == source.obs_rms.count
    assert target.td_scaler.sigma == pytest.approx(source.td_scaler.sigma)
    assert not target.optimizer.state and target.env_steps == 0 and target.episodes == 0
    assert any("observation normaliser" in k for k in start.kept)
    assert any("optimiser" in r for r in start.reset)
    obs, _ = target.env.reset(seed=5)
    np.testing.assert_array_equal(target.act(obs), source.act(obs))
    target.train(20, run_dir=None, progress=False)  # and it trains on from there
    assert target.env_steps == 20


def test_init_from_refuses_what_cannot_fit(tmp_path):
    sac = SAC(pendulum(), SACConfig(**{**SAC_TINY, "demos": "none"}), "cpu")
    sac.save(tmp_path / "sac.pt")
    with pytest.raises(CheckpointError, match="'sac' learner, not 'avg'"):
        AVG(pendulum(), AVGConfig(hidden_size=32, eval_every=0), "cpu").init_from(tmp_path / "sac.pt")
    wider = SAC(pendulum(), SACConfig(**{**SAC_TINY, "demos": "none", "hidden_sizes": [48, 48]}), "cpu")
    with pytest.raises(CheckpointError, match="drop --config"):
        wider.init_from(tmp_path / "sac.pt")
    other_task = SAC(make_env("PendulumBalance"), SACConfig(**{**SAC_TINY, "demos": "none"}), "cpu")
    with pytest.raises(CheckpointError, match="observation_space"):
        other_task.init_from(tmp_path / "sac.pt")
    other_task.env.close()
    # Learners without a fine-tuning rule (fpg, lipbc) say which ones have one.
    with pytest.raises(ConfigError, match="supported by: sac, avg"):
        Learner.load_for_fine_tuning(sac, {})


def test_cli_init_from_prints_what_it_keeps_and_resets(tmp_path, capsys):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(SAC_TINY))
    common = ["--device", "cpu", "--no-progress", "--eval-episodes", "0"]
    assert main(["train", "PendulumBalance", "--config", str(config), "--steps", "60", "--run-dir",
                 str(tmp_path / "sim"), *common]) == 0
    capsys.readouterr()
    source = tmp_path / "sim" / "checkpoint.pt"
    # No --config: the checkpoint's own config (same network sizes) is used.
    assert main(["train", "PendulumBalance", "--init-from", str(source), "--steps", "50", "--run-dir",
                 str(tmp_path / "robot"), *common]) == 0
    out = capsys.readouterr().out
    assert f"fine-tuning from {source} (trained 60 steps)" in out
    assert "kept:  actor, critic ensemble" in out and "reset: online replay buffer (60 transitions" in out
    data = load_checkpoint(tmp_path / "robot" / "checkpoint.pt")
    assert data["state"]["counters"]["env_steps"] == 50 and data["config"]["hidden_sizes"] == [32, 32]

    assert main(["train", "PendulumBalance", "--init-from", str(source), "--steps", "80", "--run-dir",
                 str(tmp_path / "robot"), "--resume", *common]) == 1
    assert "use one of them" in capsys.readouterr().err
    assert main(["train", "PendulumBalance", "--algo", "avg", "--init-from", str(source), "--steps", "10",
                 "--run-dir", str(tmp_path / "avg"), *common]) == 1
    assert "--algo sac" in capsys.readouterr().err
