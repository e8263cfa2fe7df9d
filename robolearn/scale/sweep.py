"""Seeds and hyperparameter grids as Ray tasks: each point is a whole ordinary run (`Learner.train` in its
own run folder, checkpoint and resume as with `robolearn train`), one CPU each, run wherever Ray has room.

Why not Ray Tune: a grid times seeds of independent runs needs no scheduler, and Tune would bring its own
trial folders, checkpointing, result logging and its extra dependencies beside robolearn's run folder,
which already does those. Tune would earn its place with early-stopping or population-based schedulers
(ASHA, PBT) that act on intermediate results; nothing here needs them yet.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from robolearn.scale.cluster import require_ray

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepPoint:
    seed: int
    overrides: dict[str, Any] = field(default_factory=dict)  # config fields that differ from the base config

    def name(self) -> str:
        fields = "-".join(f"{key}={_short(value)}" for key, value in sorted(self.overrides.items()))
        return f"{fields}-seed{self.seed}" if fields else f"seed{self.seed}"


def _short(value: Any) -> str:
    text = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
    return text.replace("/", "_").replace(" ", "")


def sweep_points(seeds: Sequence[int], grid: Mapping[str, Sequence[Any]] | None = None) -> list[SweepPoint]:
    """Every combination of the grid's values, for every seed."""
    if not seeds:
        raise ValueError("a sweep needs at least one seed")
    grid = dict(grid or {})
    empty = [name for name, values in grid.items() if not values]
    if empty:
        raise ValueError(f"sweep field(s) {empty} have no values; write FIELD=V1,V2")
    combos = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    return [SweepPoint(seed, combo) for combo in combos for seed in seeds]


def train_point(task: str, algo: str, base_config: Mapping[str, Any], point: SweepPoint, steps: int,
                run_dir: str, eval_episodes: int, resume: bool, device: str) -> dict:
    """One sweep point as an ordinary run (this is what each Ray task executes)."""
    from robolearn.learners.base import learner_class
    from robolearn.training import make_env, open_run, start_or_resume, train_started

    learner_cls = learner_class(algo)
    config = learner_cls.config_class.from_dict({**base_config, **point.overrides, "seed": point.seed},
                                                f"sweep point {point.name()}")
    env = make_env(task)
    try:
        with open_run(run_dir):
            started = start_or_resume(learner_cls, env, run_dir, steps=steps, config=config, resume=resume,
                                      config_given=True, seed_given=True, device=device)
            if started.learner is not None:
                train_started(started, steps, run_dir, resume_hint="the same sweep command with --resume")
        learner = started.learner or learner_cls.load(started.checkpoint, env, device)
        result = learner.evaluate(eval_episodes, env=env) if eval_episodes > 0 else None
    finally:
        env.close()
    return {"run": point.name(), "seed": point.seed, "overrides": dict(point.overrides), "run_dir": run_dir,
            "steps": learner.steps_done, "return_mean": result["return_mean"] if result else None,
            "return_std": result["return_std"] if result else None}


def run_sweep(task: str, algo: str, base_config: Mapping[str, Any], points: Sequence[SweepPoint], steps: int,
              run_root: str | Path, eval_episodes: int = 5, resume: bool = False, device: str = "cpu") -> list[dict]:
    """Run every point as a Ray task (Ray must be started) and return one result per point, in order of
    `points`; a point that fails is reported with its error and does not stop the others."""
    ray = require_ray()
    if not ray.is_initialized():
        raise RuntimeError("Ray is not started: call robolearn.scale.cluster.start_ray() first")
    task_fn = ray.remote(num_cpus=1, max_retries=0)(train_point)
    pending = {}
    for i, point in enumerate(points):
        run_dir = str(Path(run_root) / point.name())
        ref = task_fn.remote(task, algo, dict(base_config), point, steps, run_dir, eval_episodes, resume, device)
        pending[ref] = (i, point, run_dir)
    results: list[dict | None] = [None] * len(points)
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        i, point, run_dir = pending.pop(ready[0])
        try:
            results[i] = ray.get(ready[0])
        except ray.exceptions.RayError as exc:
            cause = getattr(exc, "cause", None) or exc
            line = str(cause).strip().splitlines()[-1] if str(cause).strip() else type(cause).__name__
            log.error("sweep run %s failed: %s", point.name(), line)
            results[i] = {"run": point.name(), "seed": point.seed, "overrides": dict(point.overrides),
                          "run_dir": run_dir, "error": f"{type(cause).__name__}: {line}"}
    return [r for r in results if r is not None]
