"""`robolearn calibrate ...` end to end: real files, a real bus on a pty; only the person is scripted."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest
import yaml

from virtual_devices.bus_families import FAMILIES, fast_thread_switching  # noqa: F401
from robolearn.calibration.camera import CameraIntrinsics
from robolearn.calibration.handeye import HandEyeCalibration
from robolearn.calibration.motors import ArmCalibration
from robolearn.cli import main
from virtual_devices.synthetic_camera import K_TRUE, render, rigid, views


def write_images(folder, poses) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, pose in enumerate(poses):
        path = folder / f"view_{i:02d}.png"
        cv2.imwrite(str(path), cv2.cvtColor(render(pose), cv2.COLOR_RGB2BGR))
        paths.append(str(path))
    return paths


@pytest.fixture(scope="module")
def intrinsics_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cam")
    write_images(folder / "images", views(8))
    out = folder / "wrist_cam.yaml"
    assert main(["calibrate", "camera", "--images", str(folder / "images" / "*.png"), "--pattern", "8x6",
                 "--square", "0.03", "--camera", "wrist_cam", "--out", str(out)]) == 0
    return out


def test_camera_command_writes_intrinsics(intrinsics_file, capsys):
    intrinsics = CameraIntrinsics.load(intrinsics_file)
    assert intrinsics.fx == pytest.approx(K_TRUE[0, 0], rel=0.01)
    assert intrinsics.camera == "wrist_cam"


def test_camera_command_reports_bad_input(tmp_path, capsys):
    assert main(["calibrate", "camera", "--images", str(tmp_path / "*.png"), "--square", "0.03",
                 "--camera", "c", "--out", str(tmp_path / "c.yaml")]) == 1
    assert "no images match" in capsys.readouterr().err


def test_handeye_command_recovers_the_camera_mount(intrinsics_file, tmp_path):
    camera_to_gripper = rigid([0.05, -0.1, 0.08], [0.02, -0.01, 0.03])
    target_to_base = rigid([np.pi, 0.0, 0.0], [0.3, 0.0, 0.0])
    rng = np.random.default_rng(3)
    samples, poses = [], []
    for _ in range(10):  # camera looking at the board from ~0.5 m with varied tilts
        target_in_camera = rigid(rng.uniform(-0.35, 0.35, 3), [rng.uniform(-0.1, 0.0), -0.06, rng.uniform(0.45, 0.55)])
        gripper = target_to_base @ np.linalg.inv(target_in_camera) @ np.linalg.inv(camera_to_gripper)
        poses.append(target_in_camera)
        samples.append(gripper)
    paths = write_images(tmp_path, poses)
    (tmp_path / "samples.yaml").write_text(yaml.safe_dump({"samples": [
        {"image": p.split("/")[-1], "gripper_to_base": g.tolist()} for p, g in zip(paths, samples)]}))
    out = tmp_path / "handeye.yaml"
    assert main(["calibrate", "handeye", "--samples", str(tmp_path / "samples.yaml"), "--intrinsics",
                 str(intrinsics_file), "--pattern", "8x6", "--square", "0.03", "--robot", "so101_arm",
                 "--out", str(out)]) == 0
    result = HandEyeCalibration.load(out, robot="so101_arm")
    assert np.allclose(result.transform[:3, 3], camera_to_gripper[:3, 3], atol=5e-3)
    assert np.allclose(result.transform[:3, :3], camera_to_gripper[:3, :3], atol=2e-2)


def test_motors_command_guides_a_person_through_the_procedure(tmp_path, monkeypatch, capsys):
    family = FAMILIES["feetech"]
    with family.virtual({1: family.number, 2: family.number}) as device:
        device.servos[1].table[40] = 1  # left energised by a previous program: the command must switch it off
        steps = iter(["home", "range"])

        def person(prompt: str = "") -> str:
            step = next(steps)
            if step == "range":  # sweep both joints while the recorder polls, then press Enter
                for ticks in list(range(2048, 1500, -50)) + list(range(1500, 2600, 50)):
                    device.servos[1].position = ticks
                    device.servos[2].position = 4096 - ticks
                    # A hand lingers at the ends of travel; the recorder polls every 20 ms.
                    time.sleep(0.25 if ticks in (1500, 2550) else 0.01)
            return ""

        monkeypatch.setattr("builtins.input", person)
        out = tmp_path / "so101_arm" / "arm_07.yaml"
        assert main(["calibrate", "motors", "--robot", "so101_arm", "--port", device.path, "--bus", "feetech",
                     "--model", "sts3215", "--joints", "shoulder_pan,gripper", "--directions", "1,-1",
                     "--out", str(out)]) == 0
        assert not device.servos[1].torque
    calibration = ArmCalibration.load(out, robot="so101_arm")
    pan, gripper = calibration.motors
    assert (pan.homing_offset, pan.direction, pan.range_min, pan.range_max) == (2048, 1, 1500, 2550)
    assert (gripper.id, gripper.direction, gripper.range_min, gripper.range_max) == (2, -1, 1546, 2596)
    # the servos as they identified themselves (a pty has no USB serial number)
    assert calibration.identity.adapter_serial is None
    assert [(s.id, s.model_number, s.firmware) for s in calibration.identity.servos] == [(1, 777, 3), (2, 777, 3)]
    assert "Wrote" in capsys.readouterr().out


def test_motors_command_with_a_missing_port_fails_cleanly(tmp_path, capsys):
    assert main(["calibrate", "motors", "--robot", "so101_arm", "--port", str(tmp_path / "ttyACM9"), "--bus",
                 "feetech", "--model", "sts3215", "--joints", "a,b"]) == 1
    assert "does not exist" in capsys.readouterr().err
