"""Checkpoints cannot run code, whatever is hidden in them, and every entry point that reads one says so."""

import os
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
import torch

import robolearn  # noqa: F401  (registers the envs)
from robolearn.learners.base import CheckpointError, Learner, learner_class, load_checkpoint
from robolearn.learners.checkpoint import CHECKPOINT_NAME, decode, encode, upgrade_checkpoint

TASK = "robolearn/PendulumBalance-v0"
TINY = {"critic_ensemble": 2, "hidden_sizes": [16, 16], "batch_size": 8, "learning_starts": 8, "utd": 1,
        "demo_episodes": 0, "eval_every": 1000, "eval_episodes": 0}


class _Marker:
    """Unpickling this creates a file: the proof that code ran."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def _trained_checkpoint(path):
    env = gym.make(TASK)
    cls = learner_class("sac")
    learner = cls(env, cls.config_class.from_dict(TINY), "cpu")
    learner.train(20, progress=False)
    learner.save(path)
    env.close()
    return path


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "robolearn", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_numpy_state_round_trips_through_the_safe_encoding():
    rng = np.random.default_rng(3)
    tree = {"buffer": rng.normal(size=(4, 3)).astype(np.float32), "flags": np.array([True, False]),
            "state": np.random.get_state(), "scalar": np.float64(2.5), "nested": [np.arange(5, dtype=np.int16)]}
    back = decode(encode(tree))
    assert back["buffer"].dtype == np.float32 and np.array_equal(back["buffer"], tree["buffer"])
    assert back["flags"].dtype == bool and back["flags"].tolist() == [True, False]
    assert back["state"][0] == "MT19937" and np.array_equal(back["state"][1], tree["state"][1])
    assert back["scalar"] == 2.5 and back["nested"][0].dtype == np.int16
    with pytest.raises(TypeError, match="cannot be stored"):
        encode({"bad": object()})


def test_a_crafted_pickle_runs_nothing_and_says_why(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    torch.save({"format": "robolearn-checkpoint", "version": 2, "x": _Marker(marker)}, evil)
    with pytest.raises(CheckpointError, match="can run code") as info:
        load_checkpoint(evil)
    assert "posix.system" in str(info.value) or "os.system" in str(info.value)
    assert not marker.exists()


def test_a_payload_hidden_in_a_valid_checkpoint_is_refused_by_every_command(tmp_path):
    checkpoint = _trained_checkpoint(tmp_path / "run" / CHECKPOINT_NAME)
    data = torch.load(checkpoint, weights_only=True)  # the real file, read safely
    marker = tmp_path / "pwned"
    data["state"]["counters"] = {"env_steps": _Marker(marker)}
    torch.save(data, checkpoint)
    for args in (["eval", str(checkpoint), "--episodes", "1"],
                 ["export", str(checkpoint), "-o", str(tmp_path / "p.onnx")],
                 ["train", TASK, "--run-dir", str(checkpoint.parent), "--resume", "--steps", "40", "--no-progress"]):
        result = _cli(*args, cwd=tmp_path)
        assert result.returncode in (1, 2), (args, result.stderr)
        assert "can run code" in result.stderr and "Traceback" not in result.stderr, (args, result.stderr)
        assert not marker.exists(), args


def test_an_old_pickled_checkpoint_is_refused_then_upgraded_by_its_owner(tmp_path):
    checkpoint = _trained_checkpoint(tmp_path / CHECKPOINT_NAME)
    data = decode(torch.load(checkpoint, weights_only=True))
    data["version"] = 1
    torch.save(data, checkpoint)  # version 1 stored numpy objects as pickles
    with pytest.raises(CheckpointError, match="--upgrade"):
        load_checkpoint(checkpoint)
    upgrade_checkpoint(checkpoint)
    env = gym.make(TASK)
    learner = Learner.load(checkpoint, env, "cpu")
    assert learner.env_steps == 20
    env.close()


def test_non_finite_weights_are_never_loaded_for_eval_or_export(tmp_path):
    checkpoint = _trained_checkpoint(tmp_path / "run" / CHECKPOINT_NAME)
    data = torch.load(checkpoint, weights_only=True)
    actor = next(key for key in data["state"] if "actor" in key)
    tensors = [value for value in data["state"][actor].values() if isinstance(value, torch.Tensor)]
    tensors[0].fill_(float("nan"))
    torch.save(data, checkpoint)
    env = gym.make(TASK)
    with pytest.raises(CheckpointError, match="non-finite weights"):
        Learner.load(checkpoint, env, "cpu")
    env.close()
    for args in (["eval", str(checkpoint), "--episodes", "1"],
                 ["export", str(checkpoint), "-o", str(tmp_path / "p.onnx")]):
        result = _cli(*args, cwd=tmp_path)
        assert result.returncode == 1 and "non-finite weights" in result.stderr, (args, result.stderr)
        assert "stochastic" not in result.stderr


def test_missing_keys_and_directories_get_messages_not_key_errors(tmp_path):
    checkpoint = _trained_checkpoint(tmp_path / "run" / CHECKPOINT_NAME)
    data = torch.load(checkpoint, weights_only=True)
    del data["rng"]
    torch.save(data, checkpoint)
    env = gym.make(TASK)
    with pytest.raises(CheckpointError, match="lacks rng"):
        Learner.load(checkpoint, env, "cpu")
    env.close()
    with pytest.raises(CheckpointError, match="is a directory"):
        load_checkpoint(tmp_path / "run")
