"""`robolearn train <task> --algo sac|avg|fpg|lipbc`: train a learner, checkpointing into a run folder.

Examples:
    robolearn train robolearn/PendulumBalance-v0 --algo sac --steps 5000
    robolearn train ArmReach --algo sac --config configs/sac.yaml --run-dir runs/reach --seed 1
    robolearn train ArmReach --algo sac --run-dir runs/reach --steps 40000 --resume   # continue a run
    robolearn train ArmReach --algo sac --async   # actor and learner in two processes over the link
    robolearn train ArmReach --algo sac --demos data/reach_demos   # a dataset from `robolearn record`
    robolearn train ArmReach --algo sac --demos data/reach_demos --intervene keyboard   # HIL-SERL
    robolearn train PendulumBalance --config configs/sac_small.yaml --workers 2 --steps 4000   # Ray workers
    robolearn train PendulumBalance --config configs/sac_small.yaml --seeds 0,1,2 --sweep actor_lr=3e-4,1e-3
    robolearn train ArmReach --algo sac --config configs/sac_main.yaml --randomize strong   # domain randomisation
    robolearn train ArmReach --algo sac --config configs/sac_main.yaml --actuator sts3215   # the servo model
    robolearn train ArmReach --algo sac --init-from runs/reach/checkpoint.pt --run-dir runs/finetune  # fine-tune
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import shlex
from pathlib import Path

from robolearn.cli import train_scale
from robolearn.learners.base import CHECKPOINT_NAME, KNOWN_ALGOS, ConfigError, learner_class
from robolearn.teleop.overseers import check_overseen, overseen
from robolearn.training import (load_config, make_env, open_run, start_or_resume, train_started,
                                with_demonstrations)


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
    parser.add_argument("--init-from", metavar="CHECKPOINT",
                        help="start a new run from another run's checkpoint (fine-tuning a sim policy on the "
                             "robot; sac, avg); prints what it keeps and what it resets. Without --config the "
                             "checkpoint's config is used")
    parser.add_argument("--image", action="store_true", help="observe camera frames too (state + image)")
    parser.add_argument("--reward-classifier", help="replace the reward with this success classifier's verdict "
                                                    "(needs --image)")
    parser.add_argument("--demos", help="sac/lipbc: train from these demonstrations (a LeRobot v3 dataset folder, "
                                        "e.g. from `robolearn record`, or a transitions .npz), checked against "
                                        "the task's robot")
    parser.add_argument("--intervene", metavar="DEVICE",
                        help="sac: a human may take over any step (HIL-SERL) with keyboard | gamepad[:PATH] | "
                             "spacemouse[:PATH] | leader:PORT:CALIBRATION.yaml | simulated (the task's scripted "
                             "expert); those steps train from their own buffer, the rate per episode is logged")
    parser.add_argument("--label-reward", action="store_true",
                        help="with --intervene: the reward is the human's success key (Enter / gamepad A), "
                             "1 on success, 0 otherwise, where no reward classifier is trained")
    parser.add_argument("--randomize", metavar="PRESET|FILE",
                        help="train on a perturbed sim robot, drawn afresh at every reset: a preset of the task's "
                             "robot (mild, strong, servo_lag, ...) or a perturbation YAML file (ranges: or "
                             "perturbation:); recorded in the checkpoint, so --resume must repeat it")
    parser.add_argument("--actuator", metavar="MODEL",
                        help="the sim robot's actuator model instead of its ideal motors: sts3215, xl330_m288 or "
                             "xm430_w350 on the arm (a serial-bus servo that sags under load), create2 or racecar "
                             "on the bases; recorded in the checkpoint, so --resume must repeat it")
    parser.add_argument("--eval-episodes", type=int, default=5, help="evaluation episodes after training")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--async", dest="async_", action="store_true",
                        help="sac/avg: the actor (policy at the task's control rate) in its own process, the "
                             "learner in this one, over the loopback link; learning never stretches a control tick")
    parser.add_argument("--utd-cap", type=float, default=1.0, help="with --async: at most this many update rounds "
                                                                   "per transition (0: no cap); with --workers: "
                                                                   "the rounds per transition the workers wait for")
    train_scale.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    learner_cls = learner_class(args.algo)
    if args.reward_classifier and not args.image:
        raise ConfigError("--reward-classifier judges camera frames: add --image")
    train_scale.check(args)
    check_overseen(learner_cls, args.intervene, args.label_reward,
                   apart=bool(args.async_ or args.workers or train_scale.is_sweep(args)))
    for option, value in (("--randomize", args.randomize), ("--actuator", args.actuator)):
        if value and (args.workers or train_scale.is_sweep(args)):
            raise ConfigError(f"{option} is not passed on to Ray workers or sweep runs yet (they would train on "
                              f"the default robot): drop {option} or --workers/--seeds/--sweep")
    if args.init_from and train_scale.is_sweep(args):
        raise ConfigError("--init-from does not reach sweep runs yet: drop --init-from or --seeds/--sweep")
    env = make_env(args.task, args.image, args.reward_classifier, args.randomize, args.actuator)
    human = contextlib.ExitStack()
    try:
        config = load_config(learner_cls, args.config, args.seed, args.init_from)
        if args.demos:
            config = with_demonstrations(learner_cls, config, args.demos, env)
        run_dir = Path(args.run_dir or f"runs/{_slug(args.task)}-{args.algo}-seed{config.seed}")
        if train_scale.is_sweep(args):
            return train_scale.run_sweep(args, config, run_dir)
        with open_run(run_dir):
            train_env = human.enter_context(overseen(env, args.intervene, args.label_reward))
            started = start_or_resume(learner_cls, train_env, run_dir, steps=args.steps, config=config,
                                      resume=args.resume, config_given=args.config is not None,
                                      seed_given=args.seed is not None, device=args.device,
                                      fields_given=[learner_cls.demos_field] if args.demos else (),
                                      init_from=args.init_from)
            print(started.message)
            if started.learner is None:
                return 0
            learner = started.learner
            print(f"training {args.algo} on {args.task} for {args.steps} steps on {learner.device}; "
                  f"run folder {run_dir}")
            if args.async_:
                from robolearn.link.local import train_async

                # The actor process builds its own env: the same one, randomisation and actuators included.
                env_factory = functools.partial(make_env, args.task, args.image, args.reward_classifier,
                                                args.randomize, args.actuator) \
                    if args.randomize or args.actuator else None
                summary = train_async(started, args.steps, run_dir, task=args.task, image=args.image,
                                      reward_classifier=args.reward_classifier, utd_cap=args.utd_cap or None,
                                      resume_hint=_resume_command(args, run_dir), progress=not args.no_progress,
                                      env_factory=env_factory)
            elif args.workers:
                with train_scale.workers(args, learner) as workers:
                    summary = train_started(started, args.steps, run_dir, resume_hint=_resume_command(args, run_dir),
                                            progress=not args.no_progress,
                                            step=workers.stepper(args.steps, started.checkpoint))
                    summary["scale"] = workers.summary()
            else:
                summary = train_started(started, args.steps, run_dir, resume_hint=_resume_command(args, run_dir),
                                        progress=not args.no_progress)
        print(json.dumps({k: v for k, v in summary.items() if k != "eval"}, default=str))
        if args.eval_episodes > 0:
            result = learner.evaluate(args.eval_episodes, env=env)
            print(f"eval over {args.eval_episodes} episodes: return {result['return_mean']:.2f} "
                  f"+- {result['return_std']:.2f}")
        print(f"checkpoint: {started.checkpoint}")
    finally:
        human.close()
        env.close()
    return 0


def _resume_command(args: argparse.Namespace, run_dir: Path) -> str:
    """The command that continues this run as recorded: same task, env options and folder (the default folder
    name depends on the seed, so it is always spelled out)."""
    parts = ["robolearn", "train", args.task, "--algo", args.algo, "--steps", str(args.steps),
             "--run-dir", str(run_dir), "--resume"]
    if args.image:
        parts.append("--image")
    if args.async_:
        parts += ["--async", "--utd-cap", str(args.utd_cap)]
    if args.reward_classifier:
        parts += ["--reward-classifier", args.reward_classifier]
    if args.intervene:
        parts += ["--intervene", args.intervene] + (["--label-reward"] if args.label_reward else [])
    if args.randomize:
        parts += ["--randomize", str(args.randomize)]
    if args.actuator:
        parts += ["--actuator", args.actuator]
    if args.workers:
        parts += ["--workers", str(args.workers), "--utd-cap", str(args.utd_cap)]
        parts += ["--ray-address", args.ray_address] if args.ray_address else []
    return shlex.join(parts)


def _slug(task: str) -> str:
    return task.replace("/", "_").replace(":", "_")
