"""What every training run shares: a run folder, TensorBoard scalars, a CSV, a PNG learning curve,
periodic checkpoints, progress display, and deterministic evaluation.
"""

from __future__ import annotations

import csv
import math
import os
import signal
import threading
from pathlib import Path
from typing import Any, Callable

import numpy as np


INTERVENTION_RATE = "train/intervention_rate"


class RunLogger:
    """Scalars to TensorBoard event files and `metrics.csv` in `run_dir`; `plot()` writes `learning_curve.png`.

    With `run_dir=None` it only keeps values in memory (tests, benchmarks). `resume_step` is the step the
    run (re)starts from: rows logged after it by a run that crashed before its next checkpoint are dropped
    from `metrics.csv` and purged from TensorBoard, so no (step, name) pair repeats and steps never go back.
    """

    def __init__(self, run_dir: str | os.PathLike | None, resume_step: int = 0) -> None:
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.history: dict[str, list[tuple[int, float]]] = {}
        self._writer = None
        self._csv = None
        if self.run_dir is not None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(str(self.run_dir / "tensorboard"), purge_step=resume_step + 1)
            _truncate_csv(self.run_dir / "metrics.csv", resume_step)
            new = not (self.run_dir / "metrics.csv").exists()
            self._csv_file = open(self.run_dir / "metrics.csv", "a", newline="")
            self._csv = csv.writer(self._csv_file)
            if new:
                self._csv.writerow(["step", "name", "value"])

    def log(self, step: int, **scalars: float) -> None:
        for name, value in scalars.items():
            value = float(value)
            self.history.setdefault(name, []).append((int(step), value))
            if self._writer is not None:
                self._writer.add_scalar(name, value, int(step))
                self._csv.writerow([int(step), name, value])

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()
            self._csv_file.flush()

    def plot(self, key: str = "eval/return", title: str = "") -> Path | None:
        """Learning curve of `key` (falls back to `train/episode_return`) as PNG; returns its path."""
        if self.run_dir is None:
            return None
        series = self.history.get(key) or self.history.get("train/episode_return")
        if not series:
            series = _read_csv_series(self.run_dir / "metrics.csv", key)
        if not series:
            return None
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        # With a human in the loop (HIL-SERL) the share of human steps per episode is drawn below the curve.
        rate = self.history.get(INTERVENTION_RATE) or _read_csv_series(self.run_dir / "metrics.csv", INTERVENTION_RATE)
        fig, axes = plt.subplots(2 if rate else 1, 1, figsize=(6, 6 if rate else 4), sharex=True, squeeze=False)
        ax = axes[0, 0]
        steps, values = zip(*series)
        ax.plot(steps, values, marker="o" if len(steps) < 30 else None)
        ax.set_ylabel(key)
        ax.set_title(title or key)
        ax.grid(alpha=0.3)
        if rate:
            ax = axes[1, 0]
            ax.plot(*zip(*rate), color="tab:red", marker="o" if len(rate) < 30 else None)
            ax.set_ylabel("human steps / episode steps")
            ax.set_ylim(-0.02, 1.02)
            ax.grid(alpha=0.3)
        ax.set_xlabel("env steps")
        path = self.run_dir / "learning_curve.png"
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return path

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._csv_file.close()
            self._writer = None


def _truncate_csv(path: Path, last_step: int) -> None:
    """Keep the header and the rows up to `last_step` (written atomically: a crash here loses nothing)."""
    if not path.exists():
        return
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    kept = rows[:1] + [row for row in rows[1:] if row and row[0].isdigit() and int(row[0]) <= last_step]
    if len(kept) == len(rows):
        return
    import io

    from robolearn.files import write_atomically

    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows(kept)
    write_atomically(path, buffer.getvalue())


def _read_csv_series(path: Path, key: str) -> list[tuple[int, float]]:
    if not path.exists():
        return []
    with open(path) as fh:
        return [(int(r["step"]), float(r["value"])) for r in csv.DictReader(fh) if r["name"] == key]


def progress_bar(total: int, initial: int = 0, enabled: bool = True, desc: str = "train"):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, disable=not enabled, desc=desc, dynamic_ncols=True, leave=False)


def evaluate_policy(env, act: Callable[[Any], np.ndarray], episodes: int = 5, seed: int = 10_000) -> dict:
    """Deterministic evaluation on its own env instance: mean/std return, episode length, success rate (the
    last step's info["is_success"]; None when the task reports none), and the safety layer's interventions:
    steps it stopped the robot (`safety_stops`) and steps it only changed the command (`safety_clips`).
    Where the env scores the physical truth too (robolearn.envs.privileged.TrueReward: info["true_reward"],
    info["true_is_success"]), `true_return_mean`/`_std` and `true_success_rate` report it (else None)."""
    returns, true_returns, lengths, successes, true_successes, stops, clips = [], [], [], [], [], 0, 0
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        done, total, true_total, n, info = False, 0.0, 0.0, 0, {}
        while not done:
            obs, reward, terminated, truncated, info = env.step(act(obs))
            total += float(reward)
            true_total += float(info.get("true_reward", 0.0))
            n += 1
            stopped = bool(info.get("safety_stopped", False))
            stops += int(stopped)
            clips += int(not stopped and bool(info.get("safety")))
            done = terminated or truncated
        returns.append(total)
        lengths.append(n)
        if "is_success" in info:
            successes.append(bool(info["is_success"]))
        if "true_reward" in info:
            true_returns.append(true_total)
        if info.get("true_is_success") is not None:
            true_successes.append(bool(info["true_is_success"]))
    return {
        "return_mean": float(np.mean(returns)),
        "return_std": float(np.std(returns)),
        "returns": [float(r) for r in returns],
        "length_mean": float(np.mean(lengths)),
        "success_rate": float(np.mean(successes)) if successes else None,
        "true_return_mean": float(np.mean(true_returns)) if true_returns else None,
        "true_return_std": float(np.std(true_returns)) if true_returns else None,
        "true_success_rate": float(np.mean(true_successes)) if true_successes else None,
        "safety_stops": stops,
        "safety_clips": clips,
    }


def crossed(before: int, after: int, every: int) -> bool:
    """Did the step count pass a multiple of `every` going from `before` to `after` (a rollout or a resumed
    run advances it by many steps at once)?"""
    return every > 0 and after // every > before // every


def finite_or_raise(name: str, value: float) -> float:
    if not math.isfinite(value):
        raise FloatingPointError(f"{name} became {value}: training diverged; lower the learning rate or resume "
                                 f"from the last checkpoint")
    return value


class StopRequested(KeyboardInterrupt):
    """Ctrl-C, delivered between two training steps: the learner's state is whole and worth saving."""


class GracefulStop:
    """Holds Ctrl-C until the step in progress (and its update) is done.

    `check()` at the top of each training iteration raises StopRequested there, so a checkpoint written on
    the way out never holds a half-applied update. A second Ctrl-C interrupts at once (plain
    KeyboardInterrupt: nothing is saved, the last periodic checkpoint stays). Outside the main thread signal
    handlers cannot be set, so Ctrl-C keeps its default behaviour there.
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous = None

    def install(self) -> "GracefulStop":
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._on_sigint)
        return self

    def remove(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def _on_sigint(self, signum: int, frame: object) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def check(self) -> None:
        if self.requested:
            raise StopRequested
