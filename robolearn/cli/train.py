"""`robolearn train <task> --algo sac|avg|fpg|lipbc`: train a learner, checkpointing into a run folder.

Examples:
    robolearn train robolearn/PendulumBalance-v0 --algo sac --steps 5000
    robolearn train ArmReach --algo sac --config configs/sac.yaml --run-dir runs/reach --seed 1
    robolearn train ArmReach --algo sac --run-dir runs/reach --steps 40000 --resume   # continue a run
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import gymnasium as gym
import numpy as np

from robolearn.learners.base import KNOWN_ALGOS, ConfigError, Learner, learner_class

CHECKPOINT_NAME = "checkpoint.pt"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task", help="task id or short name (robolearn/ArmReach-v0 or ArmReach) or any "
                                     "gymnasium id with a Box action space")
    parser.add_argument("--algo", default="sac", help=f"learner: one of {', '.join(KNOWN_ALGOS)} (default sac)")
    parser.add_argument("--config", help="YAML file of config fields (see configs/); defaults otherwise")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
    parser.add_argument("--steps", type=int, default=50_000, help="total env steps, resumed steps included")
    parser.add_argument("--run-dir", help="run folder for checkpoint, TensorBoard, metrics.csv and "
                                          "learning_curve.png (default runs/<task>-<algo>-seed<S>)")
    parser.add_argument("--resume", action="store_true", help=f"continue from <run-dir>/{CHECKPOINT_NAME}")
    parser.add_argument("--seed", type=int, help="overrides the config's seed")
    parser.add_argument("--image", action="store_true", help="observe camera frames too (state + image)")
    parser.add_argument("--reward-classifier", help="replace the reward with this success classifier's verdict "
                                                    "(needs --image)")
    parser.add_argument("--eval-episodes", type=int, default=5, help="evaluation episodes after training")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def make_env(task: str, image: bool = False, reward_classifier: str | None = None) -> gym.Env:
    """A robolearn task by id or short name, or any gymnasium id; actions rescaled to [-1, 1]."""
    from robolearn.envs.registry import make_env as make_task_env

    kwargs = {"image": True} if image else {}
    try:
        env = make_task_env(task, **kwargs)
    except ValueError as robolearn_error:
        if image:
            raise
        try:
            env = gym.make(task)
        except gym.error.Error:
            raise robolearn_error from None
        space = env.action_space
        if isinstance(space, gym.spaces.Box) and not (np.allclose(space.low, -1) and np.allclose(space.high, 1)):
            env = gym.wrappers.RescaleAction(env, -1.0, 1.0)
    if reward_classifier:
        from robolearn.learners.reward_classifier import ClassifierReward, RewardClassifier

        env = ClassifierReward(env, RewardClassifier.load(reward_classifier))
    return env


def load_config(learner_cls: type[Learner], path: str | None, seed: int | None):
    config = learner_cls.config_class.from_yaml(path) if path else learner_cls.config_class()
    if seed is not None:
        config = dataclasses.replace(config, seed=seed)
        config.validate()
    return config


def run(args: argparse.Namespace) -> int:
    learner_cls = learner_class(args.algo)
    if args.steps <= 0:
        raise ConfigError(f"--steps must be > 0, got {args.steps}")
    if args.reward_classifier and not args.image:
        raise ConfigError("--reward-classifier judges camera frames: add --image")
    env = make_env(args.task, args.image, args.reward_classifier)
    config = load_config(learner_cls, args.config, args.seed)
    run_dir = Path(args.run_dir or f"runs/{_slug(args.task)}-{args.algo}-seed{config.seed}")
    checkpoint = run_dir / CHECKPOINT_NAME
    if args.resume:
        if not checkpoint.is_file():
            raise FileNotFoundError(f"--resume: {checkpoint} does not exist; start without --resume")
        learner = learner_cls.load(checkpoint, env, args.device)
        print(f"resuming {args.algo} from {checkpoint} at step {getattr(learner, 'env_steps', '?')}")
    else:
        if checkpoint.exists():
            raise ConfigError(f"{checkpoint} exists: pass --resume to continue that run, or another --run-dir")
        learner = learner_cls(env, config, args.device)
    print(f"training {args.algo} on {args.task} for {args.steps} steps on {learner.device}; run folder {run_dir}")
    summary = learner.train(args.steps, run_dir, progress=not args.no_progress)
    print(json.dumps({k: v for k, v in summary.items() if k != "eval"}, default=str))
    if args.eval_episodes > 0:
        from robolearn.learners.run import evaluate_policy

        result = evaluate_policy(env, learner.act, args.eval_episodes)
        print(f"eval over {args.eval_episodes} episodes: return {result['return_mean']:.2f} "
              f"+- {result['return_std']:.2f}")
    print(f"checkpoint: {checkpoint}")
    env.close()
    return 0


def _slug(task: str) -> str:
    return task.replace("/", "_").replace(":", "_")
