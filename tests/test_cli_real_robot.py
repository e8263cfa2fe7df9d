"""`--port` on record/teleop/actor: the same task on the real arm (here the protocol-true virtual Feetech bus on a
pseudo-terminal, driven by the vendor SDK) instead of its simulation."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pyarrow")

from virtual_devices.bus_families import FAMILIES  # noqa: E402
from robolearn.calibration.motors import ArmCalibration, MotorCalibration  # noqa: E402
from robolearn.cli import main  # noqa: E402
from robolearn.data.lerobot_format import read_dataset  # noqa: E402
from robolearn.robots.registry import robot_definition  # noqa: E402

FEETECH = FAMILIES["feetech"]
JOINTS = robot_definition("so101_arm").command_names
IDS = {name: i + 1 for i, name in enumerate(JOINTS)}


@pytest.fixture
def bus():
    with FEETECH.virtual({i: FEETECH.number for i in IDS.values()}) as device:
        yield device


@pytest.fixture
def calibration_file(tmp_path):
    calibration = ArmCalibration(robot="so101_arm", bus="feetech", motors=tuple(
        MotorCalibration(name=n, id=IDS[n], model=FEETECH.model, resolution=4096, homing_offset=2048, direction=1,
                         range_min=300, range_max=3800) for n in JOINTS))
    return calibration.save(tmp_path / "so101_arm" / "arm.yaml")


def test_record_drives_the_real_arm_through_its_safety_layer_and_leaves_torque_off(bus, calibration_file,
                                                                                    tmp_path):
    out = tmp_path / "real"
    assert main(["record", "ArmReach", "--by", "expert", "--episodes", "1", "--out", str(out),
                 "--port", bus.path, "--calibration", str(calibration_file)]) == 0
    (episode,) = read_dataset(out)
    assert len(episode) > 10
    moved = np.abs(episode.states[-1] - episode.states[0]).max()
    assert moved > 0.05, "the expert's commands reached the servos and the measured state followed"
    assert all(servo.position_writes > 0 for servo in bus.servos.values())
    assert not any(servo.torque for servo in bus.servos.values()), "the command ends with torque off"


def test_real_robot_options_without_a_port_or_calibration_are_one_clear_line(bus, tmp_path, capsys):
    assert main(["record", "ArmReach", "--by", "expert", "--episodes", "1", "--out", str(tmp_path / "a"),
                 "--calibration", "arm.yaml"]) != 0
    assert "--calibration describe the real robot: add --port PORT" in capsys.readouterr().err
    assert main(["teleop", "ArmReach", "--port", bus.path]) != 0
    assert "without a motor calibration: run `robolearn calibrate motors" in capsys.readouterr().err
    assert not any(servo.torque for servo in bus.servos.values())
    assert not (tmp_path / "a").exists()
