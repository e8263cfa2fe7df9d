import pytest
import torch
import yaml

from robolearn.cli import main
from robolearn.learners.base import load_checkpoint

TINY = {"critic_ensemble": 2, "hidden_sizes": [32, 32], "batch_size": 32, "utd": 1, "learning_starts": 50,
        "demo_episodes": 1, "eval_every": 100, "eval_episodes": 1, "checkpoint_every": 100}


@pytest.fixture
def tiny_config(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return path


def test_train_then_eval_on_the_balance_task(tmp_path, tiny_config, capsys):
    run_dir = tmp_path / "run"
    rc = main(["train", "PendulumBalance", "--algo", "sac", "--config", str(tiny_config), "--steps", "150",
               "--run-dir", str(run_dir), "--seed", "4", "--device", "cpu", "--no-progress", "--eval-episodes", "1"])
    assert rc == 0
    for name in ("checkpoint.pt", "metrics.csv", "learning_curve.png"):
        assert (run_dir / name).is_file(), name
    assert list((run_dir / "tensorboard").iterdir())
    data = load_checkpoint(run_dir / "checkpoint.pt")
    assert data["algo"] == "sac" and data["config"]["seed"] == 4 and data["state"]["counters"]["env_steps"] == 150
    assert data["env_id"] == "robolearn/PendulumBalance-v0"
    assert data["state"]["demo_buffer"]["size"] > 0  # the task's scripted expert filled the demo buffer

    capsys.readouterr()
    assert main(["eval", str(run_dir / "checkpoint.pt"), "--episodes", "2"]) == 0
    out = capsys.readouterr().out
    assert "mean return" in out and "std" in out

    # Resuming continues the same run up to the new total.
    assert main(["train", "PendulumBalance", "--config", str(tiny_config), "--steps", "200", "--run-dir",
                 str(run_dir), "--resume", "--device", "cpu", "--no-progress", "--eval-episodes", "0"]) == 0
    assert load_checkpoint(run_dir / "checkpoint.pt")["state"]["counters"]["env_steps"] == 200


def test_train_refuses_to_overwrite_a_run_without_resume(tmp_path, tiny_config, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    torch.save({}, run_dir / "checkpoint.pt")
    assert main(["train", "Pendulum-v1", "--config", str(tiny_config), "--steps", "10", "--run-dir",
                 str(run_dir), "--no-progress"]) == 1
    assert "--resume" in capsys.readouterr().err


def test_unknown_algo_lists_the_known_ones(capsys):
    assert main(["train", "Pendulum-v1", "--algo", "ppo", "--steps", "10"]) == 1
    err = capsys.readouterr().err
    assert "ppo" in err and "sac" in err and "avg" in err


def test_unknown_task_and_bad_config_say_what_is_wrong(tmp_path, capsys):
    assert main(["train", "NoSuchTask", "--steps", "10", "--run-dir", str(tmp_path / "r")]) == 1
    assert "PendulumBalance" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("critic_ensemble: 0\n")
    assert main(["train", "Pendulum-v1", "--config", str(bad), "--steps", "10", "--run-dir",
                 str(tmp_path / "r")]) == 1
    assert "critic_ensemble" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "missing.pt")]) == 1
    assert "does not exist" in capsys.readouterr().err
