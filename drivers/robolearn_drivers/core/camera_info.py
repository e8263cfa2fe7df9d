"""Camera intrinsics for CameraInfo: the calibration file `robolearn calibrate camera` writes (one loader,
robolearn.calibration.camera), with its errors turned into the node's configuration errors."""

from __future__ import annotations

import numpy as np

from robolearn.calibration.camera import CameraIntrinsics
from robolearn.calibration.files import CalibrationError
from robolearn_drivers.core.errors import ConfigurationError

__all__ = ["CameraIntrinsics", "distortion_model", "load_intrinsics", "projection_matrix"]


def load_intrinsics(path: str) -> CameraIntrinsics:
    try:
        return CameraIntrinsics.load(path)
    except CalibrationError as exc:
        raise ConfigurationError(f"{exc}; re-run `robolearn calibrate camera` (schema: calibration/README.md)") \
            from exc
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"{path}: camera intrinsics are malformed ({exc}); re-run "
                                 f"`robolearn calibrate camera`") from exc


def projection_matrix(intrinsics: CameraIntrinsics) -> np.ndarray:
    """3x4 P for a monocular camera: K with a zero fourth column."""
    return np.hstack([intrinsics.camera_matrix, np.zeros((3, 1))])


def distortion_model(intrinsics: CameraIntrinsics) -> str:
    """ROS's name for OpenCV's coefficient layout: 4-5 coefficients are plumb_bob, more rational_polynomial."""
    return "plumb_bob" if intrinsics.distortion.size <= 5 else "rational_polynomial"
