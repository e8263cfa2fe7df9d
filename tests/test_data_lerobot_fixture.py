"""A dataset written by LeRobot 0.6.1 itself (tests/fixtures/lerobot_v3_tiny, made by
tests/fixtures/make_lerobot_fixture.py) read by robolearn, and robolearn's output in the same schema."""

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pyarrow")
pytest.importorskip("av")
import pyarrow.parquet as pq  # noqa: E402

from robolearn.data.episodes import policy_source, record_episode  # noqa: E402
from robolearn.data.lerobot_format import DatasetError, read_dataset, validate_dataset, write_dataset  # noqa: E402
from robolearn.data.transitions import scripted_expert  # noqa: E402
from robolearn.envs.registry import make_env  # noqa: E402

FIXTURE = Path(__file__).parent / "fixtures" / "lerobot_v3_tiny"


def frame_values(ep, i):
    # The generator imports lerobot at module level; recompute its formula here instead.
    return (np.array([ep + i * 0.1, -i * 0.25, 0.5], np.float32),
            np.array([np.sin(i + ep), np.cos(i)], np.float32), (40 * i + 20 * ep) % 256)


def test_robolearn_reads_what_lerobot_wrote():
    episodes = read_dataset(FIXTURE)
    assert [len(e) for e in episodes] == [5, 4]
    for ep, e in enumerate(episodes):
        for i in range(len(e)):
            state, action, grey = frame_values(ep, i)
            np.testing.assert_array_equal(e.states[i], state)
            np.testing.assert_array_equal(e.applied_actions[i], action)
            assert abs(float(e.images[i].mean()) - grey) < 3.0  # AV1 at CRF 30
        assert e.task == "reach the cube" and not e.interventions.any()
        assert e.truncated[-1] and not e.terminated.any()
    assert validate_dataset(FIXTURE)["frames"] == 9


@pytest.fixture(scope="module")
def robolearn_dataset(tmp_path_factory):
    env = make_env("ArmReach", image=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            e = record_episode(env, policy_source(scripted_expert(env)), seed=0, task="reach")
        s = env.unwrapped.robot.spec
        return write_dataset(tmp_path_factory.mktemp("ds") / "ds", [e], s.control_rate_hz, s.name,
                             action_names=s.command_names)
    finally:
        env.close()


def _first(root, pattern):
    return next(iter(sorted(root.glob(pattern))))


def test_robolearn_writes_lerobots_schema(robolearn_dataset):
    ours, theirs = robolearn_dataset, FIXTURE
    info_ours = json.loads((ours / "meta" / "info.json").read_text())
    info_theirs = json.loads((theirs / "meta" / "info.json").read_text())
    assert set(info_theirs) <= set(info_ours)
    for key in ("timestamp", "frame_index", "episode_index", "index", "task_index"):
        assert info_ours["features"][key] == info_theirs["features"][key]
    for pattern in ("data/chunk-*/file-*.parquet", "meta/episodes/chunk-*/file-*.parquet", "meta/tasks.parquet"):
        a, b = pq.read_schema(_first(ours, pattern)), pq.read_schema(_first(theirs, pattern))
        for field in b:
            # The fixture's camera is called "front", ours "camera"; its per-camera columns differ by name only.
            if "observation.images" in field.name:
                continue
            assert field.name in a.names, f"{pattern}: column {field.name} missing"
            assert _kind(a.field(field.name).type) == _kind(field.type), (pattern, field.name)


def _kind(arrow_type):
    """A column's type up to vector length: LeRobot writes fixed-size lists of the feature's dtype."""
    import pyarrow as pa

    if pa.types.is_fixed_size_list(arrow_type) or pa.types.is_list(arrow_type):
        return ("list", _kind(arrow_type.value_type))
    return "int" if pa.types.is_integer(arrow_type) else str(arrow_type)


def test_validate_names_missing_field_in_lerobot_dataset(tmp_path):
    root = tmp_path / "ds"
    shutil.copytree(FIXTURE, root)
    info = json.loads((root / "meta" / "info.json").read_text())
    del info["features"]["action"]
    (root / "meta" / "info.json").write_text(json.dumps(info))
    with pytest.raises(DatasetError, match=r"info.json.*'action'"):
        validate_dataset(root)
    shutil.rmtree(root / "data")
    shutil.copytree(FIXTURE / "meta", root / "meta", dirs_exist_ok=True)
    with pytest.raises(DatasetError, match=r"file-000.parquet does not exist"):
        validate_dataset(root)
