"""The `fpg` learner on the shared learner API, against the real PyBullet tasks."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

import robolearn  # noqa: F401  (registers the robolearn/ ids)
from robolearn.control import lqr_for_model
from robolearn.learners.base import ConfigError, Learner, seed_everything
from robolearn.learners.fpg import FpgConfig, FpgLearner
from robolearn.models import ModelError

torch.set_num_threads(1)


@pytest.fixture
def pendulum_env():
    env = gym.make("robolearn/PendulumBalance-v0", max_episode_steps=120)
    yield env
    env.close()


def test_config_is_validated():
    assert FpgConfig.from_dict({"optimizer": "adam", "window": 10}).window == 10
    for bad, message in (({"optimizer": "rmsprop"}, "optimizer must be one of"), ({"window": 0}, "window > 0"),
                         ({"learning_rate": -1.0}, "learning_rate must be > 0"),
                         ({"model_param_scale": 0.0}, "model_param_scale > 0"), ({"hidden": [64, 0]}, "hidden"),
                         ({"speed_time_constant": -0.1}, "speed_time_constant >= 0")):
        with pytest.raises(ConfigError, match=message):
            FpgConfig.from_dict(bad)


def test_fpg_is_registered_and_refuses_envs_without_a_model():
    assert Learner.registry["fpg"] is FpgLearner
    plain = gym.make("Pendulum-v1")
    with pytest.raises(ConfigError, match="needs a robolearn RobotEnv"):
        FpgLearner(plain)
    arm = gym.make("robolearn/ArmReach-v0")
    try:
        with pytest.raises(ModelError, match=r"no approximate model for robot 'so101_arm'.*supported robots"):
            FpgLearner(arm)
    finally:
        arm.close()


def test_untrained_policy_is_the_nominal_lqr_through_the_task_scaling(pendulum_env):
    learner = FpgLearner(pendulum_env, FpgConfig(model_param_scale=0.5))
    base = pendulum_env.unwrapped
    gain = lqr_for_model(learner.problem.model, np.diag([10.0, 1.0]), np.eye(1) * 0.1)
    obs, _ = pendulum_env.reset(seed=3)
    for _ in range(20):
        torque = np.clip(-gain @ obs.astype(np.float64), -2.0, 2.0)
        expected = base.task.command_to_action(torque, base._obs, base.robot.spec)
        action = learner.act(obs)
        np.testing.assert_allclose(action, expected, atol=1e-6)
        exported = learner.policy()(torch.as_tensor(obs).unsqueeze(0)).squeeze(0).detach().numpy()
        np.testing.assert_allclose(exported, action, atol=1e-6)
        obs, *_ = pendulum_env.step(action)


def test_car_features_map_to_the_measured_state_and_task_time():
    env = gym.make("robolearn/CarFigureEight-v0", max_episode_steps=50)
    try:
        learner = FpgLearner(env, FpgConfig())
        base, problem = env.unwrapped, learner.problem
        obs, _ = env.reset(seed=7)
        for _ in range(30):
            obs, *_ = env.step(learner.act(obs))
        x, t = problem.state_and_time(torch.as_tensor(obs, dtype=torch.float64).unsqueeze(0))
        raw = base._obs
        np.testing.assert_allclose(x[0, :3].numpy(), raw["base_pose"], atol=1e-5)
        np.testing.assert_allclose(float(x[0, 3]), raw["base_twist"][0], atol=1e-5)
        elapsed = raw.timestamp - base.task.start_time
        assert float(t[0]) == pytest.approx(elapsed % base.task.period, abs=1e-4)
        u = torch.tensor([[0.3, -0.7]], dtype=torch.float64)  # command <-> model input round trip
        torch.testing.assert_close(problem.model_input(x, problem.command(x, u)), u)
    finally:
        env.close()


def test_checkpoint_resume_continues_exactly(tmp_path, pendulum_env):
    config = FpgConfig(learning_rate=0.05, window=20, optimizer="adam", seed=4)
    seed_everything(4)  # each run seeds where it starts (a learner never seeds the global RNGs itself)
    straight = FpgLearner(pendulum_env, config)
    straight.train(240, progress=False)  # two rollouts of 120 steps
    seed_everything(4)
    first = FpgLearner(pendulum_env, config)
    first.train(120, run_dir=tmp_path / "run", progress=False)
    resumed = Learner.load(tmp_path / "run" / "checkpoint.pt", pendulum_env)
    assert isinstance(resumed, FpgLearner) and (resumed.steps, resumed.updates) == (120, 1)
    resumed.train(240, progress=False)
    for a, b in zip(straight.feedback_policy.parameters(), resumed.feedback_policy.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert (tmp_path / "run" / "metrics.csv").read_text().count("train/tracking_cost") == 1
    assert any((tmp_path / "run" / "tensorboard").iterdir())


@pytest.mark.slow
def test_fpg_improves_car_tracking_in_pybullet_with_a_half_wrong_model():
    env = gym.make("robolearn/CarFigureEight-v0", max_episode_steps=200)
    try:
        learner = FpgLearner(env, FpgConfig(model_param_scale=0.5, optimizer="sgd", learning_rate=3e-3,
                                            window=40, skip=20, seed=0))
        nominal_rollout, nominal = learner.collect_rollout(seed=100)
        learner.train(200 * 8, progress=False)
        _, learned = learner.collect_rollout(seed=100)
        assert learned["tracking_cost"] < 0.75 * nominal["tracking_cost"], (nominal, learned)
    finally:
        env.close()


@pytest.mark.slow
def test_fpg_policy_exports_to_onnx_with_parity(tmp_path, pendulum_env):
    from robolearn.export.onnx_export import export_policy

    learner = FpgLearner(pendulum_env, FpgConfig())
    with torch.no_grad():  # a policy whose corrections are not zero, so the network is part of the graph
        for param in learner.feedback_policy.net.out.parameters():
            param.normal_(0, 0.1)
    result = export_policy(learner.policy(), pendulum_env.unwrapped, tmp_path / "fpg.onnx", algo="fpg",
                           parity_samples=32)
    assert result.parity.passed and (tmp_path / "fpg.onnx").is_file()
