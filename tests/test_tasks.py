"""Tasks: the figure-eight reference, feature layouts, rewards and terminations, and scripted experts
that beat a random controller on every task."""

from __future__ import annotations

import math

import numpy as np
import pytest

from robolearn.envs.registry import TASKS, make_env
from robolearn.spec import Observation
from robolearn.tasks import (
    FigureEightTask, GoalTask, ReachTask, cartpole_balance, figure_eight_reference, pendulum_balance,
)
from robolearn.tasks.balance import _discretise, cartpole_model, pendulum_model


# ---------------------------------------------------------------------------------- figure-eight
def test_figure_eight_reference_is_a_smooth_periodic_eight_through_the_origin():
    t = np.linspace(0.0, 22.0, 8001)
    pos, vel, acc = figure_eight_reference(t, radius=1.5, period=11.0)
    assert pos.shape == vel.shape == acc.shape == (t.size, 2)
    np.testing.assert_allclose(pos[0], [0.0, 0.0], atol=1e-12)
    assert vel[0, 0] > 0 and vel[0, 1] > 0  # leaves the centre up and to the right
    np.testing.assert_allclose(pos.min(axis=0), [-3.0, -0.9], atol=1e-3)
    np.testing.assert_allclose(pos.max(axis=0), [3.0, 0.9], atol=1e-3)
    # Crosses its centre twice per period, and repeats with the period.
    half, whole = np.searchsorted(t, 5.5), np.searchsorted(t, 11.0)
    np.testing.assert_allclose(pos[half], [0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(pos[whole], pos[0], atol=1e-9)
    np.testing.assert_allclose(vel[whole], vel[0], atol=1e-9)
    # Velocity and acceleration are the derivatives of position and velocity.
    dt = t[1] - t[0]
    np.testing.assert_allclose(np.gradient(pos, dt, axis=0)[1:-1], vel[1:-1], atol=2e-3)
    np.testing.assert_allclose(np.gradient(vel, dt, axis=0)[1:-1], acc[1:-1], atol=2e-3)
    # Drivable by a car: the tightest turn has a radius of about r / 2 (0.75 m), the car's minimum is 0.6 m.
    speed = np.linalg.norm(vel, axis=1)
    curvature = np.abs(vel[:, 0] * acc[:, 1] - vel[:, 1] * acc[:, 0]) / speed**3
    assert 1.0 / curvature.max() > 0.74
    assert 0.9 < speed.min() and speed.max() < 2.1  # m/s, within the car's 3 m/s


def test_figure_eight_reference_scalar_time_and_parameters():
    pos, vel, acc = figure_eight_reference(1.0, radius=2.0, period=4.0)
    assert pos.shape == vel.shape == acc.shape == (2,)
    w = 2 * math.pi / 4.0
    np.testing.assert_allclose(pos, [4.0 * math.sin(w), 1.2 * math.sin(2 * w)])
    np.testing.assert_allclose(acc, -np.array([w**2, 4 * w**2]) * pos)
    with pytest.raises(ValueError, match="radius > 0"):
        figure_eight_reference(0.0, radius=0.0)


# ---------------------------------------------------------------------------------------- balance
@pytest.mark.parametrize("factory, model", [(pendulum_balance, pendulum_model()), (cartpole_balance, cartpole_model())])
def test_lqr_expert_stabilises_the_linear_model(factory, model):
    task = factory()
    a, b = _discretise(*model, 1.0 / 60.0)
    assert np.max(np.abs(np.linalg.eigvals(a))) > 1.0  # upright is unstable on its own
    assert np.max(np.abs(np.linalg.eigvals(a - b @ task.gain))) < 1.0


def test_balance_terminates_only_when_the_pole_falls():
    task = pendulum_balance()
    upright = Observation(0.0, {"joint_pos": np.array([0.1]), "joint_vel": np.array([0.0])})
    fallen = Observation(0.0, {"joint_pos": np.array([-0.7]), "joint_vel": np.array([0.0])})
    still = task.evaluate(upright, np.array([0.0]), upright)
    assert not still.terminated and 0.9 < still.reward <= 1.0
    assert task.evaluate(upright, np.array([0.0]), fallen).terminated
    assert task.evaluate(upright, np.array([2.0]), upright).reward < still.reward  # effort costs
    assert np.isfinite(task.evaluate(upright, np.array([np.nan]), upright).reward)


# ----------------------------------------------------------------------------------- goal, reach
def test_goal_terminates_with_a_bonus_only_on_arrival():
    task = GoalTask()
    task.goal = np.array([1.0, 0.0])

    def at(x):
        return Observation(0.0, {"base_pose": np.array([x, 0.0, 0.0]), "base_twist": np.zeros(2)})

    far, near = task.evaluate(at(0.0), np.zeros(2), at(0.0)), task.evaluate(at(0.0), np.zeros(2), at(0.95))
    assert not far.terminated and far.reward < 0
    assert near.terminated and near.info["is_success"] and near.reward > far.reward


def test_reach_targets_are_reachable_and_inside_the_arms_workspace():
    task = ReachTask()
    rng = np.random.default_rng(0)
    obs = Observation(0.0, {"joint_pos": np.zeros(6), "joint_vel": np.zeros(6), "joint_effort": np.zeros(6)})
    from robolearn.safety import load_robot_limits

    limits = load_robot_limits("so101_arm")
    for _ in range(50):
        task.reset(obs, rng)
        assert np.all(task.target > limits.workspace_low) and np.all(task.target < limits.workspace_high)
        assert task.target[2] >= 0.05


# ----------------------------------------------------------------------------------------- experts
def _episode_returns(env, policy, seeds):
    base = env.unwrapped
    returns, infos = [], []
    for seed in seeds:
        obs, _ = env.reset(seed=seed)
        env.action_space.seed(seed)
        total, done = 0.0, False
        while not done:
            action = (base.task.expert_action(base.last_observation, base.robot.spec) if policy == "expert"
                      else env.action_space.sample())
            assert action.shape == env.action_space.shape and np.all(np.abs(action) <= 1.0)
            obs, reward, terminated, truncated, info = env.step(action)
            total += reward
            done = terminated or truncated
        returns.append(total)
        infos.append(info)
    return np.array(returns), infos


@pytest.mark.parametrize("entry", TASKS, ids=lambda e: e.short_name)
def test_scripted_expert_beats_random_on_every_task(entry):
    env = make_env(entry.id, max_episode_steps=min(entry.max_episode_steps, 200))
    try:
        expert, expert_infos = _episode_returns(env, "expert", seeds=[0, 1])
        random, _ = _episode_returns(env, "random", seeds=[0, 1])
    finally:
        env.close()
    assert expert.min() > random.max(), (expert, random)
    if entry.short_name == "ArmReach":
        assert all(info["is_success"] for info in expert_infos)
    if entry.short_name == "BaseGoal":
        assert all(info["is_success"] for info in expert_infos)
    if entry.short_name == "CarFigureEight":
        assert all(info["position_error"] < 0.2 for info in expert_infos)


def test_every_task_layout_matches_its_features():
    for entry in TASKS:
        env = make_env(entry.id)
        try:
            obs, _ = env.reset(seed=0)
            task, spec = env.unwrapped.task, env.unwrapped.robot.spec
            assert task.robot_name == entry.robot
            assert sum(size for _, size in task.feature_layout(spec)) == obs.shape[0] == task.feature_size(spec)
            assert obs.dtype == np.float32 and np.all(np.isfinite(obs))
        finally:
            env.close()


def test_policy_and_command_spaces_round_trip():
    env = make_env("CarFigureEight")
    try:
        env.reset(seed=0)
        base = env.unwrapped
        action = np.array([0.3, -0.6])
        command = base.task.action_to_command(action, base.last_observation, base.robot.spec)
        np.testing.assert_allclose(base.task.command_to_action(command, base.last_observation, base.robot.spec),
                                   action)
    finally:
        env.close()


def test_figure_eight_features_carry_the_phase_and_the_tracking_error():
    task = FigureEightTask()
    obs = Observation(0.0, {"base_pose": np.array([0.1, 0.0, 0.5]), "base_twist": np.zeros(2)})
    task.reset(obs, np.random.default_rng(0))
    later = Observation(task.period / 2, {"base_pose": np.array([3.0, 0.0, -0.5]), "base_twist": np.zeros(2)})
    layout = dict(task.feature_layout(None))
    assert list(layout) == ["position", "velocity", "position_error", "reference_velocity", "heading_cos_sin",
                            "phase_cos_sin"]
    f0, f1 = task.features(obs), task.features(later)
    np.testing.assert_allclose(f0[4:6], [-0.1, 0.0], atol=1e-6)  # reference at the origin
    np.testing.assert_allclose(f0[-2:], [1.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(f1[-2:], [-1.0, 0.0], atol=1e-6)  # half the eight done
    assert task.evaluate(obs, np.zeros(2), later).reward < task.evaluate(obs, np.zeros(2), obs).reward
