"""The learner's own time per env step, against the robot's control period, in every training run."""

from __future__ import annotations

import csv
import warnings

import gymnasium as gym
import numpy as np
import pytest

import robolearn  # noqa: F401  (registers the robolearn/* ids)
from robolearn.learners.avg import AVG, AVGConfig
from robolearn.learners.compute_budget import ComputeBudget, control_period_of
from robolearn.learners.sac import SAC, SACConfig


def test_summary_percentiles_and_deadline_share_match_hand_computed_values():
    budget = ComputeBudget(control_period_s=0.050, learner="avg")
    for ms in range(1, 101):
        budget.add(ms / 1000)
    with pytest.warns(RuntimeWarning, match=r"99\.0 ms per step at the 99th percentile, longer than the robot's "
                                             r"50\.0 ms control period"):
        summary = budget.summary()
    # 1..100 ms: median 50.5, 99th percentile 1 + 0.99 * 99 = 99.01, and 50 of 100 steps over 50 ms.
    assert summary["time/learner_ms_p50"] == pytest.approx(50.5)
    assert summary["time/learner_ms_p99"] == pytest.approx(99.01)
    assert summary["time/over_control_period"] == pytest.approx(0.5)
    assert budget.summary() == {}  # each summary starts a new window
    for _ in range(10):
        budget.add(0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once per run, not at every log point
        assert budget.summary()["time/over_control_period"] == 1.0


def test_without_a_robot_there_is_no_deadline_and_no_warning():
    budget = ComputeBudget(control_period_s=None, learner="sac")
    budget.add(10.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        summary = budget.summary()
    assert summary == {"time/learner_ms_p50": 10_000.0, "time/learner_ms_p99": 10_000.0}


def test_control_period_comes_from_the_robot_behind_the_env():
    env = gym.make("robolearn/PendulumBalance-v0")
    assert control_period_of(env) == pytest.approx(env.unwrapped.robot.spec.control_period_s)
    assert control_period_of(gym.make("Pendulum-v1")) is None


def read_metrics(run_dir) -> dict[str, list[float]]:
    series: dict[str, list[float]] = {}
    with open(run_dir / "metrics.csv") as handle:
        for row in csv.DictReader(handle):
            series.setdefault(row["name"], []).append(float(row["value"]))
    return series


@pytest.mark.parametrize("make", [
    lambda env: AVG(env, AVGConfig.from_preset("pendulum_balance", log_every=100, eval_every=0), "cpu"),
    lambda env: SAC(env, SACConfig(critic_ensemble=2, hidden_sizes=[32, 32], batch_size=16, utd=1,
                                   learning_starts=50, demos="none", log_every=100, eval_every=10**9), "cpu"),
], ids=["avg", "sac"])
def test_training_logs_the_learner_time_per_step_against_the_control_period(tmp_path, make):
    env = gym.make("robolearn/PendulumBalance-v0")
    learner = make(env)
    learner.train(300, run_dir=tmp_path, progress=False)
    metrics = read_metrics(tmp_path)
    p50, p99 = np.array(metrics["time/learner_ms_p50"]), np.array(metrics["time/learner_ms_p99"])
    assert len(p50) >= 2 and (p50 > 0).all() and (p99 >= p50).all()
    share = np.array(metrics["time/over_control_period"])
    assert ((share >= 0) & (share <= 1)).all()
