"""Synthetic camera views with known intrinsics: a chessboard texture mapped into the image by the plane
homography K [r1 r2 t], so calibration results can be checked against the truth."""

from __future__ import annotations

import cv2
import numpy as np

from robolearn.calibration.camera import Chessboard

W, H = 640, 480
K_TRUE = np.array([[520.0, 0.0, 318.0], [0.0, 515.0, 242.0], [0.0, 0.0, 1.0]])
BOARD = Chessboard(8, 6, 0.03)
PX_PER_SQUARE = 40


def board_texture() -> tuple[np.ndarray, np.ndarray]:
    """A white-bordered chessboard image and the map from its pixels to board-plane metres."""
    squares_x, squares_y, margin = BOARD.columns + 1, BOARD.rows + 1, PX_PER_SQUARE
    texture = np.full((squares_y * PX_PER_SQUARE + 2 * margin, squares_x * PX_PER_SQUARE + 2 * margin), 255,
                      np.uint8)
    for j in range(squares_y):
        for i in range(squares_x):
            if (i + j) % 2 == 0:
                y0, x0 = margin + j * PX_PER_SQUARE, margin + i * PX_PER_SQUARE
                texture[y0: y0 + PX_PER_SQUARE, x0: x0 + PX_PER_SQUARE] = 0
    # Inner corner (0, 0) sits one square in from the board's outer corner.
    scale = BOARD.square_m / PX_PER_SQUARE
    offset = margin + PX_PER_SQUARE
    texture_to_board = np.array([[scale, 0, -offset * scale], [0, scale, -offset * scale], [0, 0, 1]])
    return texture, texture_to_board


def rigid(rvec, tvec) -> np.ndarray:
    pose = np.eye(4)
    pose[:3, :3] = cv2.Rodrigues(np.asarray(rvec, dtype=np.float64))[0]
    pose[:3, 3] = tvec
    return pose


def render(pose: np.ndarray) -> np.ndarray:
    """The view of the board at `pose` (board -> camera) through K_TRUE, by a plane homography."""
    texture, texture_to_board = board_texture()
    plane_to_image = K_TRUE @ np.column_stack([pose[:3, 0], pose[:3, 1], pose[:3, 3]])
    homography = plane_to_image @ texture_to_board
    gray = cv2.warpPerspective(texture, homography, (W, H), flags=cv2.INTER_AREA, borderValue=255)
    return cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)


def views(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    poses = []
    for _ in range(n):
        rvec = rng.uniform(-0.45, 0.45, 3)
        rvec[2] = rng.uniform(-0.3, 0.3)
        tvec = np.array([rng.uniform(-0.12, 0.0), rng.uniform(-0.1, -0.02), rng.uniform(0.45, 0.6)])
        poses.append(rigid(rvec, tvec))
    return poses


def write_video(path, frames: int, width: int, height: int) -> str:
    """An MJPG clip whose frames are blue (in OpenCV's BGR order) with green ramping by frame index; played
    through cv2.VideoCapture it stands in for a camera, and its end for an unplug."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (width, height))
    if not writer.isOpened():
        raise RuntimeError("OpenCV cannot write MJPG video here")
    for i in range(frames):
        frame = np.zeros((height, width, 3), np.uint8)
        frame[:, :, 0] = 200
        frame[:, :, 1] = 10 * i
        writer.write(frame)
    writer.release()
    return str(path)
