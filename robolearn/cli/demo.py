"""`robolearn demo`: run every sim task with its scripted expert and with a random controller, through
the safety layer, and print returns and safety interventions side by side."""

from __future__ import annotations

import argparse
import collections
from dataclasses import dataclass, field

import numpy as np

from robolearn.envs.registry import TASKS, make_env, task_entry


@dataclass
class DemoResult:
    task: str
    controller: str
    returns: list[float] = field(default_factory=list)
    steps: int = 0
    stopped_steps: int = 0
    interventions: collections.Counter = field(default_factory=collections.Counter)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--episodes", type=int, default=2, help="episodes per task and controller (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first episode (default 0)")
    parser.add_argument("--tasks", nargs="+", metavar="TASK", default=None,
                        help=f"tasks by id or short name (default: all of {[e.short_name for e in TASKS]})")


def run(args: argparse.Namespace) -> int:
    if args.episodes <= 0:
        raise ValueError(f"--episodes must be > 0, got {args.episodes}")
    entries = [task_entry(name) for name in args.tasks] if args.tasks else list(TASKS)
    results = []
    for entry in entries:
        for controller in ("expert", "random"):
            results.append(run_controller(entry.id, controller, args.episodes, args.seed))
            print(f"  {entry.short_name:<16} {controller:<7} done", flush=True)
    print()
    print(format_table(results))
    return 0


def run_controller(env_id: str, controller: str, episodes: int, seed: int) -> DemoResult:
    """Roll out `controller` ("expert" or "random") for `episodes` episodes on a fresh env."""
    env = make_env(env_id)
    base = env.unwrapped
    result = DemoResult(task=task_entry(env_id).short_name, controller=controller)
    env.action_space.seed(seed)
    try:
        for episode in range(episodes):
            env.reset(seed=seed + episode)
            total, done = 0.0, False
            while not done:
                if controller == "expert":
                    action = base.task.expert_action(base.last_observation, base.robot.spec)
                else:
                    action = env.action_space.sample()
                _, reward, terminated, truncated, info = env.step(action)
                total += reward
                result.steps += 1
                result.stopped_steps += bool(info["safety_stopped"])
                done = terminated or truncated
            result.returns.append(total)
        result.interventions.update(base.robot.safety.counts)
    finally:
        env.close()
    return result


def format_table(results: list[DemoResult]) -> str:
    header = f"{'task':<16} {'controller':<10} {'return (mean ± sd)':>20} {'steps':>6} {'stopped':>8}  interventions"
    lines = [header, "-" * len(header)]
    for r in results:
        mean, sd = float(np.mean(r.returns)), float(np.std(r.returns))
        kinds = ", ".join(f"{k}={v}" for k, v in sorted(r.interventions.items())) or "none"
        lines.append(f"{r.task:<16} {r.controller:<10} {mean:>11.1f} ± {sd:<6.1f} {r.steps:>6} "
                     f"{r.stopped_steps:>8}  {kinds}")
    return "\n".join(lines)
