"""Motor calibration: schema, tick/radian conversion, and the non-interactive recording procedures, the
latter driven through a real bus against virtual servos moved "by hand"."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml
from hypothesis import given, strategies as st

from virtual_devices.bus_families import FAMILIES, TEST_LATENCY_MS, fast_thread_switching  # noqa: F401
from robolearn.calibration.files import CalibrationError
from robolearn.calibration.motors import (
    ArmCalibration, BusIdentity, MotorCalibration, RangeRecorder, ServoIdentity, build_calibration,
    directions_from_motion, record_ranges,
)


def motor(**overrides) -> MotorCalibration:
    fields = dict(name="elbow_flex", id=3, model="sts3215", resolution=4096, homing_offset=2000, direction=-1,
                  range_min=1000, range_max=3000)
    fields.update(overrides)
    return MotorCalibration(**fields)


def test_ticks_to_radians_uses_offset_direction_and_resolution():
    m = motor()
    assert m.to_radians(2000) == 0.0
    assert m.to_radians(2000 + 1024) == pytest.approx(-math.pi / 2)  # direction -1
    assert m.to_ticks(-math.pi / 4) == 2512
    assert m.velocity_to_radians(4096) == pytest.approx(-2 * math.pi)
    assert m.range_radians == pytest.approx((m.to_radians(3000), m.to_radians(1000)))


def test_commands_beyond_the_recorded_range_are_clamped():
    m = motor()
    assert m.to_ticks(10.0) == 1000 and m.to_ticks(-10.0) == 3000


@given(st.integers(1000, 3000), st.sampled_from([1, -1]))
def test_tick_round_trip(ticks, direction):
    m = motor(direction=direction)
    assert m.to_ticks(m.to_radians(ticks)) == ticks


@pytest.mark.parametrize("overrides, message", [
    (dict(direction=2), "direction must be 1 or -1"),
    (dict(range_min=3000, range_max=1000), "range_min 3000 must be below range_max 1000"),
    (dict(homing_offset=500), "outside the recorded range"),
    (dict(id=300), "id must be in 0..252"),
])
def test_invalid_motor_entries_are_refused(overrides, message):
    with pytest.raises(CalibrationError, match=message):
        motor(**overrides)


def test_file_round_trip_and_malformed_files(tmp_path):
    calibration = ArmCalibration("so101_arm", "feetech", (motor(), motor(name="gripper", id=6, direction=1)))
    path = calibration.save(tmp_path / "so101_arm" / "arm_01.yaml")
    assert ArmCalibration.load(path, robot="so101_arm") == calibration
    data = yaml.safe_load(path.read_text())
    del data["motors"][1]["homing_offset"]
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(CalibrationError, match=r"motors\[1\]: missing 'homing_offset'"):
        ArmCalibration.load(path)
    path.write_text("motors: [")
    with pytest.raises(CalibrationError, match="not valid YAML"):
        ArmCalibration.load(path)
    with pytest.raises(CalibrationError, match="bus must be one of"):
        ArmCalibration("so101_arm", "canbus", (motor(),))
    with pytest.raises(CalibrationError, match="must be unique"):
        ArmCalibration("so101_arm", "feetech", (motor(), motor()))


def test_the_identity_the_calibration_was_recorded_on_round_trips_and_must_cover_its_motors(tmp_path):
    identity = BusIdentity("5A46083073", (ServoIdentity(3, 777, 3), ServoIdentity(6, 777, 3)))
    calibration = ArmCalibration("so101_arm", "feetech", (motor(), motor(name="gripper", id=6, direction=1)),
                                 identity)
    path = calibration.save(tmp_path / "so101_arm" / "arm.yaml")
    assert ArmCalibration.load(path, robot="so101_arm") == calibration
    data = yaml.safe_load(path.read_text())
    data["identity"]["servos"][1]["firmware"] = "new"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(CalibrationError, match=r"identity.servos\[1\].firmware: expected an integer"):
        ArmCalibration.load(path)
    with pytest.raises(CalibrationError, match=r"identity lists servos \[3\] but the motors are \[3, 6\]"):
        ArmCalibration("so101_arm", "feetech", calibration.motors, BusIdentity(None, identity.servos[:1]))


def test_range_recorder_refuses_a_pass_across_the_encoder_wrap():
    recorder = RangeRecorder({"wrist_roll": 4096})
    recorder.update({"wrist_roll": 4090})
    with pytest.raises(CalibrationError, match="crosses the encoder's wrap point"):
        recorder.update({"wrist_roll": 5})


def test_directions_from_a_positive_move():
    assert directions_from_motion({"a": 2000, "b": 2000}, {"a": 2300, "b": 1700}) == {"a": 1, "b": -1}
    with pytest.raises(CalibrationError, match="move it clearly"):
        directions_from_motion({"a": 2000}, {"a": 2005})


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_recording_through_a_real_bus_while_joints_are_moved_by_hand(name, tmp_path):
    family = FAMILIES[name]
    joints = {"shoulder_pan": 1, "gripper": 2}
    # What the user's hand does: sweep each joint through its range, torque off the whole time.
    sweep = {"shoulder_pan": np.linspace(2048, 900, 6).tolist() + np.linspace(900, 3200, 10).tolist(),
             "gripper": np.linspace(2048, 1800, 8).tolist() + np.linspace(1800, 2900, 8).tolist()}
    with family.virtual({i: family.number for i in joints.values()}) as device, \
            family.bus(device.path, latency_ms=TEST_LATENCY_MS) as bus:
        bus.check_models({i: family.model for i in joints.values()})
        bus.set_torque(joints.values(), False)
        homing = {n: s.position for n, s in zip(joints, bus.read_state(joints.values()).values())}
        step = iter(range(len(sweep["gripper"])))
        done = {"flag": False}

        def read_positions():
            try:
                k = next(step)
                for joint, motor_id in joints.items():
                    device.servos[motor_id].position = int(sweep[joint][k])
            except StopIteration:
                done["flag"] = True
            states = bus.read_state(joints.values())
            return {joint: states[motor_id].position for joint, motor_id in joints.items()}

        ranges = record_ranges(read_positions, lambda: done["flag"], {j: 4096 for j in joints}, period_s=0.0)
    assert ranges == {"shoulder_pan": (900, 3200), "gripper": (1800, 2900)}
    calibration = build_calibration(
        "so101_arm", name, [(j, i, family.model, 4096) for j, i in joints.items()], homing,
        {"shoulder_pan": 1, "gripper": -1}, ranges)
    loaded = ArmCalibration.load(calibration.save(tmp_path / "arm.yaml"), robot="so101_arm")
    assert loaded.motors[0].homing_offset == 2048 and loaded.motors[1].direction == -1
    assert loaded.motors[1].range_radians[0] < 0 < loaded.motors[1].range_radians[1]


def test_a_joint_that_was_not_moved_is_reported():
    readings = iter([{"a": 100, "b": 2000}, {"a": 900, "b": 2001}])
    with pytest.raises(CalibrationError, match=r"joints \['b'\] moved less than 20 ticks"):
        record_ranges(lambda: next(readings), iter([False, True]).__next__, {"a": 4096, "b": 4096}, period_s=0.0)


def test_the_documented_example_files_follow_the_schema_and_are_never_used_for_real():
    from robolearn.calibration.camera import CameraIntrinsics
    from robolearn.calibration.handeye import HandEyeCalibration
    from robolearn.safety import calibration_dir, load_robot_limits

    folder = calibration_dir() / "so101_arm"
    arm = ArmCalibration.load(folder / "example_arm.yaml", robot="so101_arm", allow_example=True)
    assert arm.names == load_robot_limits("so101_arm").names
    CameraIntrinsics.load(folder / "example_wrist_cam.yaml", allow_example=True)
    HandEyeCalibration.load(folder / "example_wrist_cam_handeye.yaml", robot="so101_arm", allow_example=True)
    with pytest.raises(CalibrationError, match="is an example file"):
        ArmCalibration.load(folder / "example_arm.yaml", robot="so101_arm")


def test_the_zero_pose_reading_is_part_of_the_range():
    readings = iter([{"a": 2500}, {"a": 3000}])
    ranges = record_ranges(lambda: next(readings), iter([False, True]).__next__, {"a": 4096}, period_s=0.0,
                           start={"a": 2048})
    assert ranges == {"a": (2048, 3000)}


@pytest.mark.parametrize("family_name", ["dynamixel", "feetech"])
def test_range_by_stall_stops_at_each_hard_stop_without_pushing_on(family_name):
    from robolearn.calibration.motors import range_by_stall

    family = FAMILIES[family_name]
    with family.virtual({1: family.number}) as device, \
            family.bus(device.path, latency_ms=TEST_LATENCY_MS) as bus:
        bus.check_models({1: family.model})
        servo = device.servos[1]
        servo.hard_stop = (900, 3300)
        goals: list[int] = []

        def move_to(ticks: int) -> None:
            goals.append(ticks)
            bus.write_goal_positions({1: ticks})
            bus.ping(1)  # the sync write has no reply: a round trip proves it was applied

        def read() -> tuple[int, float]:
            state = bus.read_state([1])[1]
            return state.position, state.load

        bus.write_goal_positions({1: 2048})
        bus.set_torque([1], True)
        try:
            low, high = range_by_stall(read, move_to, 4096, step=50, stall_load=0.3, margin=40)
        finally:
            bus.set_torque([1], False)
    assert (low, high) == (940, 3260)
    # each stop was pushed past by at most one step, and the goal came back off it at once
    assert min(goals) >= 900 - 50 and max(goals) <= 3300 + 50
    assert goals[goals.index(min(goals)) + 1] == 900 and goals[goals.index(max(goals)) + 1] == 3300


def test_range_by_stall_refuses_a_joint_without_a_stop():
    from robolearn.calibration.motors import range_by_stall

    position = [2000]

    def move_to(ticks: int) -> None:
        position[0] = ticks

    with pytest.raises(CalibrationError, match="without meeting a stop"):
        range_by_stall(lambda: (position[0], 0.0), move_to, 4096, step=100)
