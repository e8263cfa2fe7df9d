"""`robolearn record` and `robolearn dataset` through the real CLI; Ctrl-C keeps the finished episodes."""

import warnings

import numpy as np
import pytest

pytest.importorskip("pyarrow")

from robolearn.cli import main  # noqa: E402
from robolearn.data.episodes import policy_source, record_dataset  # noqa: E402
from robolearn.data.lerobot_format import LeRobotWriter, read_dataset, validate_dataset  # noqa: E402
from robolearn.data.transitions import scripted_expert  # noqa: E402
from robolearn.envs.registry import make_env  # noqa: E402


def test_record_info_validate_convert_plot(tmp_path, capsys):
    ds = tmp_path / "reach"
    assert main(["record", "ArmReach", "--by", "expert", "--episodes", "2", "--out", str(ds)]) == 0
    assert main(["record", "ArmReach", "--by", "expert", "--episodes", "1", "--out", str(ds)]) == 0  # resumes
    assert validate_dataset(ds)["episodes"] == 3
    assert main(["dataset", "validate", str(ds)]) == 0
    assert main(["dataset", "info", str(ds)]) == 0
    assert "episodes: 3" in capsys.readouterr().out
    assert main(["dataset", "convert", str(ds), str(tmp_path / "bag")]) == 0
    assert main(["dataset", "convert", str(tmp_path / "bag"), str(tmp_path / "back"), "--robot", "so101_arm",
                 "--fps", "30"]) == 0
    for a, b in zip(read_dataset(ds), read_dataset(tmp_path / "back")):
        np.testing.assert_array_equal(a.applied_actions, b.applied_actions)
        np.testing.assert_array_equal(a.states, b.states)
    assert main(["dataset", "plot", str(ds), "--episode", "2", "--out", str(tmp_path / "e.png")]) == 0
    assert (tmp_path / "e.png").read_bytes()[:4] == b"\x89PNG"


def test_bad_input_is_one_clear_line(tmp_path, capsys):
    assert main(["dataset", "validate", str(tmp_path)]) != 0
    assert "is not a LeRobot v3 dataset" in capsys.readouterr().err
    assert main(["record", "ArmReach", "--by", "joystick", "--episodes", "1", "--out", str(tmp_path / "x")]) != 0
    assert "unknown teleop device 'joystick'" in capsys.readouterr().err


def test_ctrl_c_mid_episode_keeps_finished_episodes_and_resumes(tmp_path):
    env = make_env("ArmReach")
    spec = env.unwrapped.robot.spec
    n = env.observation_space.shape[0]
    expert = scripted_expert(env)
    steps = []

    def interrupted(obs):
        steps.append(1)
        if len(steps) == 250:  # in the third episode (ArmReach episodes end by 100 steps)
            raise KeyboardInterrupt
        return expert(obs), False

    writer = LeRobotWriter(tmp_path / "ds", spec.control_rate_hz, spec.name, [f"state_{i}" for i in range(n)],
                           spec.command_names)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            with pytest.raises(KeyboardInterrupt):
                record_dataset(env, interrupted, 5, writer.add)
            kept = validate_dataset(tmp_path / "ds")["episodes"]
            assert kept >= 2
            resumed = LeRobotWriter(tmp_path / "ds", spec.control_rate_hz, spec.name,
                                    [f"state_{i}" for i in range(n)], spec.command_names)
            record_dataset(env, policy_source(expert), 1, resumed.add)
    finally:
        env.close()
    assert validate_dataset(tmp_path / "ds")["episodes"] == kept + 1


def test_a_full_disk_stops_recording_with_the_episodes_so_far_intact(tmp_path):
    """The file-size limit (RLIMIT_FSIZE) makes every write past it fail as a full disk does."""
    import os
    import resource
    import signal
    import subprocess
    import sys

    ds = tmp_path / "reach"
    assert main(["record", "ArmReach", "--by", "expert", "--episodes", "2", "--out", str(ds)]) == 0

    def small_files():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (2000, 2000))

    result = subprocess.run([sys.executable, "-m", "robolearn", "record", "ArmReach", "--by", "expert",
                             "--episodes", "2", "--out", str(ds)], preexec_fn=small_files, capture_output=True,
                            text=True, env=os.environ, timeout=300)
    assert result.returncode != 0
    assert "recording stopped" in result.stderr and "2 episodes" not in result.stderr
    assert validate_dataset(ds)["episodes"] == 2
    assert not list(ds.rglob("*.tmp*"))
