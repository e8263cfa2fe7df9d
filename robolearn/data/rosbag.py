"""Episodes as a rosbag2 MCAP bag with standard messages, through the `rosbags` library (no rclpy).

Topics (relative names, as the drivers use): `observation/state`, `action` (applied), `action/requested`
(std_msgs/Float32MultiArray, so float32 states and actions survive bit-exact), `step` (Float32MultiArray
labelled reward, terminated, truncated, intervention), `camera/image_raw` (sensor_msgs/Image, rgb8) and
`episode` (std_msgs/String, JSON: index, task, success) marking each episode's start. A message's bag
time is the step's measured time (nanoseconds), so ROS tools replay the loop as it really ran.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from robolearn.data.episodes import Episode

STEP_LABELS = ("reward", "terminated", "truncated", "intervention")
TOPICS = {"state": ("observation/state", "std_msgs/msg/Float32MultiArray"),
          "action": ("action", "std_msgs/msg/Float32MultiArray"),
          "requested": ("action/requested", "std_msgs/msg/Float32MultiArray"),
          "step": ("step", "std_msgs/msg/Float32MultiArray"),
          "image": ("camera/image_raw", "sensor_msgs/msg/Image"),
          "episode": ("episode", "std_msgs/msg/String")}


class BagError(ValueError):
    """A bag that cannot be converted; the message names the file and the topic."""


def _typestore():
    try:
        from rosbags.typesys import Stores, get_typestore
    except ImportError as exc:
        raise ImportError("MCAP bags need rosbags: pip install 'robolearn[data]'") from exc
    return get_typestore(Stores.ROS2_JAZZY)


def export_bag(episodes: Sequence[Episode], path: str | os.PathLike, frame_id: str = "camera") -> Path:
    """Write `episodes` to a new rosbag2 folder `path` (MCAP storage); refuses to overwrite one."""
    from rosbags.rosbag2 import StoragePlugin, Writer

    store = _typestore()
    msg = store.types
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"{path} exists: rosbag2 writes a new folder; choose another --out")
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conns = {k: writer.add_connection(topic, kind, typestore=store) for k, (topic, kind) in TOPICS.items()
                 if k != "image" or any(e.images is not None for e in episodes)}
        Layout, Dim = msg["std_msgs/msg/MultiArrayLayout"], msg["std_msgs/msg/MultiArrayDimension"]

        def array(values: np.ndarray, label: str):
            values = np.asarray(values, dtype=np.float32)
            layout = Layout(dim=[Dim(label=label, size=len(values), stride=len(values))], data_offset=0)
            return msg["std_msgs/msg/Float32MultiArray"](layout=layout, data=values)

        def put(key: str, stamp_ns: int, message) -> None:
            writer.write(conns[key], stamp_ns, store.serialize_cdr(message, TOPICS[key][1]))

        offset_ns = 0
        for index, e in enumerate(episodes):
            period = float(np.median(np.diff(e.times))) if len(e) > 1 else 0.0
            stamps = [offset_ns + int(round(t * 1e9)) for t in e.times] + \
                     [offset_ns + int(round((e.times[-1] + period) * 1e9)) if len(e) else offset_ns]
            put("episode", stamps[0], msg["std_msgs/msg/String"](data=json.dumps(
                {"index": index, "task": e.task, "success": e.success})))
            for i, stamp in enumerate(stamps):
                put("state", stamp, array(e.states[i], "state"))
                if e.images is not None:
                    put("image", stamp, _image_msg(msg, e.images[i], stamp, frame_id))
                if i < len(e):
                    put("requested", stamp, array(e.requested_actions[i], "action"))
                    put("action", stamp, array(e.applied_actions[i], "action"))
                    put("step", stamp, array(np.array([e.rewards[i], e.terminated[i], e.truncated[i],
                                                       e.interventions[i]], np.float32), ",".join(STEP_LABELS)))
            offset_ns = stamps[-1] + 1_000_000_000  # a one-second gap between episodes
    return path


def _image_msg(msg, image: np.ndarray, stamp_ns: int, frame_id: str):
    h, w, _ = image.shape
    header = msg["std_msgs/msg/Header"](stamp=msg["builtin_interfaces/msg/Time"](
        sec=stamp_ns // 1_000_000_000, nanosec=stamp_ns % 1_000_000_000), frame_id=frame_id)
    return msg["sensor_msgs/msg/Image"](header=header, height=h, width=w, encoding="rgb8", is_bigendian=0,
                                        step=w * 3, data=np.ascontiguousarray(image).reshape(-1))


def import_bag(path: str | os.PathLike) -> list[Episode]:
    """Episodes from a bag written by `export_bag` (or by a recorder publishing the same topics)."""
    from rosbags.rosbag2 import Reader

    store = _typestore()
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"bag {path} not found: give the rosbag2 folder (holding metadata.yaml)")
    try:
        reader = Reader(path)
        reader.open()
    except Exception as exc:
        raise BagError(f"{path}: not a readable rosbag2 bag ({exc})") from exc
    episodes: list[dict] = []
    try:
        topics = {topic: key for key, (topic, _) in TOPICS.items()}
        conns = [c for c in reader.connections if c.topic.lstrip("/") in topics]
        missing = {"observation/state", "action", "step", "episode"} - {c.topic.lstrip("/") for c in conns}
        if missing:
            raise BagError(f"{path}: topics {sorted(missing)} are missing (found "
                           f"{sorted(c.topic for c in reader.connections)})")
        first_ns = None
        for conn, stamp, raw in reader.messages(connections=conns):
            key = topics[conn.topic.lstrip("/")]
            try:
                message = store.deserialize_cdr(raw, conn.msgtype)
            except Exception as exc:
                raise BagError(f"{path}: topic {conn.topic} holds an undecodable message ({exc})") from exc
            if key == "episode":
                meta = json.loads(message.data)
                episodes.append({"meta": meta, **{k: [] for k in ("state", "action", "requested", "step", "image", "t")}})
                first_ns = stamp
                continue
            if not episodes:
                raise BagError(f"{path}: topic {conn.topic} has a message before the first `episode` marker")
            ep = episodes[-1]
            if key == "image":
                ep["image"].append(np.asarray(message.data, np.uint8).reshape(message.height, message.width, 3))
            else:
                ep[key].append(np.asarray(message.data, np.float32))
            if key == "step":
                ep["t"].append((stamp - first_ns) / 1e9)
    except BagError:
        raise
    except Exception as exc:  # rosbags' own errors for a cut or corrupt file
        raise BagError(f"{path}: the bag is truncated or corrupt ({type(exc).__name__}: {exc})") from exc
    finally:
        reader.close()
    return [_episode(path, e) for e in episodes]


def _episode(path: Path, e: dict) -> Episode:
    steps = np.asarray(e["step"], np.float32).reshape(-1, len(STEP_LABELS))
    try:
        return Episode(
            states=np.asarray(e["state"], np.float32), applied_actions=np.asarray(e["action"], np.float32),
            requested_actions=np.asarray(e["requested"] or e["action"], np.float32), rewards=steps[:, 0],
            terminated=steps[:, 1] > 0.5, truncated=steps[:, 2] > 0.5, interventions=steps[:, 3] > 0.5,
            times=np.asarray(e["t"], np.float64), images=np.asarray(e["image"], np.uint8) if e["image"] else None,
            task=e["meta"].get("task", ""), success=e["meta"].get("success"),
        )
    except ValueError as exc:
        raise BagError(f"{path}: episode {e['meta'].get('index')} is incomplete ({exc}): the bag was cut short") from exc


def import_driver_bag(path: str | os.PathLike, state_topic: str = "joint_states",
                      command_topic: str = "joint_commands") -> tuple[list[str], Episode]:
    """One episode in robot units from a bag of the driver's own topics (`ros2 bag record -s mcap
    joint_states joint_commands` on the robot): each command is paired with the newest joint state before
    it; the state is [positions, velocities]. Returns (state names, episode)."""
    from rosbags.highlevel import AnyReader

    path = Path(path)
    if not (path / "metadata.yaml").is_file():
        raise FileNotFoundError(f"bag {path} not found: give the rosbag2 folder (holding metadata.yaml)")
    names: list[str] = []
    states, commands, times = [], [], []
    latest = None
    try:
        with AnyReader([path]) as reader:
            conns = [c for c in reader.connections if c.topic.lstrip("/").endswith((state_topic, command_topic))]
            found = {c.topic.lstrip("/").rsplit("/", 1)[-1] for c in conns}
            if {state_topic, command_topic} - found:
                raise BagError(f"{path}: topics {sorted({state_topic, command_topic} - found)} are missing (found "
                               f"{sorted(c.topic for c in reader.connections)})")
            for conn, stamp, raw in reader.messages(connections=conns):
                message = reader.deserialize(raw, conn.msgtype)
                if conn.topic.lstrip("/").endswith(state_topic):
                    names = list(message.name)
                    latest = np.concatenate([message.position, message.velocity]).astype(np.float32)
                elif latest is not None:
                    states.append(latest)
                    commands.append(np.asarray(message.data, np.float32))
                    times.append(stamp / 1e9)
    except BagError:
        raise
    except Exception as exc:
        raise BagError(f"{path}: the bag is truncated or corrupt ({type(exc).__name__}: {exc})") from exc
    if len(commands) < 2:
        raise BagError(f"{path}: fewer than 2 commands after the first joint state: nothing to convert")
    t = np.asarray(times[:-1], np.float64)
    episode = Episode(states=np.asarray(states, np.float32), requested_actions=np.asarray(commands[:-1]),
                      applied_actions=np.asarray(commands[:-1]), rewards=np.zeros(len(t), np.float32),
                      terminated=np.zeros(len(t), bool), truncated=np.arange(len(t)) == len(t) - 1,
                      times=t - t[0], interventions=np.zeros(len(t), bool), task="recorded on the robot")
    return [f"{n}.pos" for n in names] + [f"{n}.vel" for n in names], episode
