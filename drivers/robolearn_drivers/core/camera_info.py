"""Camera intrinsics for CameraInfo, read from a calibration YAML (kind camera_intrinsics).

Accepted layout (what `robolearn calibrate camera` writes; see calibration/README.md)::

    schema_version: 1
    kind: camera_intrinsics
    image_width: 640
    image_height: 480
    camera_matrix: [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]   # or a flat list of 9
    distortion_model: plumb_bob                            # optional
    distortion_coefficients: [k1, k2, p1, p2, k3]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from robolearn_drivers.core.errors import ConfigurationError


@dataclass(frozen=True)
class CameraIntrinsics:
    width: int
    height: int
    camera_matrix: np.ndarray  # 3x3
    distortion: np.ndarray
    distortion_model: str = "plumb_bob"

    @property
    def projection(self) -> np.ndarray:
        """3x4 P for a monocular camera: K with a zero fourth column."""
        return np.hstack([self.camera_matrix, np.zeros((3, 1))])


def load_intrinsics(path: str) -> CameraIntrinsics:
    from robolearn.calibration.files import CalibrationError, load_calibration_yaml

    try:
        data = load_calibration_yaml(path, "camera_intrinsics")
        width, height = int(_get(data, "image_width", path)), int(_get(data, "image_height", path))
        matrix = np.asarray(_get(data, "camera_matrix", path), dtype=np.float64).reshape(3, 3)
        distortion = np.asarray(data.get("distortion_coefficients", []), dtype=np.float64).reshape(-1)
    except CalibrationError as exc:
        raise ConfigurationError(str(exc)) from exc
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"{path}: camera intrinsics are malformed ({exc}); re-run "
                                 f"`robolearn calibrate camera`") from exc
    if width <= 0 or height <= 0 or not np.all(np.isfinite(matrix)) or matrix[0, 0] <= 0 or matrix[1, 1] <= 0:
        raise ConfigurationError(f"{path}: image size and focal lengths must be positive and finite")
    return CameraIntrinsics(width, height, matrix, distortion, str(data.get("distortion_model", "plumb_bob")))


def _get(data: dict, key: str, path: str):
    if key not in data:
        raise ConfigurationError(f"{path}: missing {key!r} (see calibration/README.md for the camera schema)")
    return data[key]
