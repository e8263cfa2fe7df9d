"""`robolearn learner` and `robolearn actor` as two real processes over loopback, and their refusals."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

KEY = "ab" * 32


def robolearn(*args, key=KEY, **kwargs):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "ROBOLEARN_LINK_KEY": key}
    return subprocess.Popen([sys.executable, "-m", "robolearn", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, cwd=ROOT, **kwargs)


@pytest.fixture
def tiny_config(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text("critic_ensemble: 2\nhidden_sizes: [32, 32]\nbatch_size: 16\nutd: 1\nlearning_starts: 50\n"
                    "demos: none\n")
    return str(path)


@pytest.fixture
def learner(tiny_config, tmp_path):
    proc = robolearn("learner", "Pendulum-v1", "--listen", "127.0.0.1:0", "--steps", "300", "--heartbeat", "0.05",
                     "--config", tiny_config, "--run-dir", str(tmp_path / "run"), "--no-progress")
    seen = ""
    while "listening on" not in seen:
        line = proc.stdout.readline()
        assert line, seen
        seen = line if "listening on" in line else seen + line
    yield proc, seen.split("listening on ")[1].split()[0]
    proc.terminate()
    proc.wait(10)


def test_actor_and_learner_processes_exchange_transitions_and_weights(learner, tiny_config):
    proc, address = learner
    actor = robolearn("actor", "Pendulum-v1", "--connect", address, "--steps", "300", "--rate", "100",
                      "--config", tiny_config)
    out, _ = actor.communicate(timeout=60)
    assert actor.returncode == 0, out
    assert "300 ticks" in out and "weights version 0" not in out, out


@pytest.mark.parametrize("same_config, key, says", [
    (False, KEY, "config_hash mismatch"),
    (True, "cd" * 32, "authentication failed"),
])
def test_a_mismatched_actor_is_refused_before_any_step(learner, tiny_config, same_config, key, says):
    _, address = learner
    args = ["--config", tiny_config] if same_config else []
    actor = robolearn("actor", "Pendulum-v1", "--connect", address, "--steps", "50", *args, key=key)
    out, _ = actor.communicate(timeout=60)
    assert actor.returncode == 1 and says in out and "ticks" not in out, out


@pytest.mark.parametrize("args, says", [
    (["--connect", "nowhere"], "must be HOST:PORT"),
    (["--connect", "127.0.0.1:1", "--timeout", "0.2"], "cannot reach a learner"),
])
def test_bad_actor_input_is_one_clear_line(args, says):
    actor = robolearn("actor", "Pendulum-v1", *args)
    out, _ = actor.communicate(timeout=60)
    assert actor.returncode == 1 and says in out and "Traceback" not in out, out


def test_no_key_says_how_to_make_one():
    proc = robolearn("learner", "Pendulum-v1", "--listen", "127.0.0.1:0", key="")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "ROBOLEARN_LINK_KEY" in out and "token_hex" in out, out
