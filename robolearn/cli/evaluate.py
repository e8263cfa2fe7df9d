"""`robolearn eval <checkpoint> [--task ...] [--episodes N]`: deterministic evaluation of a checkpoint.

The task defaults to the env the checkpoint was trained on.

Robustness report: `robolearn eval <policy.onnx|checkpoint.pt> --perturb <preset[,preset...]|all|sweep.yaml>`
evaluates the policy and the task's scripted expert on the sim robot under each perturbation (nominal
first) and writes robustness.csv, .md and .png (return, success, safety clips and stops per perturbation):
    robolearn eval runs/reach/checkpoint.pt --perturb servo_lag,stale_sensors,weak_gains,calibration
    robolearn eval policy.onnx --perturb all --episodes 5 --out reports/reach
"""

from __future__ import annotations

import argparse

from robolearn.training import env_id_of, make_env
from robolearn.learners.base import CheckpointError, learner_class, load_checkpoint
from robolearn.learners.run import evaluate_policy


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="a checkpoint.pt written by `robolearn train` (or, with --perturb, an "
                                           "ONNX policy from `robolearn export`)")
    parser.add_argument("--task", help="task id or short name (default: the checkpoint's env)")
    parser.add_argument("--episodes", type=int, default=10, help="evaluation episodes (default 10)")
    parser.add_argument("--seed", type=int, default=10_000, help="seed of the first episode")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--image", action="store_true", help="the policy observes camera frames")
    parser.add_argument("--force-task", action="store_true",
                        help="evaluate on --task even though the checkpoint was trained on another task")
    parser.add_argument("--perturb", metavar="SWEEP",
                        help="robustness report under perturbations of the sim robot: preset names of the task's "
                             "robot (comma-separated), all, or a sweep YAML file (see robolearn.sim2real.robustness)")
    parser.add_argument("--out", help="folder for the robustness report's files (default: <policy>-robustness "
                                      "next to the policy)")
    parser.add_argument("--no-expert", action="store_true", help="robustness report without the scripted expert")
    parser.add_argument("--actuator", metavar="MODEL",
                        help="the sim robot's actuator model (default: the one the checkpoint was trained with; "
                             "an ONNX file does not record it)")


def run(args: argparse.Namespace) -> int:
    if args.episodes <= 0:
        raise ValueError(f"--episodes must be > 0, got {args.episodes}")
    if args.perturb:
        return _robustness(args)
    if str(args.checkpoint).endswith(".onnx"):
        raise ValueError(f"{args.checkpoint} is an ONNX policy: evaluate it with --perturb nominal (or any sweep), "
                         "which runs it with onnxruntime as on the robot")
    data = load_checkpoint(args.checkpoint)
    recorded = data.get("env_id")
    task = args.task or recorded
    if not task:
        raise CheckpointError(f"{args.checkpoint} does not record its env: pass --task")
    learner_cls = learner_class(data.get("algo", ""))
    actuator = args.actuator or (data.get("env_options") or {}).get("actuator")
    env = make_env(task, image=args.image or "image" in data.get("observation_space", {}), actuator=actuator)
    try:
        actual = env_id_of(env)
        if recorded and actual and actual != recorded:
            if not args.force_task:
                raise CheckpointError(f"{args.checkpoint} was trained on {recorded}, not --task {actual}; a policy "
                                      "for another task can score without meaning anything. Drop --task, or add "
                                      "--force-task to evaluate it there anyway")
            print(f"warning: --force-task: evaluating a policy trained on {recorded} on {actual}")
        learner = learner_cls.load(args.checkpoint, env, args.device)
        on = f"{task} with the {actuator} actuator model" if actuator else task
        print(f"evaluating {data['algo']} on {on} over {args.episodes} episodes", flush=True)
        result = evaluate_policy(env, learner.act, args.episodes, seed=args.seed)
    finally:
        env.close()
    print(f"{data['algo']} on {task}: mean return {result['return_mean']:.3f}, std {result['return_std']:.3f} "
          f"over {args.episodes} episodes (mean length {result['length_mean']:.1f}, "
          f"safety stops {result['safety_stops']})")
    return 0


def _robustness(args: argparse.Namespace) -> int:
    from pathlib import Path

    from robolearn.sim2real.robustness import robustness_report

    if args.image or args.force_task:
        raise ValueError("--perturb evaluates the policy on the task it records (and its own observations): "
                         "drop --image/--force-task")
    report = robustness_report(args.checkpoint, args.perturb, task=args.task, episodes=args.episodes,
                               seed=args.seed, device=args.device, with_expert=not args.no_expert,
                               progress=lambda what: print(f"evaluating {what}", flush=True),
                               actuator=args.actuator)
    print(f"robustness on {report.robot}")
    policy = Path(args.checkpoint)
    out = Path(args.out) if args.out else policy.parent / f"{policy.stem}-robustness"
    paths = report.write(out)
    print(report.table())
    retention = report.mean_retention()
    if retention is not None:
        print(f"policy's mean return retention under perturbation: {retention:.3f}")
    print("wrote " + ", ".join(str(p) for p in paths.values()))
    return 0
