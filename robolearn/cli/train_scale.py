"""The scale-out options of `robolearn train` (not a command of its own): `--workers N` collects with N
PyBullet workers on Ray for one SAC or AVG learner; `--seeds` and `--sweep` run whole runs as Ray tasks.
Ray starts locally (loopback only, CPUs limited to what the run uses) unless `--ray-address` names a
cluster, where the same command runs unchanged."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
from pathlib import Path
from typing import Iterator

import yaml

from robolearn.learners.base import ConfigError
from robolearn.link.training import LINK_ALGOS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("scale out on Ray (needs: pip install 'robolearn[ray]')")
    group.add_argument("--workers", type=int, default=0,
                       help="collect with N PyBullet workers (Ray actors) for one SAC or AVG learner (state tasks)")
    group.add_argument("--on-worker-loss", choices=["continue", "stop"], default="continue",
                       help="when a worker dies: go on with the others, or save the checkpoint and stop")
    group.add_argument("--seeds", help="comma-separated seeds, e.g. 0,1,2: one whole run per seed, as Ray tasks, "
                                       "in <run-dir>/seed<S>")
    group.add_argument("--sweep", action="append", default=[], metavar="FIELD=V1,V2",
                       help="config field values to try (repeatable; every combination, for every seed)")
    group.add_argument("--ray-address", help="Ray cluster to run on, e.g. ray://head:10001 (default: a local Ray "
                                             "on this machine); robolearn must be installed on every node")


def is_sweep(args: argparse.Namespace) -> bool:
    return bool(args.seeds or args.sweep)


def check(args: argparse.Namespace) -> None:
    """Refuse option combinations that cannot run, before anything is built."""
    if args.workers or is_sweep(args):
        from robolearn.scale.cluster import require_ray

        require_ray()  # says how to add Ray before anything is built
    if args.workers < 0:
        raise ConfigError(f"--workers must be >= 1, got {args.workers}")
    if args.workers and args.algo not in LINK_ALGOS:
        raise ConfigError(f"--workers feeds a learner through the link's adapters ({', '.join(LINK_ALGOS)}), "
                          f"not {args.algo!r}; drop --workers to train in-process")
    if args.workers and args.async_:
        raise ConfigError("--workers and --async do not combine: --async acts on one robot at its control rate, "
                          "--workers collects from simulators as fast as the learner takes it; choose one")
    if args.workers and not args.utd_cap > 0:
        raise ConfigError(f"--workers needs --utd-cap > 0: the workers wait for that many update rounds per "
                          f"transition, got {args.utd_cap}")
    if args.workers and args.image:
        raise ConfigError("--workers runs state observations only; drop --image or --workers")
    if args.workers and is_sweep(args):
        raise ConfigError("--workers and --seeds/--sweep do not combine: a sweep runs whole in-process runs as "
                          "Ray tasks; choose one")


@contextlib.contextmanager
def _ray(args: argparse.Namespace, cpus: int) -> Iterator[object]:
    from robolearn.scale.cluster import start_ray

    started_here = not _ray_running()
    ray = start_ray(args.ray_address, None if args.ray_address else min(cpus, os.cpu_count() or 1))
    try:
        yield ray
    finally:
        if started_here:
            ray.shutdown()


def _ray_running() -> bool:
    from robolearn.scale.cluster import require_ray

    return require_ray().is_initialized()


@contextlib.contextmanager
def workers(args: argparse.Namespace, learner) -> Iterator[object | None]:
    """A RayTrainer for `learner` with --workers N (None without it); its workers and a Ray started here
    are stopped on the way out."""
    if not args.workers:
        yield None
        return
    from robolearn.scale.trainer import RayTrainer

    with _ray(args, args.workers):
        trainer = RayTrainer(learner, args.task, args.workers, rounds_per_transition=args.utd_cap,
                             on_worker_loss=args.on_worker_loss)
        print(f"collecting with {args.workers} Ray worker(s) "
              f"({'cluster ' + args.ray_address if args.ray_address else 'local Ray'})", flush=True)
        try:
            yield trainer
        finally:
            trainer.close()


def run_sweep(args: argparse.Namespace, config, run_root: Path) -> int:
    """--seeds / --sweep: every point as a Ray task; one line per run, then a JSON summary."""
    from robolearn.scale.sweep import run_sweep as run_points, sweep_points

    seeds = _seeds(args.seeds) if args.seeds else [config.seed]
    points = sweep_points(seeds, _grid(args.sweep, config))
    base = config.to_dict()
    print(f"sweep: {len(points)} run(s) of {args.algo} on {args.task} under {run_root}", flush=True)
    with _ray(args, len(points)):
        results = run_points(args.task, args.algo, base, points, args.steps, run_root, args.eval_episodes,
                             args.resume, "cpu" if args.device == "auto" else args.device)
    for result in results:
        if "error" in result:
            print(f"  {result['run']}: FAILED: {result['error']}")
        elif result["return_mean"] is not None:
            print(f"  {result['run']}: return {result['return_mean']:.2f} +- {result['return_std']:.2f} "
                  f"after {result['steps']} steps ({result['run_dir']})")
        else:
            print(f"  {result['run']}: {result['steps']} steps ({result['run_dir']})")
    print(json.dumps(results, default=str))
    return 1 if any("error" in r for r in results) else 0


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"--seeds {text!r}: give comma-separated integers, e.g. --seeds 0,1,2") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds {text!r}: give distinct comma-separated integers, e.g. --seeds 0,1,2")
    return seeds


def _grid(specs: list[str], config) -> dict[str, list]:
    grid: dict[str, list] = {}
    for spec in specs:
        name, sep, values = spec.partition("=")
        name = name.strip()
        if not sep or not name or not values.strip():
            raise ConfigError(f"--sweep {spec!r}: write FIELD=V1,V2, e.g. --sweep actor_lr=3e-4,1e-3")
        if not hasattr(config, name) or name == "seed":
            known = sorted(k for k in config.to_dict() if k != "seed")
            raise ConfigError(f"--sweep {spec!r}: {name!r} is not a field of {type(config).__name__} "
                              f"(seeds go in --seeds); known: {known}")
        if name in grid:
            raise ConfigError(f"--sweep {name} is given twice; list all its values once: {name}=V1,V2")
        # each value checked (and typed) as a config would read it, before any run starts
        grid[name] = [getattr(type(config).from_dict({**config.to_dict(), name: yaml.safe_load(v)},
                                                     f"--sweep {name}={v}"), name) for v in values.split(",")]
    return grid
