"""Robustness report (`robolearn eval <policy> --perturb <sweep>`): its numbers are those of a direct rollout on
the perturbed sim, for the scripted expert and for the policy (checkpoint and ONNX); sweeps from presets
and files; bad input named."""

import csv
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import yaml

import robolearn  # noqa: F401  (registers the tasks)
from robolearn.cli import main
from robolearn.learners.base import Learner
from robolearn.learners.sac import SAC, SACConfig
from robolearn.sim2real.robustness import NOMINAL, SweepError, load_sweep, robustness_report
from robolearn.training import make_env
from robolearn_sim import Perturbation

PENDULUM = "robolearn/PendulumBalance-v0"
CONFIGS = Path(__file__).resolve().parents[1] / "configs"
TINY = dict(critic_ensemble=2, hidden_sizes=[16, 16], demos="none")


@pytest.fixture(scope="module")
def pendulum_checkpoint(tmp_path_factory):
    """An untrained SAC policy: weak, so a perturbation visibly changes what it does."""
    path = tmp_path_factory.mktemp("policy") / "checkpoint.pt"
    env = make_env("PendulumBalance")
    SAC(env, SACConfig(**TINY), "cpu").save(path)
    env.close()
    return path


def _direct_rollout(perturbation: Perturbation, controller, episodes: int, seed: int) -> dict:
    """The report's quantities computed by hand on an env made straight from the sim's API."""
    env = gym.make(PENDULUM, perturbation=perturbation)
    act = controller(env)
    returns, clips, stops = [], 0, 0
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, info = env.step(act(obs))
            total += reward
            stops += info["safety_stopped"]
            clips += bool(info["safety"]) and not info["safety_stopped"]
            done = terminated or truncated
        returns.append(total)
    env.close()
    return {"return_mean": np.mean(returns), "return_std": np.std(returns), "clips": clips, "stops": stops}


def _expert(env):
    base = env.unwrapped
    return lambda _obs: base.task.expert_action(base.last_observation, base.robot.spec)


def test_report_matches_a_direct_rollout_under_latency(pendulum_checkpoint):
    report = robustness_report(pendulum_checkpoint, "servo_lag", episodes=2, seed=5)
    assert [(r.perturbation, r.controller) for r in report.rows] == [
        (NOMINAL, "policy"), (NOMINAL, "expert"), ("servo_lag", "policy"), ("servo_lag", "expert")]
    lag = Perturbation(action_latency_steps=2)  # what the robot's servo_lag preset stands for
    for name, perturbation in ((NOMINAL, Perturbation()), ("servo_lag", lag)):
        expected = _direct_rollout(perturbation, _expert, episodes=2, seed=5)
        row = report.row(name, "expert")
        assert row.return_mean == pytest.approx(expected["return_mean"], rel=1e-9)
        # Latency is no sensor error: the true state is what was measured, so both returns agree.
        assert row.true_return_mean == pytest.approx(expected["return_mean"], rel=1e-9)
        assert row.true_return_std == pytest.approx(expected["return_std"], rel=1e-9, abs=1e-12)
        assert (row.safety_clips, row.safety_stops) == (expected["clips"], expected["stops"])
    learner = {}

    def policy(env):
        learner.setdefault("l", Learner.load(pendulum_checkpoint, env, "cpu"))
        return learner["l"].act

    expected = _direct_rollout(lag, policy, episodes=2, seed=5)
    assert report.row("servo_lag", "policy").return_mean == pytest.approx(expected["return_mean"], rel=1e-9)
    # The perturbation matters (the comparisons above could fail), and retention is relative to nominal.
    nominal, lagged = report.row(NOMINAL, "expert"), report.row("servo_lag", "expert")
    assert lagged.return_mean != pytest.approx(nominal.return_mean, rel=1e-6)
    assert lagged.retention == pytest.approx(lagged.true_return_mean / nominal.true_return_mean)
    assert nominal.retention == pytest.approx(1.0)


def test_true_return_is_not_flattered_by_a_calibration_error():
    """The arm's expert reaches the target in its measured (offset) joint space: the task's reward, computed
    from the measurement, calls that success; the true state is 0.1 rad per joint away from it."""
    from robolearn.data.transitions import scripted_expert
    from robolearn.sim2real.robustness import evaluate_under

    offset = {"perturbation": {"encoder_offset": 0.1}}
    nominal = evaluate_under("ArmReach", {"perturbation": {}}, scripted_expert, image=False, episodes=2, seed=3)
    offset_run = evaluate_under("ArmReach", offset, scripted_expert, image=False, episodes=2, seed=3)
    assert nominal["true_return_mean"] == pytest.approx(nominal["return_mean"], rel=1e-9)
    assert nominal["true_success_rate"] == nominal["success_rate"] == 1.0
    assert offset_run["return_mean"] > 0.9 * nominal["return_mean"]  # what the robot would report
    assert offset_run["true_return_mean"] < 0.5 * offset_run["return_mean"]  # what happened
    assert offset_run["true_success_rate"] < offset_run["success_rate"]


def test_a_terminal_bonus_is_counted_once_when_the_truth_ends_the_episode_first():
    """BaseGoal ends with a +10 bonus when the base is within 10 cm of the goal. With readings 2 steps late
    the true base gets there 2 steps before the measured one: the true episode ends there, and its bonus is
    counted once (the steps until the measured episode ends score nothing), not once per step in the goal."""
    from robolearn.data.transitions import scripted_expert
    from robolearn.sim2real.robustness import evaluate_under
    from robolearn.tasks.goal import GoalTask

    stale = evaluate_under("BaseGoal", {"perturbation": {"measurement_latency_steps": 2}}, scripted_expert,
                           image=False, episodes=3, seed=5)
    assert stale["success_rate"] == stale["true_success_rate"] == 1.0
    # The true return is the measured one less the 2 extra steps' distance costs (at most a few tenths here);
    # counting the bonus on each step in the goal would add 10 per step of latency.
    assert stale["true_return_mean"] <= stale["return_mean"] + 0.5
    assert stale["true_return_mean"] > stale["return_mean"] - 0.5 * GoalTask.success_bonus


def test_onnx_policy_scores_as_its_checkpoint(tmp_path, pendulum_checkpoint):
    from robolearn.export.onnx_export import export_checkpoint

    onnx = tmp_path / "policy.onnx"
    export_checkpoint(pendulum_checkpoint, onnx)
    from_onnx = robustness_report(onnx, "weak_gains", episodes=1, with_expert=False)
    from_checkpoint = robustness_report(pendulum_checkpoint, "weak_gains", episodes=1, with_expert=False)
    assert from_onnx.task == PENDULUM and len(from_onnx.rows) == 2
    for a, b in zip(from_onnx.rows, from_checkpoint.rows):
        assert a.true_return_mean == pytest.approx(b.true_return_mean, rel=1e-3)


def test_sweeps_from_presets_and_files(tmp_path):
    sweep = load_sweep("servo_lag, heavy", "ArmReach")
    assert list(sweep) == [NOMINAL, "servo_lag", "heavy"]
    assert sweep["servo_lag"] == {"perturbation": Perturbation(action_latency_steps=2).to_dict()}
    assert len(load_sweep("all", "ArmReach")) > 5
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({"robot": "so101_arm", "sweep": {
        "lag3": {"perturbation": {"action_latency_steps": 3}}, "slow": "servo_lag",
        "heavier": {"ranges": {"mass_scale": [1.2, 1.6]}}}}, sort_keys=False))
    sweep = load_sweep(path, "ArmReach")
    assert list(sweep) == [NOMINAL, "lag3", "slow", "heavier"]
    assert sweep["lag3"]["perturbation"]["action_latency_steps"] == 3
    assert sweep["heavier"]["ranges"]["mass_scale"] == [1.2, 1.6]

    shipped = load_sweep(CONFIGS / "robustness_arm.yaml", "ArmReach")  # the README's and the bench's sweep
    assert shipped["servo_lag_3"] == {"perturbation": Perturbation(action_latency_steps=3).to_dict()}
    with pytest.raises(SweepError, match="unknown perturbation preset 'laggy'.*servo_lag"):
        load_sweep("laggy", "ArmReach")
    with pytest.raises(SweepError, match="for robot 'so101_arm', the task's robot is 'pendulum'"):
        load_sweep(path, "PendulumBalance")
    path.write_text(yaml.safe_dump({"sweep": {"light": {"perturbation": {"mass_scale": -1.0}}}}))
    with pytest.raises(SweepError, match="'light'.*mass_scale"):
        load_sweep(path, "ArmReach")
    path.write_text(yaml.safe_dump({"sweep": {"forever": {"perturbation": {"action_latency_steps": 100}}}}))
    with pytest.raises(SweepError, match="'forever'.*not shorter than the episode"):
        load_sweep(path, "ArmReach")  # refused before anything runs
    single = tmp_path / "lag4.yaml"  # one perturbation file is a sweep of one
    single.write_text(yaml.safe_dump({"perturbation": {"action_latency_steps": 4}}))
    assert load_sweep(single, "ArmReach")["lag4"]["perturbation"]["action_latency_steps"] == 4
    path.write_text("servo_lag: 1\n")
    with pytest.raises(SweepError, match="expected `sweep:`"):
        load_sweep(path, "ArmReach")


def test_cli_writes_the_report(tmp_path, pendulum_checkpoint, capsys):
    out = tmp_path / "report"
    assert main(["eval", str(pendulum_checkpoint), "--perturb", "stale_sensors", "--episodes", "1",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "stale_sensors" in printed and "retention" in printed
    with open(out / "robustness.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["perturbation"], r["controller"]) for r in rows] == [
        (NOMINAL, "policy"), (NOMINAL, "expert"), ("stale_sensors", "policy"), ("stale_sensors", "expert")]
    assert "| stale_sensors | expert |" in (out / "robustness.md").read_text()
    assert (out / "robustness.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    assert main(["eval", str(pendulum_checkpoint), "--perturb", "nonsense"]) == 1
    assert "presets" in capsys.readouterr().err
    onnx = tmp_path / "p.onnx"
    onnx.write_bytes(b"")
    assert main(["eval", str(onnx)]) == 1
    assert "--perturb" in capsys.readouterr().err
