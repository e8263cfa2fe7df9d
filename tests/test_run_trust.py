"""A run means what the user asked, and every failure is one line: exercised through the real CLI in a
subprocess (exit code, stderr, never a traceback)."""

import csv
import hashlib
import os
import shlex
import signal
import stat
import subprocess
import sys
import time
from collections import Counter

import pytest
import yaml

from robolearn.learners.checkpoint import CHECKPOINT_NAME, checkpoint_metadata

TASK = "robolearn/PendulumBalance-v0"
TINY = {"critic_ensemble": 2, "hidden_sizes": [16, 16], "batch_size": 16, "learning_starts": 32, "utd": 1,
        "demo_episodes": 0, "eval_every": 100_000, "eval_episodes": 0, "checkpoint_every": 100, "log_every": 50}


def _config(tmp_path, name="tiny.yaml", **changes):
    path = tmp_path / name
    path.write_text(yaml.safe_dump({**TINY, **changes}))
    return path


def _cmd(*args):
    return [sys.executable, "-m", "robolearn", *map(str, args)]


def _cli(*args, cwd):
    result = subprocess.run(_cmd(*args), cwd=cwd, capture_output=True, text=True, timeout=300)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def _train(tmp_path, run_dir, steps, *extra, config=None):
    return _cli("train", TASK, "--config", config or _config(tmp_path), "--steps", steps, "--run-dir", run_dir,
                "--no-progress", "--eval-episodes", 0, "--device", "cpu", *extra, cwd=tmp_path)


def _start(tmp_path, run_dir, steps=1_000_000):
    return subprocess.Popen(_cmd("train", TASK, "--config", _config(tmp_path), "--steps", steps, "--run-dir", run_dir,
                                 "--no-progress", "--eval-episodes", 0, "--device", "cpu"),
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(predicate, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting for the training process")


def _ctrl_c_after_the_first_checkpoint(tmp_path, run_dir) -> tuple[int, str]:
    """Start a long run, press Ctrl-C once it has checkpointed; (exit code, stderr)."""
    process = _start(tmp_path, run_dir)
    _wait_for(lambda: _checkpoint_step(run_dir) >= 100)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    return process.returncode, err


def _checkpoint_step(run_dir):
    path = run_dir / CHECKPOINT_NAME
    try:
        return checkpoint_metadata(path)["steps"] if path.is_file() else 0
    except Exception:
        return 0  # being replaced right now


def _metric_rows(run_dir):
    with open(run_dir / "metrics.csv", newline="") as fh:
        return [(int(r["step"]), r["name"]) for r in csv.DictReader(fh)]


@pytest.mark.parametrize("field", ["actor_lr", "init_temperature"])
def test_an_infinite_config_value_is_refused_naming_file_and_field(tmp_path, field):
    config = tmp_path / "inf.yaml"
    config.write_text(f"{field}: .inf\n")
    result = _train(tmp_path, tmp_path / "run", 100, config=config)
    assert result.returncode == 1
    assert str(config) in result.stderr and field in result.stderr and "finite" in result.stderr
    assert not (tmp_path / "run" / CHECKPOINT_NAME).exists()


def test_a_config_that_can_never_learn_is_refused(tmp_path):
    result = _train(tmp_path, tmp_path / "run", 200, config=_config(tmp_path, buffer_size=10, learning_starts=100))
    assert result.returncode == 1
    assert "learning_starts" in result.stderr and "buffer_size" in result.stderr and "never" in result.stderr


def test_resume_refuses_a_changed_config_or_seed_and_applies_safe_changes(tmp_path):
    run_dir = tmp_path / "run"
    assert _train(tmp_path, run_dir, 100).returncode == 0
    changed = _train(tmp_path, run_dir, 200, "--resume", config=_config(tmp_path, "lr.yaml", critic_lr=1e-3))
    assert changed.returncode == 1 and "critic_lr" in changed.stderr and "refused" in changed.stderr
    reseeded = _train(tmp_path, run_dir, 200, "--resume", "--seed", 7)
    assert reseeded.returncode == 1 and "seed" in reseeded.stderr
    assert _checkpoint_step(run_dir) == 100  # nothing was touched by the refusals
    safe = _train(tmp_path, run_dir, 200, "--resume", config=_config(tmp_path, "log.yaml", log_every=20))
    assert safe.returncode == 0 and "applied log_every: 50 -> 20" in safe.stdout
    assert _checkpoint_step(run_dir) == 200


def test_resume_past_the_requested_steps_has_nothing_to_do(tmp_path):
    run_dir = tmp_path / "run"
    assert _train(tmp_path, run_dir, 150).returncode == 0
    before = hashlib.sha256((run_dir / CHECKPOINT_NAME).read_bytes()).hexdigest()
    result = _train(tmp_path, run_dir, 100, "--resume")
    assert result.returncode == 0 and "nothing to do" in result.stdout and "150" in result.stdout
    assert hashlib.sha256((run_dir / CHECKPOINT_NAME).read_bytes()).hexdigest() == before


def test_a_killed_run_resumes_with_no_repeated_metrics_and_takes_over_its_lock(tmp_path):
    run_dir = tmp_path / "run"
    process = _start(tmp_path, run_dir)
    try:
        # Killed after its first checkpoint, once it has logged rows beyond it that the resume must drop.
        _wait_for(lambda: _checkpoint_step(run_dir) >= 100 and (run_dir / "metrics.csv").exists()
                  and max(step for step, _ in _metric_rows(run_dir)) > _checkpoint_step(run_dir))
    finally:
        process.kill()
        process.communicate()
    stale_tmp = run_dir / f".{CHECKPOINT_NAME}.abc123.tmp"
    stale_tmp.write_bytes(b"half a checkpoint")
    resumed_from = _checkpoint_step(run_dir)
    result = _train(tmp_path, run_dir, resumed_from + 150, "--resume")
    assert result.returncode == 0, result.stderr
    assert "no longer running" in result.stdout and f"pid {process.pid}" in result.stdout
    assert not stale_tmp.exists()
    rows = _metric_rows(run_dir)
    repeated = [row for row, count in Counter(rows).items() if count > 1]
    assert not repeated, repeated
    for name in {name for _, name in rows}:
        steps = [step for step, n in rows if n == name]
        assert steps == sorted(steps), (name, steps)


def test_two_runs_in_one_folder_the_second_is_refused_naming_the_first(tmp_path):
    run_dir = tmp_path / "run"
    first = _start(tmp_path, run_dir)
    try:
        _wait_for(lambda: (run_dir / ".run.lock").exists() and "pid" in (run_dir / ".run.lock").read_text())
        second = _train(tmp_path, run_dir, 100, "--resume")
        assert second.returncode == 1
        assert "in use by" in second.stderr and f"pid {first.pid}" in second.stderr
    finally:
        first.kill()
        first.communicate()


def test_ctrl_c_saves_at_a_step_boundary_and_prints_how_to_resume(tmp_path):
    run_dir = tmp_path / "run"
    returncode, err = _ctrl_c_after_the_first_checkpoint(tmp_path, run_dir)
    assert returncode == 130, err
    assert "Traceback" not in err and "interrupted at step" in err and "--resume" in err
    step = checkpoint_metadata(run_dir / CHECKPOINT_NAME)["steps"]
    assert f"interrupted at step {step}" in err  # the saved checkpoint is the step it stopped at
    assert _train(tmp_path, run_dir, step + 50, "--resume").returncode == 0


def test_eval_on_another_task_is_refused_unless_forced(tmp_path):
    run_dir = tmp_path / "run"
    assert _train(tmp_path, run_dir, 100).returncode == 0
    checkpoint = run_dir / CHECKPOINT_NAME
    refused = _cli("eval", checkpoint, "--task", "CartPoleBalance", "--episodes", 1, cwd=tmp_path)
    assert refused.returncode == 1 and "PendulumBalance" in refused.stderr and "--force-task" in refused.stderr
    forced = _cli("eval", checkpoint, "--task", "CartPoleBalance", "--episodes", 1, "--force-task", cwd=tmp_path)
    # Forced: it says so; this task's shapes differ, so loading then fails with the mismatch named.
    assert "--force-task" in forced.stdout + forced.stderr and forced.returncode == 1
    assert "observation_space" in forced.stderr


def test_os_errors_become_one_line_naming_the_path(tmp_path):
    run_dir = tmp_path / "run"
    assert _train(tmp_path, run_dir, 100).returncode == 0
    checkpoint = run_dir / CHECKPOINT_NAME
    as_file = tmp_path / "a_file"
    as_file.write_text("x")
    cases = [
        (["train", TASK, "--steps", 10, "--run-dir", as_file], "is a file"),
        (["eval", run_dir], "is a directory"),
        (["export", checkpoint, "-o", tmp_path], "directory"),
        (["export", checkpoint, "-o", "/proc/robolearn/policy.onnx"], "/proc/robolearn"),
    ]
    for args, expected in cases:
        result = _cli(*args, cwd=tmp_path)
        assert result.returncode in (1, 2), (args, result.stderr)
        lines = [line for line in result.stderr.splitlines() if not line.startswith("pybullet build time")]
        assert expected in result.stderr and len(lines) == 1, (args, result.stderr)


def test_divergence_during_training_is_one_line_naming_what_was_kept(tmp_path):
    # Finite, so the config check passes, but the first updates overflow.
    config = _config(tmp_path, "huge_lr.yaml", critic_lr=1e30, actor_lr=1e30)
    result = _train(tmp_path, tmp_path / "run", 400, config=config)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if not line.startswith("pybullet build time")]
    assert len(lines) == 1 and "training diverged" in lines[0], result.stderr
    assert "No finite checkpoint was saved" in lines[0] and "learning rate" in lines[0]
    assert not (tmp_path / "run" / CHECKPOINT_NAME).exists()


def test_the_printed_resume_command_continues_the_run(tmp_path):
    run_dir = tmp_path / "run with space"
    returncode, err = _ctrl_c_after_the_first_checkpoint(tmp_path, run_dir)
    assert returncode == 130 and "Resume with: " in err, err
    command = shlex.split(err.split("Resume with: ", 1)[1].strip())
    assert command[:2] == ["robolearn", "train"] and "--resume" in command
    step = checkpoint_metadata(run_dir / CHECKPOINT_NAME)["steps"]
    command[command.index("--steps") + 1] = str(step + 50)  # the printed one asks for the original 1e6 steps
    result = _cli(*command[1:], "--eval-episodes", 0, "--no-progress", "--device", "cpu", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"resuming sac from {run_dir / CHECKPOINT_NAME} at step {step}" in result.stdout
    assert checkpoint_metadata(run_dir / CHECKPOINT_NAME)["steps"] == step + 50


def test_ctrl_c_in_eval_is_one_line(tmp_path):
    run_dir = tmp_path / "run"
    assert _train(tmp_path, run_dir, 100).returncode == 0
    process = subprocess.Popen(_cmd("eval", run_dir / CHECKPOINT_NAME, "--episodes", 100_000), cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "evaluating sac" in process.stdout.readline()  # the episodes have started
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    lines = [line for line in err.splitlines() if not line.startswith("pybullet build time")]
    assert process.returncode == 130 and "Traceback" not in err
    assert lines == ["robolearn eval: interrupted (Ctrl-C); nothing was left half-written"], err


def test_export_never_replaces_a_device_or_pipe(tmp_path):
    run_dir = tmp_path / "run"
    assert _train(tmp_path, run_dir, 100).returncode == 0
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)  # stands for /dev/null: as root, a rename over it would replace the device
    result = _cli("export", run_dir / CHECKPOINT_NAME, "-o", pipe, "--parity-samples", 64, cwd=tmp_path)
    assert result.returncode == 1 and "not a regular file" in result.stderr and str(pipe) in result.stderr
    assert stat.S_ISFIFO(os.stat(pipe).st_mode)


@pytest.fixture
def small_disk(tmp_path):
    """A real 64 KiB file system (tmpfs), so a full disk is the OS's ENOSPC, not a stand-in."""
    mount_point = tmp_path / "small_disk"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("mounting a small tmpfs needs root (CAP_SYS_ADMIN)")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_full_disk_and_a_read_only_one_are_one_line_each(tmp_path, small_disk):
    full = _train(tmp_path, small_disk / "run", 300)
    errors = [line for line in full.stderr.splitlines() if line.startswith("robolearn train")]
    assert full.returncode == 1 and "Traceback" not in full.stderr  # TensorBoard's writer thread included
    assert errors and all("the disk is full" in line for line in errors), full.stderr
    assert str(small_disk / "run") in full.stderr
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    read_only = _train(tmp_path, small_disk / "run2", 100)
    assert read_only.returncode == 1 and "read-only" in read_only.stderr and "--run-dir" in read_only.stderr
