"""The Create 2 base through pyserial against a virtual Create 2 speaking the Open Interface on a pty."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from virtual_devices.bus_families import eventually, fast_thread_switching  # noqa: F401
from robolearn.safety import SafetyLimits
from robolearn.hardware import make_hardware_robot
from robolearn.hardware.create2 import FRAME_BODY_LEN, SENSOR_PACKETS, Create2, StreamParser
from robolearn.hardware.create2_robot import Create2Robot
from robolearn.hardware.errors import BusError, PortError
from robolearn.hardware.odometry import CREATE2_GEOMETRY, DiffDriveOdometry
from virtual_devices.create2 import VirtualCreate2

LIMITS = SafetyLimits.from_dict({
    "schema_version": 2, "robot": "diffdrive_base", "command_kind": "twist", "control_rate_hz": 20,
    "watchdog_timeout_s": 0.5, "stale_observation_s": 0.3,
    "commands": [{"name": "linear_x", "low": -0.3, "high": 0.3, "max_acceleration": 2.0},
                 {"name": "angular_z", "low": -2.0, "high": 2.0, "max_acceleration": 20.0}],
})


@pytest.fixture
def device():
    with VirtualCreate2() as dev:
        yield dev


@pytest.fixture
def robot(device):
    return make_hardware_robot("create2", device.path, limits=LIMITS, sensor_timeout_s=0.2)


def drive(robot, command, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        robot.observe()
        robot.send_action(np.asarray(command, dtype=float))
        robot.wait()


def test_connect_enters_safe_mode_and_disconnect_leaves_it_stopped(robot, device):
    assert isinstance(robot, Create2Robot)
    with robot:
        assert device.mode == 2 and device.streaming
        obs = robot.observe()
        obs.check_against(robot.spec)
        assert obs.info["oi_mode"] == "SAFE"
        assert obs.info["battery_voltage_v"] == pytest.approx(15.8)
    assert eventually(lambda: device.mode == 1 and not device.streaming)
    assert (device.right_mm_s, device.left_mm_s) == (0, 0)


def test_driving_straight_integrates_odometry(robot, device):
    with robot:
        robot.reset()
        drive(robot, [0.2, 0.0], 0.6)
        assert (device.right_mm_s, device.left_mm_s) == (200, 200)
        moving = robot.observe()
        assert moving["base_twist"] == pytest.approx([0.2, 0.0], abs=0.03)
        assert robot.safety.counts["rate_limit"] >= 1  # 0 -> 0.2 m/s took two steps
        drive(robot, [0.0, 0.0], 0.2)
        assert eventually(lambda: (device.right_mm_s, device.left_mm_s) == (0, 0))
        time.sleep(0.05)
        obs = robot.observe()
        travelled = device.left_counts / (508.8 / (math.pi * 72.0)) / 1000.0
        assert travelled > 0.08
        assert obs["base_pose"] == pytest.approx([travelled, 0.0, 0.0], abs=2e-3)


def test_turning_in_place_sets_opposite_wheel_speeds(robot, device):
    with robot:
        robot.reset()
        drive(robot, [0.0, 1.0], 0.4)
        half_track_mm = 1000 * CREATE2_GEOMETRY.wheel_base_m / 2
        assert (device.right_mm_s, device.left_mm_s) == (round(half_track_mm), -round(half_track_mm))
        assert robot.observe()["base_pose"][2] > 0.1


def test_a_bump_latches_the_estop_and_stops_the_wheels(robot, device):
    with robot:
        robot.reset()
        drive(robot, [0.2, 0.0], 0.3)
        device.bumps = 0x02  # left bumper
        assert eventually(lambda: robot.observe()["hazards"][0] == 1.0)
        assert robot.safety.estopped and robot.safety.estop_reason == "hazard"
        applied = robot.send_action(np.array([0.2, 0.0]))
        assert np.all(applied == 0.0)
        assert eventually(lambda: (device.right_mm_s, device.left_mm_s) == (0, 0))


def test_wheel_drop_in_safe_mode_is_a_hazard_and_the_firmware_stops_too(robot, device):
    with robot:
        robot.observe()
        device.bumps = 0x08  # left wheel dropped
        assert eventually(lambda: robot.observe()["hazards"][3] == 1.0)
        assert robot.safety.estopped
        assert eventually(lambda: robot.observe().info["oi_mode"] == "PASSIVE")


def test_corrupt_stream_frames_are_skipped(robot, device):
    with robot:
        device.corrupt_frames = 3
        assert eventually(lambda: device.corrupt_frames == 0)
        robot.observe()
        assert robot.base.corrupt_frames >= 3
        assert not robot.safety.estopped


def test_a_silent_robot_raises_and_stops(robot, device):
    with robot:
        robot.observe()
        device.silent = True
        time.sleep(0.05)
        with pytest.raises(BusError, match="no valid sensor frame"):
            for _ in range(5):
                robot.observe()
        assert robot.safety.estopped
        assert eventually(lambda: device.drive_commands[-1] == (0, 0))


def test_missing_busy_and_unplugged_ports(robot, device, tmp_path):
    with pytest.raises(PortError, match="does not exist"):
        Create2(str(tmp_path / "ttyUSB0")).open()
    with robot:
        with pytest.raises(PortError, match="busy"):
            Create2(device.path).open()
        device.unplug()
        with pytest.raises(PortError, match="disconnected"):
            for _ in range(5):
                robot.observe()


def test_odometry_handles_encoder_wrap():
    odometry = DiffDriveOdometry(CREATE2_GEOMETRY, twist_window_s=0.05)
    odometry.update(32760, 32760, 0.0)
    odometry.update(-32766, -32766, 0.1)  # +10 counts across the 16-bit wrap
    assert odometry.x == pytest.approx(10 * CREATE2_GEOMETRY.metres_per_count)
    assert odometry.v == pytest.approx(10 * CREATE2_GEOMETRY.metres_per_count / 0.1)


def test_stream_parser_resynchronises_after_garbage(device):
    device.stream_ids = list(SENSOR_PACKETS)
    frame = device._frame()
    parser = StreamParser()
    false_header = bytes([19, FRAME_BODY_LEN]) + b"garbage" * 5  # looks like a frame start, fails the checksum
    assert parser.feed(false_header + frame[:10], 1.0) is None
    sensors = parser.feed(frame[10:] + frame, 2.0)
    assert sensors is not None and sensors.received_at == 2.0 and parser.corrupt_frames >= 1


def test_the_repository_limits_and_workspace_box_apply_to_the_real_base(device):
    robot = make_hardware_robot("diffdrive_base", device.path)  # calibration/diffdrive_base/limits.yaml
    assert robot.safety.limits.workspace_low is not None
    with robot:
        robot.reset()
        robot.observe()
        applied = robot.send_action(np.array([0.5, 0.0]))
        # rate-limited from rest: at most max_acceleration x one 20 Hz period
        assert applied[0] == pytest.approx(robot.safety.limits.max_rate[0] * robot.safety.limits.period_s)
        assert eventually(lambda: device.right_mm_s == round(1000 * applied[0]))


def test_full_mode_leaves_hazards_to_the_safety_layer_alone(device):
    robot = make_hardware_robot("create2", device.path, limits=LIMITS, full_mode=True)
    with robot:
        assert robot.observe().info["oi_mode"] == "FULL"
        device.cliff_front_left = 1
        assert eventually(lambda: robot.observe()["hazards"][2] == 1.0)
        assert robot.safety.estopped and device.mode == 3  # the firmware did not intervene; the filter did
        robot.send_action(np.array([0.2, 0.0]))
        assert eventually(lambda: (device.right_mm_s, device.left_mm_s) == (0, 0))


def test_twist_is_estimated_over_a_window_not_per_reading():
    rng = np.random.default_rng(0)
    odometry = DiffDriveOdometry(CREATE2_GEOMETRY, twist_window_s=0.06)
    speed = 0.2  # m/s on both wheels
    for k in range(40):  # 15 ms stream, integer counts, host timestamps jittered by +-3 ms
        counts = int(speed * 0.015 * k / CREATE2_GEOMETRY.metres_per_count)
        odometry.update(counts, counts, 0.015 * k + rng.uniform(-0.003, 0.003))
    assert odometry.v == pytest.approx(speed, rel=0.12)
    assert odometry.omega == 0.0
