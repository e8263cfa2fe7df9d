"""Sets of camera frames on disk, for the reward classifier and for encoder pretraining.

Two formats are read:
- an .npz with `frames` (uint8 [N, H, W, C]) and optionally `success` (bool [N]), which is what
  `robolearn vision record` writes;
- a folder of .png/.jpg images, such as frames saved from the robot's camera, read as RGB.
"""

from __future__ import annotations

import dataclasses
import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from robolearn.data.transitions import scripted_expert
from robolearn.files import write_atomically

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


@dataclasses.dataclass
class FrameSet:
    frames: np.ndarray  # uint8 [N, H, W, C]
    success: np.ndarray | None = None  # bool [N] where the frames are labelled

    def __post_init__(self) -> None:
        if self.frames.dtype != np.uint8 or self.frames.ndim != 4 or len(self.frames) == 0:
            raise ValueError(f"frames must be a non-empty uint8 array [N, H, W, C], got {self.frames.dtype} "
                             f"{self.frames.shape}")
        if self.success is not None and self.success.shape != (len(self.frames),):
            raise ValueError(f"success labels must be one per frame ({len(self.frames)}), got shape "
                             f"{self.success.shape}")

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.frames.shape[1:])  # type: ignore[return-value]

    def split(self) -> tuple[np.ndarray, np.ndarray]:
        """(success frames, failure frames) of a labelled set."""
        if self.success is None:
            raise ValueError("these frames carry no success labels: give success and failure frames separately")
        return self.frames[self.success], self.frames[~self.success]


def save_frames(path: str | os.PathLike, frame_set: FrameSet) -> Path:
    arrays: dict[str, np.ndarray] = {"frames": frame_set.frames}
    if frame_set.success is not None:
        arrays["success"] = frame_set.success
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return write_atomically(path, buffer.getvalue())


def load_frames(path: str | os.PathLike) -> FrameSet:
    """Frames from an .npz file or a folder of images; errors name the file and what to fix."""
    path = Path(path)
    if path.is_dir():
        return FrameSet(_read_image_folder(path))
    if not path.is_file():
        raise FileNotFoundError(f"frames {path} do not exist: give an .npz from `robolearn vision record` or a "
                                f"folder of {'/'.join(IMAGE_SUFFIXES)} images")
    try:
        with np.load(path, allow_pickle=False) as data:
            if "frames" not in data.files:
                raise ValueError(f"{path} has no 'frames' array (found {sorted(data.files)})")
            frames = data["frames"]
            success = data["success"].astype(bool) if "success" in data.files else None
    except (OSError, EOFError) as exc:
        raise ValueError(f"{path} is not a readable .npz of frames ({exc})") from exc
    try:
        return FrameSet(frames, success)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def _read_image_folder(folder: Path) -> np.ndarray:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"{folder} holds no {'/'.join(IMAGE_SUFFIXES)} images")
    images = [_read_image(p) for p in files]
    shapes = {image.shape for image in images}
    if len(shapes) > 1:
        raise ValueError(f"{folder}: images differ in size {sorted(shapes)}; crop or resize them to one size "
                         f"(the camera's) first")
    return np.stack(images)


def _read_image(path: Path) -> np.ndarray:
    try:
        import cv2
    except ImportError:  # matplotlib (a core dependency) reads PNG without OpenCV
        cv2 = None
    if cv2 is not None:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"{path} is not a readable image")
        return np.ascontiguousarray(image[:, :, ::-1])  # OpenCV reads BGR
    if path.suffix.lower() != ".png":
        raise ValueError(f"reading {path.suffix} images needs OpenCV: pip install 'robolearn[hardware]'")
    import matplotlib.image

    image = matplotlib.image.imread(path)
    if image.dtype != np.uint8:
        image = np.round(image * 255.0).astype(np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return np.ascontiguousarray(image[:, :, :3])


def record_task_frames(env: Any, episodes: int, seed: int = 0) -> FrameSet:
    """Camera frames of a sim task, labelled by the task's own `is_success`.

    Even episodes follow the task's scripted expert (mostly reaching success), odd ones act at random
    (mostly failing), so both labels are represented. `env` must observe images (`image=True`).
    """
    if episodes < 2:
        raise ValueError(f"episodes must be >= 2 (expert and random episodes alternate), got {episodes}")
    expert = scripted_expert(env)
    rng = np.random.default_rng(seed)
    frames: list[np.ndarray] = []
    labels: list[bool] = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        if not isinstance(obs, dict) or "image" not in obs:
            raise ValueError("recording frames needs a camera: make the task with image=True")
        done = False
        while not done:
            action = expert(obs) if episode % 2 == 0 else rng.uniform(-1.0, 1.0, env.action_space.shape)
            obs, _, terminated, truncated, info = env.step(np.clip(action, -1.0, 1.0))
            if "is_success" not in info:
                raise ValueError(f"task {type(env.unwrapped.task).__name__} reports no is_success: label its frames "
                                 f"yourself (success and failure folders)")
            frames.append(obs["image"])
            labels.append(bool(info["is_success"]))
            done = terminated or truncated
    return FrameSet(np.stack(frames), np.asarray(labels, dtype=bool))
