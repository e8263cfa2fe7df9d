"""Two real processes on loopback: the learner is paused, then killed and restarted from its checkpoint, while the
actor keeps its control period; at the end every transition the actor made was learned from exactly once."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from robolearn.learners.checkpoint import CheckpointError, checkpoint_metadata

ROOT = Path(__file__).resolve().parents[1]
TICKS, RATE = 1000, 50


def robolearn(*args):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "ROBOLEARN_LINK_KEY": "ef" * 32}
    return subprocess.Popen([sys.executable, "-m", "robolearn", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, cwd=ROOT)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def checkpointed_steps(path):
    try:
        return checkpoint_metadata(path)["steps"]
    except CheckpointError:  # not written yet
        return 0


def wait_until(condition, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_the_actor_keeps_its_period_through_a_paused_and_a_killed_learner_and_nothing_is_learned_twice(tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text("critic_ensemble: 2\nhidden_sizes: [32, 32]\nbatch_size: 16\nutd: 1\nlearning_starts: 50\n"
                      "demos: none\ncheckpoint_every: 100\n")
    run_dir, address = tmp_path / "run", f"127.0.0.1:{free_port()}"
    learner_args = ["learner", "Pendulum-v1", "--listen", address, "--steps", str(TICKS), "--config", str(config),
                    "--run-dir", str(run_dir), "--no-progress", "--heartbeat", "0.05"]
    learner = robolearn(*learner_args)
    actor = None
    try:
        assert wait_until(lambda: "listening" in learner.stdout.readline(), 60)
        actor = robolearn("actor", "Pendulum-v1", "--connect", address, "--steps", str(TICKS), "--rate", str(RATE),
                          "--on-loss", "continue", "--timeout", "0.5", "--config", str(config))
        checkpoint = run_dir / "checkpoint.pt"
        assert wait_until(lambda: checkpointed_steps(checkpoint) >= 100, 60)
        learner.send_signal(signal.SIGSTOP)  # paused: silent, its socket still open
        time.sleep(1.5)
        learner.send_signal(signal.SIGCONT)
        assert wait_until(lambda: checkpointed_steps(checkpoint) >= 200, 60)
        learner.kill()  # killed: what it received after its last checkpoint dies with it
        learner.wait(10)
        killed_at = checkpointed_steps(checkpoint)
        assert killed_at < TICKS, "the actor finished before the learner could be killed; raise TICKS"
        time.sleep(1.0)
        learner = robolearn(*learner_args, "--resume")
        actor_out, _ = actor.communicate(timeout=120)
        learner_out, _ = learner.communicate(timeout=60)
    finally:
        for proc in (learner, actor):
            if proc is not None and proc.poll() is None:
                proc.kill()
    assert actor.returncode == 0, actor_out
    assert f"resuming sac from {checkpoint} at step {killed_at}" in learner_out, learner_out
    # the actor's schedule never waited for the learner: at most a few late ticks, none of them a stall
    report = next(line for line in actor_out.splitlines() if line.startswith("actor:"))
    missed = int(report.split(" missed")[0].rsplit(" ", 1)[1])
    assert f"{TICKS} ticks" in report and missed <= 0.05 * TICKS, report
    # the restarted learner got from the actor exactly what its checkpoint lacked: no duplicate, no gap
    stats = json.loads(next(line for line in learner_out.splitlines() if line.startswith("learner: "))[9:])
    assert stats["transitions"] == TICKS - killed_at and stats["duplicates"] == 0 and stats["gaps"] == 0, stats
    assert checkpointed_steps(checkpoint) == TICKS
