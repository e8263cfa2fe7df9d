"""Hand-eye calibration: where a camera sits relative to the gripper (eye-in-hand) or the base (eye-to-hand).

Input: pairs of (gripper pose in the base frame, from the arm's kinematics) and (calibration target pose in
the camera frame, e.g. `camera.board_pose`). Solved with OpenCV's `calibrateHandEye` (Park-Martin method)
where the installed OpenCV has it; OpenCV 5.0's Python build does not, and then the same closed-form
Park-Martin solution is computed here with numpy.

File (calibration/<robot>/<camera>_handeye.yaml)::

    schema_version: 1
    kind: hand_eye
    robot: so101_arm
    camera: wrist_cam
    mode: eye_in_hand            # transform = camera pose in the gripper frame
                                 # (eye_to_hand: camera pose in the robot base frame)
    transform: [[...4x4...]]
    residual_m: 0.001            # spread of the target's position implied by each sample
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from robolearn.calibration.files import CalibrationError, load_calibration_yaml, require, save_calibration_yaml

KIND = "hand_eye"
MODES = ("eye_in_hand", "eye_to_hand")
MIN_SAMPLES = 3


@dataclass(frozen=True)
class HandEyeCalibration:
    robot: str
    camera: str
    mode: str
    transform: np.ndarray  # camera -> gripper (eye_in_hand) or camera -> base (eye_to_hand)
    residual_m: float

    def save(self, path: str | os.PathLike) -> Path:
        return save_calibration_yaml(path, KIND, {
            "robot": self.robot, "camera": self.camera, "mode": self.mode,
            "transform": self.transform.tolist(), "residual_m": float(self.residual_m)})

    @classmethod
    def load(cls, path: str | os.PathLike, robot: str | None = None,
             allow_example: bool = False) -> "HandEyeCalibration":
        data = load_calibration_yaml(path, KIND, allow_example)
        where = str(path)
        file_robot = str(require(data, "robot", where))
        if robot is not None and file_robot != robot:
            raise CalibrationError(f"{path} is a hand-eye calibration of {file_robot!r}, not {robot!r}")
        mode = require(data, "mode", where)
        if mode not in MODES:
            raise CalibrationError(f"{where}: mode must be one of {MODES}, got {mode!r}")
        transform = _check_transform(np.asarray(require(data, "transform", where), dtype=np.float64), where)
        return cls(robot=file_robot, camera=str(require(data, "camera", where)), mode=mode, transform=transform,
                   residual_m=float(data.get("residual_m", float("nan"))))


def calibrate_hand_eye(
    gripper_to_base: Sequence[np.ndarray],
    target_to_camera: Sequence[np.ndarray],
    mode: str = "eye_in_hand",
    robot: str = "",
    camera: str = "",
) -> HandEyeCalibration:
    """Solve AX = XB from paired poses (4x4 each). Needs >= 3 samples with rotations about varied axes."""
    import cv2

    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if len(gripper_to_base) != len(target_to_camera):
        raise CalibrationError(f"{len(gripper_to_base)} gripper poses but {len(target_to_camera)} target poses: "
                               f"each sample needs both")
    if len(gripper_to_base) < MIN_SAMPLES:
        raise CalibrationError(f"hand-eye calibration needs at least {MIN_SAMPLES} samples, got "
                               f"{len(gripper_to_base)}; use 10-20 poses with varied orientations")
    grippers = [_check_transform(np.asarray(g, dtype=np.float64), f"gripper pose {i}")
                for i, g in enumerate(gripper_to_base)]
    targets = [_check_transform(np.asarray(t, dtype=np.float64), f"target pose {i}")
               for i, t in enumerate(target_to_camera)]
    # Eye-to-hand is the same problem with the base and gripper swapped: feed base -> gripper.
    moving = grippers if mode == "eye_in_hand" else [np.linalg.inv(g) for g in grippers]
    if hasattr(cv2, "calibrateHandEye"):
        rotation, translation = cv2.calibrateHandEye(
            [g[:3, :3] for g in moving], [g[:3, 3] for g in moving],
            [t[:3, :3] for t in targets], [t[:3, 3] for t in targets], method=cv2.CALIB_HAND_EYE_PARK)
        transform = np.eye(4)
        transform[:3, :3], transform[:3, 3] = rotation, np.asarray(translation).reshape(3)
    else:
        transform = park_martin(moving, targets)
    if not np.all(np.isfinite(transform)):
        raise CalibrationError("hand-eye solution is not finite: the samples are degenerate (vary the rotations)")
    # Consistency: the target is fixed in the world (eye-in-hand) / in the gripper (eye-to-hand), so every
    # sample should imply the same target position.
    implied = np.array([(m @ transform @ t)[:3, 3] for m, t in zip(moving, targets)])
    residual = float(np.max(np.linalg.norm(implied - implied.mean(axis=0), axis=1)))
    return HandEyeCalibration(robot=robot, camera=camera, mode=mode, transform=transform, residual_m=residual)


def _check_transform(matrix: np.ndarray, where: str) -> np.ndarray:
    if matrix.shape != (4, 4) or not np.all(np.isfinite(matrix)):
        raise CalibrationError(f"{where}: expected a finite 4x4 homogeneous transform, got shape {matrix.shape}")
    rotation = matrix[:3, :3]
    if not np.allclose(rotation @ rotation.T, np.eye(3), atol=1e-4) or not np.allclose(matrix[3], [0, 0, 0, 1]):
        raise CalibrationError(f"{where}: not a rigid transform (rotation not orthonormal or last row not 0 0 0 1)")
    return matrix


def park_martin(gripper_to_base: Sequence[np.ndarray], target_to_camera: Sequence[np.ndarray]) -> np.ndarray:
    """Closed-form AX = XB (Park & Martin 1994) over all sample pairs; returns camera -> gripper.

    For samples i, j: A = G_j^-1 G_i (gripper motion), B = T_j T_i^-1 (camera motion). The rotation is the
    orthogonal Procrustes fit of the rotation vectors log(R_A) = R_X log(R_B); the translation is the least
    squares solution of (R_A - I) t_X = R_X t_B - t_A.
    """
    import cv2

    alphas, betas, motions = [], [], []
    for i in range(len(gripper_to_base)):
        for j in range(i + 1, len(gripper_to_base)):
            a = np.linalg.inv(gripper_to_base[j]) @ gripper_to_base[i]
            b = target_to_camera[j] @ np.linalg.inv(target_to_camera[i])
            alphas.append(cv2.Rodrigues(a[:3, :3])[0].reshape(3))
            betas.append(cv2.Rodrigues(b[:3, :3])[0].reshape(3))
            motions.append((a, b))
    u, _, vt = np.linalg.svd(np.array(betas).T @ np.array(alphas))
    correction = np.diag([1.0, 1.0, np.sign(np.linalg.det(vt.T @ u.T))])
    rotation = vt.T @ correction @ u.T
    lhs = np.vstack([a[:3, :3] - np.eye(3) for a, _ in motions])
    rhs = np.concatenate([rotation @ b[:3, 3] - a[:3, 3] for a, b in motions])
    translation = np.linalg.lstsq(lhs, rhs, rcond=None)[0]
    transform = np.eye(4)
    transform[:3, :3], transform[:3, 3] = rotation, translation
    return transform
