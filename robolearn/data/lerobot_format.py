"""Episodes as a LeRobot v3.0 dataset (parquet + meta/info.json, stats, episodes; camera streams as mp4).

Layout and fields follow LeRobot's own writer (see RECIPES.md section 9) so `lerobot` loads what
robolearn records and robolearn reads what LeRobot users record. Each episode is flushed as its own data,
episode and video file as soon as it ends, and the metadata is rewritten atomically afterwards: a crash
or Ctrl-C loses at most the episode in progress, and a resumed recording appends new files.

`timestamp` sits on the fps grid as LeRobot expects (video frames are looked up by it); the measured time
of every step is kept in `time_s`. robolearn's extra fields (`action.requested`, `intervention`, ...) are
ordinary features to LeRobot; datasets without them read back with neutral defaults.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from robolearn.data.episodes import Episode
from robolearn.files import write_atomically

CODEBASE_VERSION = "v3.0"
CHUNKS_SIZE = 1000
STATE, ACTION, IMAGE = "observation.state", "action", "observation.images.camera"
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
EPISODES_PATH = "meta/episodes/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
INDEX_FEATURES = {"timestamp": "float32", "frame_index": "int64", "episode_index": "int64", "index": "int64",
                  "task_index": "int64"}
STAT_QUANTILES = {"q01": 0.01, "q10": 0.10, "q50": 0.50, "q90": 0.90, "q99": 0.99}


class DatasetError(ValueError):
    """A dataset that cannot be used; the message names the file and the field, and what to do."""


def _pa():
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise ImportError("LeRobot datasets need pyarrow: pip install 'robolearn[data]'") from exc
    return pa, pq


# ------------------------------------------------------------------------------------------ writing
class LeRobotWriter:
    """Appends episodes to a LeRobot v3 dataset folder, creating it or resuming it."""

    def __init__(self, root: str | os.PathLike, fps: float, robot_type: str, state_names: Sequence[str],
                 action_names: Sequence[str], image_shape: tuple[int, int, int] | None = None) -> None:
        self.root = Path(root)
        self.fps = float(fps)
        features = _robolearn_features(list(state_names), list(action_names), image_shape, self.fps)
        if (self.root / "meta" / "info.json").exists():
            self.info = read_info(self.root)
            if self.info["features"] != features or float(self.info["fps"]) != self.fps:
                raise DatasetError(f"{self.root / 'meta' / 'info.json'}: this dataset was recorded with other "
                                   f"features or fps than {robot_type} at {fps:g} Hz: record into a new folder")
            self.tasks = _read_tasks(self.root)
            self.stats_rows = [_episode_stats_from_row(r) for r in _read_episode_rows(self.root)]
        else:
            self.info = {
                "codebase_version": CODEBASE_VERSION, "robot_type": robot_type, "total_episodes": 0,
                "total_frames": 0, "total_tasks": 0, "chunks_size": CHUNKS_SIZE, "data_files_size_in_mb": 100,
                "video_files_size_in_mb": 200, "fps": self.fps, "splits": {}, "data_path": DATA_PATH,
                "video_path": VIDEO_PATH if image_shape else None, "features": features,
            }
            self.tasks: dict[str, int] = {}
            self.stats_rows: list[dict[str, dict[str, np.ndarray]]] = []

    def add(self, episode: Episode) -> int:
        """Write `episode` to disk now and return its index."""
        pa, pq = _pa()
        ep = int(self.info["total_episodes"])
        first = int(self.info["total_frames"])
        t = len(episode)
        task_index = self.tasks.setdefault(episode.task, len(self.tasks))
        loc = {"chunk_index": ep // CHUNKS_SIZE, "file_index": ep % CHUNKS_SIZE}
        columns = _frame_columns(episode, self.fps, ep, first, task_index)
        table = pa.table({k: _arrow_column(pa, v) for k, v in columns.items()})
        _write_parquet(pq, self.root / DATA_PATH.format(**loc), table)
        row: dict[str, Any] = {
            "episode_index": ep, "tasks": [episode.task], "length": t, "dataset_from_index": first,
            "dataset_to_index": first + t, "data/chunk_index": loc["chunk_index"],
            "data/file_index": loc["file_index"], "meta/episodes/chunk_index": loc["chunk_index"],
            "meta/episodes/file_index": loc["file_index"],
            "success": -1 if episode.success is None else int(episode.success),
        }
        if episode.images is not None:
            key = IMAGE
            write_video(self.root / VIDEO_PATH.format(video_key=key, **loc), episode.images, self.fps)
            row.update({f"videos/{key}/chunk_index": loc["chunk_index"], f"videos/{key}/file_index": loc["file_index"],
                        f"videos/{key}/from_timestamp": 0.0, f"videos/{key}/to_timestamp": len(episode.images) / self.fps})
        stats = {name: _stats(columns[name]) for name in columns if name in self.info["features"]
                 and self.info["features"][name]["dtype"] not in ("video", "image", "string")}
        for name, st in stats.items():
            for stat, value in st.items():
                row[f"stats/{name}/{stat}"] = value.tolist()
        _write_parquet(pq, self.root / EPISODES_PATH.format(**loc), pa.Table.from_pylist([row]))
        self.stats_rows.append(stats)
        self.info["total_episodes"] = ep + 1
        self.info["total_frames"] = first + t
        self.info["total_tasks"] = len(self.tasks)
        self.info["splits"] = {"train": f"0:{ep + 1}"}
        self._write_meta()
        return ep

    def _write_meta(self) -> None:
        pa, pq = _pa()
        names = sorted(self.tasks, key=self.tasks.get)
        # LeRobot reads tasks.parquet with pandas, the task string as the frame's index.
        table = pa.table({"task_index": pa.array([self.tasks[n] for n in names], pa.int64()),
                          "task": pa.array(names, pa.string())})
        pandas_meta = {"index_columns": ["task"], "column_indexes": [], "columns": [
            {"name": "task_index", "field_name": "task_index", "pandas_type": "int64", "numpy_type": "int64",
             "metadata": None},
            {"name": "task", "field_name": "task", "pandas_type": "unicode", "numpy_type": "object",
             "metadata": None}], "pandas_version": "2.2.0"}
        table = table.replace_schema_metadata({b"pandas": json.dumps(pandas_meta).encode()})
        _write_parquet(pq, self.root / "meta" / "tasks.parquet", table)
        write_atomically(self.root / "meta" / "stats.json",
                         json.dumps(_merge_stats(self.stats_rows), indent=2).encode())
        write_atomically(self.root / "meta" / "info.json", json.dumps(self.info, indent=2).encode())


def write_dataset(root: str | os.PathLike, episodes: Sequence[Episode], fps: float, robot_type: str,
                  state_names: Sequence[str] | None = None, action_names: Sequence[str] | None = None) -> Path:
    """Write (or append) `episodes` to a LeRobot v3 dataset at `root`."""
    if not episodes:
        raise ValueError("no episodes to write")
    e0 = episodes[0]
    writer = LeRobotWriter(root, fps, robot_type,
                           state_names or [f"state_{i}" for i in range(e0.states.shape[1])],
                           action_names or [f"action_{i}" for i in range(e0.applied_actions.shape[1])],
                           None if e0.images is None else tuple(e0.images.shape[1:]))
    for episode in episodes:
        writer.add(episode)
    return Path(root)


def _robolearn_features(state_names: list[str], action_names: list[str], image_shape, fps: float) -> dict:
    def vec(names: list[str], dtype: str = "float32") -> dict:
        return {"dtype": dtype, "shape": [len(names)], "names": names}

    def scalar(dtype: str) -> dict:
        return {"dtype": dtype, "shape": [1], "names": None}

    features: dict[str, Any] = {
        STATE: vec(state_names), "next.observation.state": vec(state_names), ACTION: vec(action_names),
        "action.requested": vec(action_names), "next.reward": scalar("float32"), "next.done": scalar("bool"),
        "next.terminated": scalar("bool"), "next.truncated": scalar("bool"), "intervention": scalar("bool"),
        "time_s": scalar("float64"),
    }
    if image_shape:
        h, w, c = image_shape
        features[IMAGE] = {"dtype": "video", "shape": [h, w, c], "names": ["height", "width", "channels"],
                           "info": {"video.fps": fps, "video.height": h, "video.width": w, "video.channels": c,
                                    "video.codec": "h264", "video.pix_fmt": "yuv420p", "video.is_depth_map": False,
                                    "has_audio": False}}
    features.update({k: scalar(v) for k, v in INDEX_FEATURES.items()})
    return features


def _frame_columns(e: Episode, fps: float, ep: int, first: int, task_index: int) -> dict[str, np.ndarray]:
    t = len(e)
    frame = np.arange(t, dtype=np.int64)
    return {
        STATE: e.states[:-1], "next.observation.state": e.states[1:], ACTION: e.applied_actions,
        "action.requested": e.requested_actions, "next.reward": e.rewards.astype(np.float32),
        "next.done": e.terminated | e.truncated, "next.terminated": e.terminated, "next.truncated": e.truncated,
        "intervention": e.interventions, "time_s": e.times.astype(np.float64),
        "timestamp": (frame / fps).astype(np.float32), "frame_index": frame,
        "episode_index": np.full(t, ep, np.int64), "index": first + frame,
        "task_index": np.full(t, task_index, np.int64),
    }


def _arrow_column(pa, values: np.ndarray):
    if values.ndim == 2:  # LeRobot stores vectors as fixed-size lists
        return pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), values.shape[1])
    return pa.array(values)


def _write_parquet(pq, path: Path, table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk must not leave half a file behind
        raise


def _stats(values: np.ndarray) -> dict[str, np.ndarray]:
    v = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    out = {"min": v.min(0), "max": v.max(0), "mean": v.mean(0), "std": v.std(0), "count": np.array([len(v)])}
    out.update({k: np.quantile(v, q, axis=0) for k, q in STAT_QUANTILES.items()})
    return out


def _merge_stats(per_episode: list[dict[str, dict[str, np.ndarray]]]) -> dict:
    """Count-weighted mean and pooled variance; quantiles as count-weighted means (an envelope, as LeRobot)."""
    merged: dict[str, dict[str, list]] = {}
    for name in (per_episode[0] if per_episode else {}):
        parts = [p[name] for p in per_episode]
        n = np.array([float(p["count"][0]) for p in parts])
        means = np.stack([p["mean"] for p in parts])
        mean = (n[:, None] * means).sum(0) / n.sum()
        var = (n[:, None] * (np.stack([p["std"] for p in parts]) ** 2 + (means - mean) ** 2)).sum(0) / n.sum()
        out = {"min": np.min([p["min"] for p in parts], 0), "max": np.max([p["max"] for p in parts], 0),
               "mean": mean, "std": np.sqrt(var), "count": np.array([int(n.sum())])}
        out.update({k: (n[:, None] * np.stack([p[k] for p in parts])).sum(0) / n.sum() for k in STAT_QUANTILES})
        merged[name] = {k: v.tolist() for k, v in out.items()}
    return merged


def _episode_stats_from_row(row: dict) -> dict[str, dict[str, np.ndarray]]:
    stats: dict[str, dict[str, np.ndarray]] = {}
    for key, value in row.items():
        if key.startswith("stats/") and value is not None:
            name, stat = key[len("stats/"):].rsplit("/", 1)
            stats.setdefault(name, {})[stat] = np.asarray(value, dtype=np.float64)
    return stats


# ------------------------------------------------------------------------------------------- video
def write_video(path: Path, frames: np.ndarray, fps: float) -> None:
    """uint8 (N, H, W, 3) frames as an H.264 mp4 (PyAV), written to a temp file and renamed when complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.mp4")
    try:
        _encode(tmp, frames, fps)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk must not leave half a file behind
        raise


def _encode(path: Path, frames: np.ndarray, fps: float) -> None:
    import av
    from fractions import Fraction

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000))
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "10", "g": "2"}
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")))
        container.mux(stream.encode())


def read_video(path: Path, start_s: float = 0.0, end_s: float = float("inf")) -> np.ndarray:
    """RGB frames whose presentation time lies in [start_s, end_s) (PyAV decodes any codec LeRobot writes)."""
    import av

    frames = []
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                t = float(frame.time or 0.0)
                if start_s - 1e-4 <= t < end_s - 1e-4:
                    frames.append(frame.to_ndarray(format="rgb24"))
    except av.error.FFmpegError as exc:
        raise DatasetError(f"{path}: unreadable video ({exc}): re-record or re-convert the episode") from exc
    return np.asarray(frames, dtype=np.uint8)


# ------------------------------------------------------------------------------------------ reading
def read_info(root: str | os.PathLike) -> dict:
    path = Path(root) / "meta" / "info.json"
    if not path.is_file():
        raise DatasetError(f"{path} does not exist: {root} is not a LeRobot v3 dataset (give the dataset's root "
                           f"folder, the one holding meta/ and data/)")
    try:
        info = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path} is not valid JSON ({exc})") from exc
    version = info.get("codebase_version")
    if version != CODEBASE_VERSION:
        raise DatasetError(f"{path}: field codebase_version is {version!r}, robolearn reads {CODEBASE_VERSION!r} "
                           f"(convert older datasets with lerobot.scripts.convert_dataset_v21_to_v30)")
    for field, kind in (("fps", (int, float)), ("features", dict), ("total_episodes", int), ("data_path", str)):
        if not isinstance(info.get(field), kind):
            raise DatasetError(f"{path}: field {field} is missing or not a {kind}")
    if not info["fps"] > 0:
        raise DatasetError(f"{path}: field fps must be > 0, got {info['fps']}")
    for name, feature in info["features"].items():
        if not isinstance(feature, dict) or "dtype" not in feature or "shape" not in feature:
            raise DatasetError(f"{path}: feature {name!r} needs dtype and shape, got {feature!r}")
    return info


def _read_episode_rows(root: Path) -> list[dict]:
    _, pq = _pa()
    files = sorted((root / "meta" / "episodes").glob("chunk-*/file-*.parquet"))
    rows: list[dict] = []
    for f in files:
        try:
            rows.extend(pq.read_table(f).to_pylist())
        except Exception as exc:
            raise DatasetError(f"{f}: unreadable episodes parquet ({exc})") from exc
    return sorted(rows, key=lambda r: r["episode_index"])


def _read_tasks(root: Path) -> dict[str, int]:
    _, pq = _pa()
    path = root / "meta" / "tasks.parquet"
    if not path.is_file():
        return {}
    table = pq.read_table(path)
    cols = table.column_names
    if "task" not in cols and "__index_level_0__" not in cols:
        raise DatasetError(f"{path}: no task column (found {cols})")
    names = table.column("task" if "task" in cols else "__index_level_0__").to_pylist()
    return dict(zip(names, table.column("task_index").to_pylist()))


def read_dataset(root: str | os.PathLike, episodes: Sequence[int] | None = None,
                 images: bool = True) -> list[Episode]:
    """Episodes of a LeRobot v3 dataset, written by robolearn or by LeRobot, checked as they are read."""
    root = Path(root)
    info = read_info(root)
    features = info["features"]
    _, pq = _pa()
    for name in (STATE, ACTION):
        if name not in features:
            raise DatasetError(f"{root / 'meta' / 'info.json'}: feature {name!r} is missing (found "
                               f"{sorted(features)}); robolearn needs the robot state and the action")
    rows = _read_episode_rows(root)
    if len(rows) != info["total_episodes"]:
        raise DatasetError(f"{root / 'meta' / 'episodes'}: {len(rows)} episode rows, meta/info.json field "
                           f"total_episodes says {info['total_episodes']}: the dataset is truncated")
    tasks = {i: t for t, i in _read_tasks(root).items()}
    video_keys = [k for k, f in features.items() if f["dtype"] == "video"]
    cache: dict[Path, dict[str, np.ndarray]] = {}
    out = []
    for row in rows:
        if episodes is not None and row["episode_index"] not in episodes:
            continue
        path = root / info["data_path"].format(chunk_index=row["data/chunk_index"], file_index=row["data/file_index"])
        if path not in cache:
            cache[path] = _read_data_file(pq, path, features)
        data = cache[path]
        mask = data["episode_index"] == row["episode_index"]
        cols = {k: v[mask] for k, v in data.items()}
        order = np.argsort(cols["frame_index"], kind="stable")
        cols = {k: v[order] for k, v in cols.items()}
        if len(order) != row["length"]:
            raise DatasetError(f"{path}: episode {row['episode_index']} has {len(order)} frames, its episodes row "
                               f"says length {row['length']}: the data file is truncated")
        out.append(_episode_from_columns(root, info, row, cols, video_keys if images else [], tasks))
    return out


def _read_data_file(pq, path: Path, features: dict) -> dict[str, np.ndarray]:
    pa, _ = _pa()
    if not path.is_file():
        raise DatasetError(f"{path} does not exist: the dataset is incomplete (copy the whole folder)")
    try:
        table = pq.read_table(path)
    except Exception as exc:
        raise DatasetError(f"{path}: unreadable parquet ({exc}): the file is truncated or corrupt") from exc
    out = {}
    for name in table.column_names:
        if name not in features or features[name]["dtype"] in ("video", "image", "string"):
            continue
        column = table.column(name).combine_chunks()
        shape = tuple(features[name]["shape"])
        if pa.types.is_fixed_size_list(column.type) or pa.types.is_list(column.type):
            values = column.flatten().to_numpy(zero_copy_only=False).reshape(len(table), -1)
        else:
            values = column.to_numpy(zero_copy_only=False)
        if values.ndim == 2 and values.shape[1:] != shape:
            raise DatasetError(f"{path}: field {name!r} has width {values.shape[1]}, meta/info.json says shape "
                               f"{list(shape)}")
        if values.dtype.kind == "f" and not np.all(np.isfinite(values)):
            raise DatasetError(f"{path}: field {name!r} contains NaN or inf")
        out[name] = values
    for name in (STATE, ACTION, "episode_index", "frame_index"):
        if name not in out:
            raise DatasetError(f"{path}: field {name!r} is missing from the data file")
    return out


def _episode_from_columns(root: Path, info: dict, row: dict, cols: dict, video_keys: list[str],
                          tasks: dict[int, str]) -> Episode:
    t = len(cols[ACTION])
    state = cols[STATE].astype(np.float32)
    last = cols["next.observation.state"][-1:] if "next.observation.state" in cols else state[-1:]
    done = cols.get("next.done", np.zeros(t, bool)).astype(bool)
    terminated = cols.get("next.terminated", done).astype(bool)
    truncated = cols.get("next.truncated", np.zeros(t, bool)).astype(bool)
    if "next.truncated" not in cols and t:
        truncated[-1] = not terminated[-1]  # a LeRobot episode ends where the recording stopped
    images = None
    if video_keys:
        key = video_keys[0]
        path = root / info["video_path"].format(video_key=key, chunk_index=row[f"videos/{key}/chunk_index"],
                                                 file_index=row[f"videos/{key}/file_index"])
        if not path.is_file():
            raise DatasetError(f"{path} does not exist: the dataset is incomplete (copy the whole folder)")
        start = float(row[f"videos/{key}/from_timestamp"])
        images = read_video(path, start, float(row[f"videos/{key}/to_timestamp"]))
        if len(images) == t:  # LeRobot keeps one frame per step; the last observation repeats it
            images = np.concatenate([images, images[-1:]])
        if len(images) != t + 1:
            raise DatasetError(f"{path}: {len(images)} frames for episode {row['episode_index']} of {t} steps")
    success = row.get("success")
    return Episode(
        states=np.concatenate([state, last.astype(np.float32)]),
        requested_actions=cols.get("action.requested", cols[ACTION]).astype(np.float32),
        applied_actions=cols[ACTION].astype(np.float32),
        rewards=cols.get("next.reward", np.zeros(t)).reshape(t).astype(np.float32),
        terminated=terminated.reshape(t), truncated=truncated.reshape(t),
        times=cols.get("time_s", cols.get("timestamp", np.zeros(t))).reshape(t).astype(np.float64),
        interventions=cols.get("intervention", np.zeros(t, bool)).reshape(t).astype(bool),
        images=images, task=tasks.get(int(cols["task_index"][0]), "") if "task_index" in cols and t else "",
        success=None if success is None or success < 0 else bool(success),
    )


def validate_dataset(root: str | os.PathLike) -> dict:
    """Read every episode (videos included) and return a summary; raises DatasetError naming file and field."""
    info = read_info(root)
    episodes = read_dataset(root)
    return {"episodes": len(episodes), "frames": sum(len(e) for e in episodes), "fps": info["fps"],
            "robot_type": info.get("robot_type"), "features": sorted(info["features"]),
            "interventions": int(sum(e.interventions.sum() for e in episodes))}
