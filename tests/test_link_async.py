"""`robolearn train --async`: the actor in its own process, the learner here, one run folder as without it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from robolearn.learners.checkpoint import checkpoint_metadata

ROOT = Path(__file__).resolve().parents[1]


def train(*args):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run([sys.executable, "-m", "robolearn", "train", *args, "--no-progress"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=240)


@pytest.mark.parametrize("algo, config", [
    ("sac", "critic_ensemble: 2\nhidden_sizes: [32, 32]\nbatch_size: 16\nutd: 1\nlearning_starts: 50\n"
            "demos: none\ncheckpoint_every: 100\neval_every: 150\neval_episodes: 1\n"),
    ("avg", "hidden_size: 32\ncheckpoint_every: 100\neval_every: 150\neval_episodes: 1\n"),
])
def test_async_trains_logs_evaluates_checkpoints_and_resumes(tmp_path, algo, config):
    path = tmp_path / "config.yaml"
    path.write_text(config)
    run_dir = tmp_path / "run"
    common = ["robolearn/PendulumBalance-v0", "--algo", algo, "--async", "--config", str(path), "--run-dir",
              str(run_dir), "--eval-episodes", "1"]
    first = train(*common, "--steps", "200")
    assert first.returncode == 0, first.stdout + first.stderr
    summary = json.loads(next(line for line in first.stdout.splitlines() if line.startswith("{")))
    link = summary["link"]
    # whole batches are learned from, so the run may end a few transitions past --steps
    steps = checkpoint_metadata(run_dir / "checkpoint.pt")["steps"]
    assert 200 <= link["transitions"] == steps < 250 and link["duplicates"] == 0 and link["gaps"] == 0, link
    assert link["weights_sent"] > 1 and 0 < link["update_to_data"] <= 1.0, link
    assert "actor: " in first.stdout and " missed" in first.stdout  # the actor process reported its loop
    metrics = (run_dir / "metrics.csv").read_text()
    assert "eval/return" in metrics and "train/episode_return" in metrics
    # a resumed async run continues the same learner from its checkpoint, with a new actor process
    second = train(*common, "--steps", "300", "--resume")
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"at step {steps}" in second.stdout and 300 <= checkpoint_metadata(run_dir / "checkpoint.pt")["steps"] < 350


def test_async_refuses_a_learner_that_cannot_run_over_the_link(tmp_path):
    result = train("robolearn/PendulumBalance-v0", "--algo", "fpg", "--async", "--run-dir", str(tmp_path / "r"),
                   "--steps", "10")
    assert result.returncode == 1 and "cannot train over the actor/learner link" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
