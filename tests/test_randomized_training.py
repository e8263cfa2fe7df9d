"""Training with randomisation (`robolearn train ... --randomize <preset|file>`): the training env's robot is
perturbed afresh at every reset, the choice is recorded in the checkpoint, and a resume must repeat it."""

import pytest
import yaml

from robolearn.cli import main
from robolearn.learners.base import ConfigError, load_checkpoint
from robolearn.training import make_env, randomisation_document
from robolearn_sim import PerturbationRanges, presets

TINY = {"critic_ensemble": 2, "hidden_sizes": [16, 16], "batch_size": 16, "utd": 1, "learning_starts": 20,
        "demo_episodes": 1, "eval_every": 1000, "eval_episodes": 1, "checkpoint_every": 1000}


def test_randomised_env_draws_a_new_robot_every_reset():
    env = make_env("PendulumBalance", randomize="strong")
    try:
        robot = env.unwrapped.robot
        assert isinstance(robot.config.perturbation, PerturbationRanges)
        drawn = []
        for seed in (0, 1, 0):
            env.reset(seed=seed)
            drawn.append(robot.perturbation)
        assert drawn[0] != drawn[1] and drawn[0] == drawn[2]  # reproducible by seed
        assert env.spec.kwargs["perturbation"] == {"ranges": presets("pendulum")["strong"].to_dict()}
    finally:
        env.close()


def test_randomize_refuses_what_it_cannot_apply(tmp_path):
    with pytest.raises(ConfigError, match="'Pendulum-v1' is not one"):
        make_env("Pendulum-v1", randomize="mild")
    with pytest.raises(ValueError, match="unknown perturbation preset 'wobbly'.*mild"):
        randomisation_document("ArmReach", "wobbly")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"ranges": {"mass_scale": [-0.5, 1.0]}}))
    with pytest.raises(ValueError, match="mass_scale"):
        randomisation_document("ArmReach", bad)


def test_cli_records_randomisation_and_resume_checks_it(tmp_path, capsys):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    ranges = tmp_path / "ranges.yaml"
    ranges.write_text(yaml.safe_dump({"robot": "pendulum", "ranges": {"mass_scale": [0.8, 1.2],
                                                                        "action_latency_steps": [0, 1]}}))
    run_dir = tmp_path / "run"
    common = ["--device", "cpu", "--no-progress", "--eval-episodes", "0", "--run-dir", str(run_dir)]
    assert main(["train", "PendulumBalance", "--config", str(config), "--randomize", str(ranges),
                 "--steps", "40", *common]) == 0
    recorded = load_checkpoint(run_dir / "checkpoint.pt")["env_options"]
    assert recorded["perturbation"]["ranges"]["mass_scale"] == [0.8, 1.2]
    assert recorded["perturbation"]["ranges"]["action_latency_steps"] == [0, 1]
    capsys.readouterr()

    assert main(["train", "PendulumBalance", "--steps", "60", "--resume", *common]) == 1
    err = capsys.readouterr().err
    assert "env option perturbation" in err and "--randomize" in err
    assert main(["train", "PendulumBalance", "--randomize", "mild", "--steps", "60", "--resume", *common]) == 1
    assert "env option perturbation" in capsys.readouterr().err
    assert main(["train", "PendulumBalance", "--randomize", str(ranges), "--steps", "60", "--resume", *common]) == 0
    assert load_checkpoint(run_dir / "checkpoint.pt")["steps"] == 60


def test_randomize_is_refused_where_it_would_not_reach_the_simulators(tmp_path, capsys):
    pytest.importorskip("ray")
    for extra in (["--workers", "2"], ["--seeds", "0,1"]):
        assert main(["train", "PendulumBalance", "--randomize", "mild", *extra, "--steps", "10", "--run-dir",
                     str(tmp_path / "r")]) == 1
        assert "--randomize is not passed on to Ray workers or sweep runs" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
