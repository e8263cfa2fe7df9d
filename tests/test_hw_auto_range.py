"""Automatic range calibration on the virtual buses: each joint is driven into its hard stops under a lowered
torque limit and stopped on stall; limits come back and torque goes off whatever happens, and a failed run
leaves the last good calibration file untouched (through `robolearn calibrate motors --auto-range`)."""

from __future__ import annotations

import pytest

from robolearn.calibration.files import CalibrationError
from robolearn.calibration.motors import ArmCalibration, MotorCalibration
from robolearn.cli import main
from robolearn.hardware.auto_range import AutoRangeSettings, ranges_by_stall
from virtual_devices.bus_families import FAMILIES, TEST_LATENCY_MS, fast_thread_switching  # noqa: F401

STOPS = {1: (900, 3300), 2: (1200, 2900)}
FAST = AutoRangeSettings(step=50, settle_s=0.0)


@pytest.fixture(params=sorted(FAMILIES))
def family(request):
    return FAMILIES[request.param]


def stalled_loads(servo, log: list) -> None:
    """Record the torque limit register each time the servo meets a stop (what it pushes with)."""
    step = servo.step

    def logging_step() -> None:
        step()
        if servo.get(servo.regs.load):
            log.append(servo.get(servo.regs.torque_limit) / servo.regs.torque_limit_full)
    servo.step = logging_step


def test_each_joint_stops_at_its_hard_stops_under_a_low_torque_limit(family):
    with family.virtual({i: family.number for i in STOPS}) as device, \
            family.bus(device.path, latency_ms=TEST_LATENCY_MS) as bus:
        bus.check_models({i: family.model for i in STOPS})
        pushes: list[float] = []
        for motor_id, stop in STOPS.items():
            device.servos[motor_id].hard_stop = stop
            device.servos[motor_id].set(device.servos[motor_id].regs.min_limit, 1500)  # an old calibration's
            stalled_loads(device.servos[motor_id], pushes)
        ranges = ranges_by_stall(bus, {"shoulder_pan": 1, "gripper": 2}, 4096, FAST)
        assert ranges == {"shoulder_pan": (940, 3260), "gripper": (1240, 2860)}
        assert pushes and max(pushes) == pytest.approx(FAST.torque_fraction, abs=1e-3)  # never pushed harder
        assert [bus.read_torque_limit(i) for i in STOPS] == [1.0, 1.0]  # restored
        assert not any(s.torque for s in device.servos.values())
        assert all(s.position == 2048 for s in device.servos.values())  # each joint went back to its start


def test_a_joint_without_a_stop_fails_with_torque_off_and_limits_restored(family):
    with family.virtual({1: family.number, 2: family.number}) as device, \
            family.bus(device.path, latency_ms=TEST_LATENCY_MS) as bus:
        bus.check_models({1: family.model, 2: family.model})
        device.servos[1].hard_stop = STOPS[1]  # servo 2 turns freely: a broken horn, or no stop
        with pytest.raises(CalibrationError, match="gripper: reached the end of the encoder turn"):
            ranges_by_stall(bus, {"shoulder_pan": 1, "gripper": 2}, 4096, FAST)
        assert [bus.read_torque_limit(i) for i in (1, 2)] == [1.0, 1.0]
        assert not any(s.torque for s in device.servos.values())


def test_a_sweep_with_full_torque_is_refused():
    with pytest.raises(ValueError, match="must not use full torque"):
        AutoRangeSettings(torque_fraction=1.0)


def calibrate(device, out, *extra: str) -> int:
    return main(["calibrate", "motors", "--robot", "so101_arm", "--port", device.path, "--bus", "feetech",
                 "--model", "sts3215", "--joints", "shoulder_pan,gripper", "--directions", "1,-1",
                 "--out", str(out), "--auto-range", "--range-step", "50", "--range-settle-s", "0", *extra])


@pytest.fixture
def last_good(tmp_path):
    good = ArmCalibration("so101_arm", "feetech", tuple(
        MotorCalibration(name=n, id=i, model="sts3215", resolution=4096, homing_offset=2048, direction=1,
                         range_min=1000, range_max=3000) for n, i in (("shoulder_pan", 1), ("gripper", 2))))
    path = good.save(tmp_path / "so101_arm" / "arm.yaml")
    return path, path.read_bytes()


def test_the_command_asks_before_moving_and_a_refusal_moves_nothing(last_good, monkeypatch, capsys):
    path, before = last_good
    family = FAMILIES["feetech"]
    with family.virtual({1: family.number, 2: family.number}) as device:
        answers = iter(["", "no"])  # Enter at the zero pose, then anything but 'yes'
        monkeypatch.setattr("builtins.input", lambda prompt="": next(answers))
        assert calibrate(device, path) == 1
        assert all(s.position_writes == 0 and not s.torque for s in device.servos.values())
    assert "not confirmed: nothing moved" in capsys.readouterr().err
    assert path.read_bytes() == before


def test_the_command_writes_the_measured_ranges_and_a_failure_keeps_the_last_good_file(last_good, monkeypatch):
    path, before = last_good
    family = FAMILIES["feetech"]
    with family.virtual({1: family.number, 2: family.number}) as device:
        device.servos[1].hard_stop = STOPS[1]  # servo 2 has no stop: the run fails
        monkeypatch.setattr("builtins.input", lambda prompt="": "")
        assert calibrate(device, path, "--yes") == 1
        assert path.read_bytes() == before
        assert not any(s.torque for s in device.servos.values())
        device.servos[2].hard_stop = STOPS[2]  # fitted; the joint is put back at its zero pose by hand
        device.servos[2].position = 2048
        assert calibrate(device, path, "--yes") == 0
        assert not any(s.torque for s in device.servos.values())
    pan, gripper = ArmCalibration.load(path, robot="so101_arm").motors
    assert (pan.range_min, pan.range_max, gripper.range_min, gripper.range_max) == (940, 3260, 1240, 2860)
