"""Camera intrinsics from chessboard images (OpenCV's pinhole + radial/tangential model).

File (calibration/<robot>/<camera>.yaml)::

    schema_version: 1
    kind: camera_intrinsics
    camera: wrist_cam
    image_width: 640
    image_height: 480
    camera_matrix: [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]
    distortion_model: plumb_bob      # ROS CameraInfo's name for OpenCV's k1 k2 p1 p2 k3 model
    distortion_coefficients: [k1, k2, p1, p2, k3]
    reprojection_error_px: 0.21      # RMS over all corners; above ~1 px the calibration is suspect
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from robolearn.calibration.files import CalibrationError, load_calibration_yaml, require, save_calibration_yaml

KIND = "camera_intrinsics"
MIN_VIEWS = 4


@dataclass(frozen=True)
class Chessboard:
    """A printed chessboard: `columns` x `rows` *inner* corners, squares `square_m` metres wide."""

    columns: int
    rows: int
    square_m: float

    def __post_init__(self) -> None:
        if self.columns < 3 or self.rows < 3 or self.square_m <= 0:
            raise ValueError(f"chessboard needs >= 3x3 inner corners and a positive square size, got "
                             f"{self.columns}x{self.rows}, {self.square_m} m")

    @classmethod
    def parse(cls, pattern: str, square_m: float) -> "Chessboard":
        """From 'COLSxROWS' (inner corners), e.g. '9x6'."""
        try:
            cols, rows = (int(v) for v in pattern.lower().split("x"))
        except ValueError:
            raise ValueError(f"chessboard pattern must look like 9x6 (inner corners), got {pattern!r}") from None
        return cls(cols, rows, square_m)

    def object_points(self) -> np.ndarray:
        """Corner positions on the board plane (z = 0), in the order OpenCV detects them."""
        grid = np.mgrid[0:self.columns, 0:self.rows].T.reshape(-1, 2)
        return np.hstack([grid * self.square_m, np.zeros((len(grid), 1))]).astype(np.float32)


@dataclass(frozen=True)
class CameraIntrinsics:
    camera: str
    width: int
    height: int
    camera_matrix: np.ndarray
    distortion: np.ndarray
    reprojection_error_px: float

    @property
    def fx(self) -> float:
        return float(self.camera_matrix[0, 0])

    @property
    def fy(self) -> float:
        return float(self.camera_matrix[1, 1])

    @property
    def cx(self) -> float:
        return float(self.camera_matrix[0, 2])

    @property
    def cy(self) -> float:
        return float(self.camera_matrix[1, 2])

    def save(self, path: str | os.PathLike) -> Path:
        return save_calibration_yaml(path, KIND, {
            "camera": self.camera, "image_width": self.width, "image_height": self.height,
            "camera_matrix": self.camera_matrix.tolist(), "distortion_model": "plumb_bob",
            "distortion_coefficients": self.distortion.tolist(),
            "reprojection_error_px": float(self.reprojection_error_px),
        })

    @classmethod
    def load(cls, path: str | os.PathLike, allow_example: bool = False) -> "CameraIntrinsics":
        data = load_calibration_yaml(path, KIND, allow_example)
        where = str(path)
        matrix = np.asarray(require(data, "camera_matrix", where), dtype=np.float64)
        distortion = np.asarray(require(data, "distortion_coefficients", where), dtype=np.float64).reshape(-1)
        if matrix.shape != (3, 3) or not np.all(np.isfinite(matrix)) or matrix[0, 0] <= 0 or matrix[1, 1] <= 0:
            raise CalibrationError(f"{where}: camera_matrix must be a finite 3x3 matrix with positive focal lengths")
        if distortion.size not in (4, 5, 8, 12, 14) or not np.all(np.isfinite(distortion)):
            raise CalibrationError(f"{where}: distortion_coefficients must hold 4, 5, 8, 12 or 14 finite numbers")
        return cls(camera=str(require(data, "camera", where)), width=int(require(data, "image_width", where)),
                   height=int(require(data, "image_height", where)), camera_matrix=matrix, distortion=distortion,
                   reprojection_error_px=float(data.get("reprojection_error_px", float("nan"))))


def find_chessboard(image: np.ndarray, board: Chessboard) -> np.ndarray | None:
    """Sub-pixel inner-corner positions (N x 2), or None if the whole board is not visible."""
    import cv2

    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    found, corners = cv2.findChessboardCorners(
        gray, (board.columns, board.rows), flags=cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE)
    if not found:
        return None
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 50, 1e-3)
    corners = cv2.cornerSubPix(gray, corners, (5, 5), (-1, -1), criteria)
    return corners.reshape(-1, 2)


def calibrate_intrinsics(images: Iterable[np.ndarray], board: Chessboard, camera: str) -> CameraIntrinsics:
    """Intrinsics from views of `board`; views where the board is not found are skipped (and counted)."""
    import cv2

    image_points, size, skipped = [], None, 0
    for image in images:
        shape = image.shape[:2]
        if size is not None and shape != size:
            raise CalibrationError(f"all calibration images must have one size; got {shape} after {size}")
        size = shape
        corners = find_chessboard(image, board)
        if corners is None:
            skipped += 1
        else:
            image_points.append(corners.astype(np.float32))
    if len(image_points) < MIN_VIEWS:
        raise CalibrationError(
            f"the {board.columns}x{board.rows} chessboard was found in {len(image_points)} image(s) "
            f"({skipped} without a full board); at least {MIN_VIEWS} are needed. Check the pattern size "
            f"(inner corners), lighting, and that the whole board is in view at varied angles")
    assert size is not None
    objects = [board.object_points()] * len(image_points)
    rms, matrix, distortion, _, _ = cv2.calibrateCamera(objects, image_points, (size[1], size[0]), None, None)
    return CameraIntrinsics(camera=camera, width=size[1], height=size[0], camera_matrix=matrix,
                            distortion=distortion.reshape(-1), reprojection_error_px=float(rms))


def board_pose(image: np.ndarray, board: Chessboard, intrinsics: CameraIntrinsics) -> np.ndarray | None:
    """The board's pose in the camera frame (4x4, board -> camera), or None if not found."""
    import cv2

    corners = find_chessboard(image, board)
    if corners is None:
        return None
    ok, rvec, tvec = cv2.solvePnP(board.object_points(), corners, intrinsics.camera_matrix, intrinsics.distortion)
    if not ok:
        return None
    pose = np.eye(4)
    pose[:3, :3] = cv2.Rodrigues(rvec)[0]
    pose[:3, 3] = tvec.reshape(3)
    return pose


def read_images(paths: Sequence[str | os.PathLike]) -> list[np.ndarray]:
    import cv2

    if not paths:
        raise CalibrationError("no calibration images given: pass image files (PNG/JPEG)")
    images = []
    for path in paths:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise CalibrationError(f"could not read image {path}: missing or not an image file")
        images.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
    return images
