"""`robolearn doctor` against a virtual servo bus: a wrong model, an overheating servo and a missing id are each
named with what to do, and nothing is written to the servos."""

from __future__ import annotations

import dataclasses

import pytest

from robolearn.calibration.motors import ArmCalibration, BusIdentity, MotorCalibration, ServoIdentity
from robolearn.cli import main
from virtual_devices.bus_families import FAMILIES, fast_thread_switching  # noqa: F401

JOINTS = ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper")
TEMPERATURE = {"dynamixel": 146, "feetech": 63}


@pytest.fixture(params=sorted(FAMILIES))
def family(request):
    return FAMILIES[request.param]


def calibration_file(family, tmp_path):
    calibration = ArmCalibration(robot="so101_arm", bus=family.name, motors=tuple(
        MotorCalibration(name=n, id=i + 1, model=family.model, resolution=4096, homing_offset=2048, direction=1,
                         range_min=1000, range_max=3100) for i, n in enumerate(JOINTS)))
    return calibration.save(tmp_path / "so101_arm" / "arm.yaml")


def doctor(device, path, capsys) -> tuple[int, str]:
    code = main(["doctor", "so101_arm", "--port", device.path, "--calibration", str(path), "--latency-ms", "10"])
    return code, capsys.readouterr().out


def test_a_healthy_bus_passes(family, tmp_path, capsys):
    path = calibration_file(family, tmp_path)
    with family.virtual({i: family.number for i in range(1, 7)}) as device:
        code, out = doctor(device, path, capsys)
    assert code == 0, out
    assert "all servos match the calibration" in out
    assert out.count(f"{family.model}, firmware") == 6


def test_wrong_model_overheating_and_missing_servo_are_reported(family, tmp_path, capsys):
    path = calibration_file(family, tmp_path)
    models = {i: family.number for i in range(1, 6)}  # id 6 (gripper) is missing
    models[2] = family.other_number
    with family.virtual(models) as device:
        device.servos[3].table[TEMPERATURE[family.name]] = 72
        device.servos[4].error = 0x20  # overload
        before = {i: bytes(s.table) for i, s in device.servos.items()}
        code, out = doctor(device, path, capsys)
        after = {i: bytes(s.table) for i, s in device.servos.items()}
    assert code == 1
    assert "shoulder_lift (id 2) is a" in out and f"calibration says {family.model}" in out
    assert "elbow_flex (id 3) is at 72 C" in out
    assert "wrist_flex (id 4) reports overload" in out
    assert "gripper (id 6) does not answer" in out
    # nothing written (a servo refreshes its fault register from its fault latch on a read: Dynamixel's Hardware
    # Error Status, 70; the STS status byte, 65)
    refreshed = 70 if family.name == "dynamixel" else 65
    assert all(before[i][a] == after[i][a] for i in before for a in range(256) if a != refreshed)


def test_without_a_port_the_serial_ports_are_listed(family, tmp_path, capsys):
    code = main(["doctor", "so101_arm", "--calibration", str(calibration_file(family, tmp_path))])
    assert code == 2
    assert "serial ports found" in capsys.readouterr().out


def test_a_servo_replaced_since_calibration_is_reported(family, tmp_path, capsys):
    firmware_register, firmware = {"dynamixel": (6, 0x2D), "feetech": (0, 3)}[family.name]
    path = calibration_file(family, tmp_path)
    calibration = ArmCalibration.load(path)
    identity = BusIdentity(None, tuple(ServoIdentity(m.id, family.number, firmware) for m in calibration.motors))
    dataclasses.replace(calibration, identity=identity).save(path)
    with family.virtual({i: family.number for i in range(1, 7)}) as device:
        device.servos[3].table[firmware_register] = firmware + 2
        code, out = doctor(device, path, capsys)
    assert code == 1
    assert (f"elbow_flex (servo 3) is not the servo this calibration was recorded with: firmware {firmware} at "
            f"calibration, {firmware + 2} now") in out
