"""Episodes recorded in the sim through the safety layer, written as a LeRobot v3 dataset and read back."""

import json
import warnings

import numpy as np
import pytest

pytest.importorskip("pyarrow")
pytest.importorskip("av")

from robolearn.data.episodes import EpisodeEnded, policy_source, record_episode  # noqa: E402
from robolearn.data.lerobot_format import (DatasetError, LeRobotWriter, read_dataset,  # noqa: E402
                                           validate_dataset, write_dataset)
from robolearn.data.transitions import scripted_expert  # noqa: E402
from robolearn.envs.registry import make_env  # noqa: E402


@pytest.fixture(scope="module")
def recorded():
    env = make_env("ArmReach")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            episodes = [record_episode(env, policy_source(scripted_expert(env)), seed=s, task="reach")
                        for s in range(2)]
        spec = env.unwrapped.robot.spec
        return episodes, spec
    finally:
        env.close()


def test_recorded_episode_keeps_requested_applied_and_measured_times(recorded):
    episodes, _ = recorded
    e = episodes[0]
    assert len(e) > 0 and e.states.shape[0] == len(e) + 1
    assert np.all(np.diff(e.times) >= 0) and 0.0 <= e.times[0] < 0.1
    # The measured times are not the nominal grid (sim runs faster than real time)
    assert not np.allclose(e.times, np.arange(len(e)) / 30.0)
    assert np.all(np.abs(e.requested_actions) <= 1.0)
    assert not e.interventions.any()


def test_slow_loop_warns_with_real_rate():
    env = make_env("ArmReach")
    ticks = iter(np.arange(0, 1000, 1.0))  # a fake clock: one second per call, far below the task's rate
    try:
        with pytest.warns(RuntimeWarning, match="below the task"):
            e = record_episode(env, policy_source(scripted_expert(env)), seed=0, clock=lambda: next(ticks))
    finally:
        env.close()
    assert e.achieved_rate_hz <= 1.0


def test_round_trip_is_bit_exact(recorded, tmp_path):
    episodes, spec = recorded
    write_dataset(tmp_path / "ds", episodes, spec.control_rate_hz, spec.name, action_names=spec.command_names)
    back = read_dataset(tmp_path / "ds")
    assert len(back) == 2 and all(a.equals(b) for a, b in zip(episodes, back))
    info = json.loads((tmp_path / "ds" / "meta" / "info.json").read_text())
    assert info["codebase_version"] == "v3.0" and info["total_frames"] == sum(len(e) for e in episodes)
    stats = json.loads((tmp_path / "ds" / "meta" / "stats.json").read_text())
    assert stats["action"]["count"] == [info["total_frames"]]


def test_resume_appends_and_other_robot_refused(recorded, tmp_path):
    episodes, spec = recorded
    write_dataset(tmp_path / "ds", episodes[:1], spec.control_rate_hz, spec.name, action_names=spec.command_names)
    write_dataset(tmp_path / "ds", episodes[1:], spec.control_rate_hz, spec.name, action_names=spec.command_names)
    assert [len(e) for e in read_dataset(tmp_path / "ds")] == [len(e) for e in episodes]
    with pytest.raises(DatasetError, match="info.json"):
        LeRobotWriter(tmp_path / "ds", 10.0, "other", ["x"], ["y"])


def test_video_frames_round_trip_within_psnr(tmp_path):
    env = make_env("ArmReach", image=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            steps = iter(range(10**6))

            def source(obs):
                if next(steps) >= 12:
                    raise EpisodeEnded("success")
                return np.zeros(env.action_space.shape), True

            e = record_episode(env, source, seed=0)
    finally:
        env.close()
    assert e.success is True and e.interventions.all() and e.images is not None
    write_dataset(tmp_path / "ds", [e], 30.0, "so101_arm")
    back = read_dataset(tmp_path / "ds")[0]
    np.testing.assert_array_equal(back.applied_actions, e.applied_actions)
    mse = np.mean((back.images.astype(float) - e.images.astype(float)) ** 2)
    assert 10 * np.log10(255**2 / max(mse, 1e-12)) > 30.0
    assert back.success is True


def test_corrupt_or_truncated_dataset_names_file_and_field(recorded, tmp_path):
    episodes, spec = recorded
    root = write_dataset(tmp_path / "ds", episodes, spec.control_rate_hz, spec.name)
    data = sorted((root / "data").rglob("*.parquet"))[1]
    data.write_bytes(data.read_bytes()[:100])
    with pytest.raises(DatasetError, match=str(data.name)):
        validate_dataset(root)
    info_path = root / "meta" / "info.json"
    info = json.loads(info_path.read_text())
    info["codebase_version"] = "v2.1"
    info_path.write_text(json.dumps(info))
    with pytest.raises(DatasetError, match="codebase_version"):
        validate_dataset(root)
    with pytest.raises(DatasetError, match="is not a LeRobot v3 dataset"):
        validate_dataset(tmp_path)
