"""Camera intrinsics and hand-eye calibration against synthetic data with known answers."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from robolearn.calibration.camera import CameraIntrinsics, board_pose, calibrate_intrinsics
from robolearn.calibration.files import CalibrationError
from robolearn.calibration.handeye import HandEyeCalibration, calibrate_hand_eye
from virtual_devices.synthetic_camera import BOARD, H, K_TRUE, W, render, rigid, views

@pytest.fixture(scope="module")
def intrinsics() -> CameraIntrinsics:
    return calibrate_intrinsics([render(p) for p in views(10)], BOARD, camera="wrist_cam")


def test_recovers_focal_length_and_principal_point_within_one_percent(intrinsics):
    assert intrinsics.fx == pytest.approx(K_TRUE[0, 0], rel=0.01)
    assert intrinsics.fy == pytest.approx(K_TRUE[1, 1], rel=0.01)
    assert intrinsics.cx == pytest.approx(K_TRUE[0, 2], rel=0.01)
    assert intrinsics.cy == pytest.approx(K_TRUE[1, 2], rel=0.01)
    assert intrinsics.reprojection_error_px < 0.5
    assert (intrinsics.width, intrinsics.height) == (W, H)


def test_intrinsics_file_round_trip_and_bad_files(intrinsics, tmp_path):
    path = intrinsics.save(tmp_path / "wrist_cam.yaml")
    loaded = CameraIntrinsics.load(path)
    assert np.allclose(loaded.camera_matrix, intrinsics.camera_matrix)
    assert np.allclose(loaded.distortion, intrinsics.distortion)
    path.write_text(path.read_text().replace("kind: camera_intrinsics", "kind: motors"))
    with pytest.raises(CalibrationError, match="is a 'motors' calibration"):
        CameraIntrinsics.load(path)
    with pytest.raises(CalibrationError, match="does not exist.*calibrate camera"):
        CameraIntrinsics.load(tmp_path / "nope.yaml")


def test_too_few_boards_is_a_clear_error():
    blank = np.full((H, W, 3), 255, np.uint8)
    with pytest.raises(CalibrationError, match=r"found in 1 image\(s\) \(2 without a full board\)"):
        calibrate_intrinsics([render(views(1)[0]), blank, blank], BOARD, camera="c")


def test_board_pose_matches_the_rendered_pose(intrinsics):
    truth = views(1, seed=5)[0]
    pose = board_pose(render(truth), BOARD, intrinsics)
    assert pose is not None
    assert np.allclose(pose[:3, 3], truth[:3, 3], atol=5e-3)
    assert np.allclose(pose[:3, :3], truth[:3, :3], atol=1e-2)


def _angle(rotation: np.ndarray) -> float:
    return float(np.linalg.norm(cv2.Rodrigues(rotation)[0]))


@pytest.mark.parametrize("solver", ["opencv", "numpy"])
@pytest.mark.parametrize("mode", ["eye_in_hand", "eye_to_hand"])
def test_hand_eye_recovers_a_known_transform(mode, solver, tmp_path, monkeypatch):
    # OpenCV's calibrateHandEye where the installed build has it (4.x), the numpy Park-Martin otherwise (5.0).
    if solver == "numpy":
        monkeypatch.delattr(cv2, "calibrateHandEye", raising=False)
    elif not hasattr(cv2, "calibrateHandEye"):
        pytest.skip("this OpenCV build has no calibrateHandEye (OpenCV 5.0 Python wheels)")
    rng = np.random.default_rng(1)
    camera_pose = rigid([0.1, -0.2, 0.3], [0.03, -0.02, 0.05])  # camera -> gripper (or -> base)
    fixed_target = rigid([0.2, 0.1, -0.1], [0.4, 0.1, 0.0])  # target -> base (or -> gripper)
    grippers, targets = [], []
    for _ in range(12):
        gripper = rigid(rng.uniform(-0.6, 0.6, 3), rng.uniform([-0.2, -0.2, 0.1], [0.2, 0.2, 0.4]))
        if mode == "eye_in_hand":  # target -> camera = (camera -> gripper)^-1 (gripper -> base)^-1 (target -> base)
            target = np.linalg.inv(camera_pose) @ np.linalg.inv(gripper) @ fixed_target
        else:  # target -> camera = (camera -> base)^-1 (gripper -> base) (target -> gripper)
            target = np.linalg.inv(camera_pose) @ gripper @ fixed_target
        grippers.append(gripper)
        targets.append(target)
    result = calibrate_hand_eye(grippers, targets, mode=mode, robot="so101_arm", camera="wrist_cam")
    assert np.allclose(result.transform[:3, 3], camera_pose[:3, 3], atol=1e-4)
    assert _angle(result.transform[:3, :3].T @ camera_pose[:3, :3]) < 1e-4
    assert result.residual_m < 1e-4
    loaded = HandEyeCalibration.load(result.save(tmp_path / "he.yaml"), robot="so101_arm")
    assert np.allclose(loaded.transform, result.transform) and loaded.mode == mode
    with pytest.raises(CalibrationError, match="not 'koch_arm'"):
        HandEyeCalibration.load(tmp_path / "he.yaml", robot="koch_arm")


def test_hand_eye_rejects_bad_input():
    with pytest.raises(CalibrationError, match="at least 3 samples"):
        calibrate_hand_eye([np.eye(4)] * 2, [np.eye(4)] * 2)
    with pytest.raises(CalibrationError, match="3 gripper poses but 2 target poses"):
        calibrate_hand_eye([np.eye(4)] * 3, [np.eye(4)] * 2)
    bent = np.eye(4)
    bent[0, 0] = 2.0
    with pytest.raises(CalibrationError, match="not a rigid transform"):
        calibrate_hand_eye([bent] * 3, [np.eye(4)] * 3)
