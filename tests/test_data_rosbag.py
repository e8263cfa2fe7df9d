"""Episodes to rosbag2 MCAP and back, read by `rosbags` as a ROS 2 tool would."""

import warnings

import numpy as np
import pytest

pytest.importorskip("rosbags")

from robolearn.data.episodes import EpisodeEnded, policy_source, record_episode  # noqa: E402
from robolearn.data.rosbag import BagError, export_bag, import_bag  # noqa: E402
from robolearn.data.transitions import scripted_expert  # noqa: E402
from robolearn.envs.registry import make_env  # noqa: E402


@pytest.fixture(scope="module")
def episodes():
    env = make_env("ArmReach", image=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            expert = scripted_expert(env)
            first = record_episode(env, policy_source(expert), seed=0, task="reach")
            count = iter(range(100))

            def short(obs):
                if next(count) == 7:
                    raise EpisodeEnded("failure")
                return expert(obs), True

            return [first, record_episode(env, short, seed=1, task="reach")]
    finally:
        env.close()


def test_mcap_round_trip_keeps_states_actions_flags_and_frames(episodes, tmp_path):
    bag = export_bag(episodes, tmp_path / "bag")
    assert (bag / "metadata.yaml").is_file() and list(bag.glob("*.mcap"))
    back = import_bag(bag)
    assert len(back) == 2
    for a, b in zip(episodes, back):
        for name in ("states", "requested_actions", "applied_actions", "rewards", "terminated", "truncated",
                     "interventions", "images"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
        np.testing.assert_allclose(b.times, a.times - a.times[0], atol=2e-9)
        assert (a.task, a.success) == (b.task, b.success)


def test_mcap_is_readable_by_rosbags_with_standard_types(episodes, tmp_path):
    from rosbags.highlevel import AnyReader

    bag = export_bag(episodes[:1], tmp_path / "bag")
    with AnyReader([bag]) as reader:
        types = {c.topic: c.msgtype for c in reader.connections}
        assert types["camera/image_raw"] == "sensor_msgs/msg/Image"
        assert types["action"] == "std_msgs/msg/Float32MultiArray"
        n = sum(1 for c, _, _ in reader.messages([c for c in reader.connections if c.topic == "action"]))
    assert n == len(episodes[0])


def test_corrupt_bag_and_overwrite_are_refused(episodes, tmp_path):
    bag = export_bag(episodes[:1], tmp_path / "bag")
    with pytest.raises(FileExistsError):
        export_bag(episodes[:1], bag)
    mcap = next(bag.glob("*.mcap"))
    mcap.write_bytes(mcap.read_bytes()[: mcap.stat().st_size // 3])
    with pytest.raises(BagError, match="bag"):
        import_bag(bag)


def test_driver_bag_converts_to_a_dataset(tmp_path):
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    from robolearn.cli import main
    from robolearn.data.lerobot_format import read_dataset

    store = get_typestore(Stores.ROS2_JAZZY)
    T = store.types
    bag = tmp_path / "robot-bag"
    names = ["shoulder_pan", "elbow_flex"]
    with Writer(bag, version=9, storage_plugin=StoragePlugin.MCAP) as w:  # what `ros2 bag record` writes
        js = w.add_connection("/joint_states", "sensor_msgs/msg/JointState", typestore=store)
        jc = w.add_connection("/joint_commands", "std_msgs/msg/Float64MultiArray", typestore=store)
        for i in range(6):
            t = 1_000_000_000 + i * 20_000_000
            header = T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](sec=1, nanosec=i * 20_000_000),
                                              frame_id="")
            state = T["sensor_msgs/msg/JointState"](header=header, name=names,
                                                   position=np.array([0.1 * i, -0.1 * i]),
                                                   velocity=np.array([0.5, -0.5]), effort=np.zeros(2))
            w.write(js, t, store.serialize_cdr(state, "sensor_msgs/msg/JointState"))
            layout = T["std_msgs/msg/MultiArrayLayout"](dim=[], data_offset=0)
            cmd = T["std_msgs/msg/Float64MultiArray"](layout=layout, data=np.array([0.1 * i + 0.05, -0.1 * i]))
            w.write(jc, t + 1_000_000, store.serialize_cdr(cmd, "std_msgs/msg/Float64MultiArray"))
    assert main(["dataset", "convert", str(bag), str(tmp_path / "ds"), "--robot", "so101_arm"]) == 0
    e = read_dataset(tmp_path / "ds")[0]
    assert len(e) == 5
    np.testing.assert_allclose(e.states[:, 0], 0.1 * np.arange(6), atol=1e-6)
    np.testing.assert_allclose(e.applied_actions[:, 0], 0.1 * np.arange(5) + 0.05, atol=1e-6)
    np.testing.assert_allclose(np.diff(e.times), 0.02, atol=1e-9)
