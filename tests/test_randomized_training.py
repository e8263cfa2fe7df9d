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


def test_cli_trains_on_an_actuator_model_and_eval_and_the_report_use_the_recorded_one(tmp_path, capsys):
    """`--actuator sts3215`: the arm's joints are serial-bus servos that sag under load, recorded in the
    checkpoint; a resume must repeat it, and `robolearn eval` (plain and --perturb) evaluates on that robot
    unless told otherwise."""
    from robolearn.data.transitions import scripted_expert
    from robolearn.sim2real.robustness import evaluate_under, robustness_report

    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    run_dir = tmp_path / "run"
    common = ["--device", "cpu", "--no-progress", "--eval-episodes", "0", "--run-dir", str(run_dir)]
    assert main(["train", "ArmReach", "--config", str(config), "--actuator", "sts3215", "--steps", "30",
                 *common]) == 0
    checkpoint = run_dir / "checkpoint.pt"
    assert load_checkpoint(checkpoint)["env_options"]["actuator"] == "sts3215"
    capsys.readouterr()
    assert main(["train", "ArmReach", "--steps", "40", "--resume", *common]) == 1
    err = capsys.readouterr().err
    assert "env option actuator" in err and "--actuator" in err

    assert main(["eval", str(checkpoint), "--episodes", "1"]) == 0
    assert "with the sts3215 actuator model" in capsys.readouterr().out
    # The report's expert row is the expert on the servo arm, not on the ideal motors.
    report = robustness_report(checkpoint, "nominal", episodes=1, seed=7)
    on_servos = evaluate_under("ArmReach", {"perturbation": {}}, scripted_expert, image=False, episodes=1, seed=7,
                               actuator="sts3215")
    ideal = evaluate_under("ArmReach", {"perturbation": {}}, scripted_expert, image=False, episodes=1, seed=7)
    assert report.actuator == "sts3215" and "sts3215" in report.markdown()
    assert report.row("nominal", "expert").true_return_mean == pytest.approx(on_servos["true_return_mean"])
    assert on_servos["true_return_mean"] != pytest.approx(ideal["true_return_mean"])


def test_an_actuator_the_robot_does_not_have_is_refused_with_the_choices():
    with pytest.raises(ConfigError, match="PendulumBalance has no actuator models.*sts3215"):
        make_env("PendulumBalance", actuator="sts3215")
    with pytest.raises(ValueError, match="unknown servo 'bogus'"):
        make_env("ArmReach", actuator="bogus")
