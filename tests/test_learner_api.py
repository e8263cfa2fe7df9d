"""The shared learner API: config validation, devices, checkpoints refusing bad files."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from robolearn.learners.base import (
    CheckpointError, ConfigError, LearnerConfig, load_checkpoint, resolve_device, save_checkpoint,
)


@dataclasses.dataclass
class ToyConfig(LearnerConfig):
    lr: float = 1e-3
    hidden: tuple = (64, 64)
    layer_norm: bool = True

    def validate(self) -> None:
        super().validate()
        if not 0 < self.lr <= 1:
            raise ConfigError(f"lr must be in (0, 1], got {self.lr}")


def test_config_from_dict_coerces_and_validates():
    config = ToyConfig.from_dict({"lr": 1, "hidden": [32, 32], "seed": 3})
    assert config.hidden == (32, 32) and config.seed == 3
    assert isinstance(config.lr, float) and config.lr == 1.0
    with pytest.raises(ConfigError, match=r"unknown field\(s\) \['lrr'\]"):
        ToyConfig.from_dict({"lrr": 0.1})
    with pytest.raises(ConfigError, match="lr must be in"):
        ToyConfig.from_dict({"lr": 5.0})
    with pytest.raises(ConfigError, match="layer_norm: expected true/false"):
        ToyConfig.from_dict({"layer_norm": "yes"})
    with pytest.raises(ConfigError, match="seed: expected an integer"):
        ToyConfig.from_dict({"seed": 1.5})


def test_config_yaml_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        ToyConfig.from_yaml(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("lr: [1, 2")
    with pytest.raises(ConfigError, match="not valid YAML"):
        ToyConfig.from_yaml(bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- lr\n")
    with pytest.raises(ConfigError, match="mapping"):
        ToyConfig.from_yaml(listy)


def test_devices():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda")
    with pytest.raises(ConfigError, match="not valid"):
        resolve_device("tpu:7")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA GPU"):
            resolve_device("cuda:0")


def test_checkpoint_round_trip_and_refusals(tmp_path):
    path = tmp_path / "ckpt.pt"
    digest = save_checkpoint(path, {"algo": "toy", "state": {"w": torch.ones(3)}})
    data = load_checkpoint(path)
    assert data["sha256"] == digest and torch.equal(data["state"]["w"], torch.ones(3))
    assert not (tmp_path / "ckpt.pt.tmp").exists()

    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "none.pt")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable robolearn checkpoint"):
        load_checkpoint(garbage)
    foreign = tmp_path / "foreign.pt"
    torch.save({"model": 1}, foreign)
    with pytest.raises(CheckpointError, match="not a robolearn checkpoint"):
        load_checkpoint(foreign)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(path.read_bytes()[:50])
    with pytest.raises(CheckpointError):
        load_checkpoint(truncated)
