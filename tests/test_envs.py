"""The gymnasium side: every robolearn id is registered by `import robolearn`, passes gymnasium's checker,
passes keyword arguments through to the robot, and an off-the-shelf learner (SB3) can learn on it."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import robolearn  # noqa: F401  (registers the ids)
from robolearn.envs.registry import TASKS, build_env, make_env, task_entry
from robolearn.safety.controller import NONFINITE
from robolearn_sim import ROBOTS

IDS = [entry.id for entry in TASKS]


def test_the_task_table_names_five_tasks_on_known_robots():
    assert IDS == ["robolearn/ArmReach-v0", "robolearn/BaseGoal-v0", "robolearn/CarFigureEight-v0",
                   "robolearn/PendulumBalance-v0", "robolearn/CartPoleBalance-v0"]
    for entry in TASKS:
        assert entry.robot in ROBOTS and entry.max_episode_steps > 0 and entry.description
        assert entry.make_task().robot_name == entry.robot


@pytest.mark.parametrize("env_id", IDS)
def test_gymnasium_checker_passes(env_id):
    env = gym.make(env_id)
    try:
        assert env.spec.max_episode_steps == task_entry(env_id).max_episode_steps
        check_env(env.unwrapped, skip_render_check=True)
    finally:
        env.close()


def test_gymnasium_checker_passes_with_camera_images():
    env = gym.make("robolearn/PendulumBalance-v0", image=True)
    try:
        check_env(env.unwrapped, skip_render_check=True)
        obs, _ = env.reset(seed=0)
        assert set(obs) == {"state", "image"}
        assert obs["image"].dtype == np.uint8 and obs["image"].shape == env.unwrapped.robot.spec.image_shape
        assert env.render().shape == obs["image"].shape
    finally:
        env.close()


def test_keyword_arguments_reach_the_robot():
    env = gym.make("robolearn/CartPoleBalance-v0", perturbation="servo_lag", seed=5)
    try:
        config = env.unwrapped.robot.config
        assert (config.perturbation.action_latency_steps, config.seed) == (2, 5)
    finally:
        env.close()
    env = gym.make("robolearn/BaseGoal-v0", walls=[])
    try:
        assert env.unwrapped.robot.walls == ()
    finally:
        env.close()


def test_time_limit_comes_from_gymnasium_and_can_be_changed():
    env = gym.make("robolearn/ArmReach-v0", max_episode_steps=7)
    try:
        env.reset(seed=0)
        flags = [env.step(np.zeros(6))[3] for _ in range(7)]
        assert flags == [False] * 6 + [True]
    finally:
        env.close()


def test_same_seed_same_episode_through_the_env():
    def episode(seed):
        env = make_env("PendulumBalance")
        try:
            obs, _ = env.reset(seed=seed)
            env.action_space.seed(0)
            out = [obs]
            for _ in range(20):
                out.append(env.step(env.action_space.sample())[0])
            return np.array(out)
        finally:
            env.close()

    np.testing.assert_array_equal(episode(3), episode(3))
    assert not np.array_equal(episode(3), episode(4))


def test_nan_action_is_stopped_and_reported_in_info():
    env = make_env("CartPoleBalance")
    try:
        env.reset(seed=0)
        _, _, _, _, info = env.step(np.array([np.nan], dtype=np.float32))
        assert info["safety_stopped"] and NONFINITE in info["safety"]
        assert np.all(info["applied_command"] == 0.0)
        assert env.unwrapped.robot.safety.counts[NONFINITE] == 1
    finally:
        env.close()


def test_make_env_accepts_short_names_and_rejects_unknown_ones():
    env = make_env("ArmReach")
    try:
        assert env.spec.id == "robolearn/ArmReach-v0"
    finally:
        env.close()
    with pytest.raises(ValueError, match="unknown robolearn task 'Humanoid'.*robolearn/ArmReach-v0"):
        make_env("Humanoid")
    with pytest.raises(ValueError, match="known tasks"):
        build_env("robolearn/Nope-v0")


def test_image_on_a_robot_without_a_camera_option_is_refused():
    from robolearn.envs.robot_env import RobotEnv
    from robolearn.tasks import pendulum_balance
    from robolearn_sim import make_robot

    with pytest.raises(ValueError, match="no camera"):
        RobotEnv(make_robot("pendulum"), pendulum_balance(), image=True)


@pytest.mark.slow
def test_stable_baselines3_ppo_learns_to_balance_the_cartpole():
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.evaluation import evaluate_policy

    torch.set_num_threads(1)
    env, eval_env = make_env("CartPoleBalance"), make_env("CartPoleBalance")
    try:
        model = PPO("MlpPolicy", env, n_steps=512, batch_size=128, n_epochs=5, learning_rate=1e-3, gamma=0.98,
                    seed=0, device="cpu", policy_kwargs=dict(net_arch=[32, 32]))
        before, _ = evaluate_policy(model, eval_env, n_eval_episodes=5, deterministic=True)
        model.learn(4096)
        after, _ = evaluate_policy(model, eval_env, n_eval_episodes=5, deterministic=True)
    finally:
        env.close()
        eval_env.close()
    # Untrained: the pole falls within ~1 s (return ~45 of 300). Trained: it stays up most of the episode.
    assert before < 100
    assert after > 200 and after > 3 * before, (before, after)


def test_demo_command_prints_returns_and_interventions(capsys):
    from robolearn.cli import main

    assert main(["demo", "--tasks", "PendulumBalance", "--episodes", "1", "--seed", "3"]) == 0
    table = capsys.readouterr().out.splitlines()
    rows = {line.split()[1]: line for line in table if line.startswith("PendulumBalance ")}
    assert set(rows) == {"expert", "random"}
    expert_return = float(rows["expert"].split()[2])
    random_return = float(rows["random"].split()[2])
    assert expert_return > random_return
    assert main(["demo", "--tasks", "NoSuchTask"]) == 1
    assert "known tasks" in capsys.readouterr().err
