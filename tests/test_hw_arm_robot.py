"""The servo arm Robot and make_hardware_robot, end to end through the Feetech/Dynamixel SDKs on a pty."""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import pytest

from virtual_devices.bus_families import FAMILIES, TEST_LATENCY_MS, eventually, fast_thread_switching  # noqa: F401
from virtual_devices.synthetic_camera import write_video
from robolearn.calibration.files import CalibrationError
from robolearn.calibration.motors import ArmCalibration, BusIdentity, MotorCalibration, ServoIdentity
from robolearn.safety import SafetyLimits
from robolearn.hardware import make_hardware_robot
from robolearn.hardware.arm_robot import ServoArmRobot
from robolearn.hardware.camera import OpenCVCamera
from robolearn.hardware.guards import GuardLimits
from robolearn.hardware.errors import (CalibrationMismatchError, FarStartError, HardwareError, ModelMismatchError,
                                       MotorFaultError, StaleFrameError)

JOINTS = ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper")
IDS = {name: i + 1 for i, name in enumerate(JOINTS)}
DIRECTIONS = {name: (1 if i % 2 == 0 else -1) for i, name in enumerate(JOINTS)}


def limits(robot: str = "so101_arm", **fields) -> SafetyLimits:
    return SafetyLimits.from_dict({
        "schema_version": 2, "robot": robot, "command_kind": "joint_position", "control_rate_hz": 50,
        "watchdog_timeout_s": 0.5, "stale_observation_s": 0.5,
        "commands": [{"name": n, "low": -1.5, "high": 1.5, "max_velocity": 5.0, "effort": 0.4} for n in JOINTS],
        **fields,
    })


def calibration(family, robot: str = "so101_arm") -> ArmCalibration:
    return ArmCalibration(robot=robot, bus=family.name, motors=tuple(
        MotorCalibration(name=n, id=IDS[n], model=family.model, resolution=4096, homing_offset=2048,
                         direction=DIRECTIONS[n], range_min=1000, range_max=3100) for n in JOINTS))


@pytest.fixture(params=sorted(FAMILIES))
def family(request):
    return FAMILIES[request.param]


@pytest.fixture
def device(family):
    with family.virtual({i: family.number for i in IDS.values()}) as dev:
        yield dev


@pytest.fixture
def calibration_file(family, tmp_path):
    return calibration(family).save(tmp_path / "so101_arm" / "arm_01.yaml")


@pytest.fixture
def robot(device, calibration_file):
    return make_hardware_robot("so101_arm", device.path, calibration_file, limits=limits(),
                               latency_ms=TEST_LATENCY_MS)


def torques(device) -> list[bool]:
    return [device.servos[i].torque for i in IDS.values()]


def all_torque(device, on: bool) -> bool:
    return eventually(lambda: all(t == on for t in torques(device)))


def test_factory_builds_the_arm_on_the_calibrated_bus(family, robot):
    assert isinstance(robot, ServoArmRobot)
    assert type(robot.bus) is family.bus
    assert robot.spec.command_names == JOINTS
    assert robot.spec.observation_shapes["joint_pos"] == (6,)


def test_connect_writes_firmware_limits_and_keeps_torque_off(robot, device):
    wrist = device.servos[IDS["wrist_flex"]]
    wrist.table[wrist.regs.operating_mode] = 1  # left in velocity mode by another program
    with robot:
        assert wrist.table[wrist.regs.operating_mode] == wrist.regs.position_mode
        assert all(device.servos[i].limits == (1000, 3100) for i in IDS.values())
        assert all_torque(device, False)
        device.servos[IDS["shoulder_lift"]].position = 2048 + 512  # moved by hand, direction -1
        obs = robot.observe()
        assert obs["joint_pos"][1] == pytest.approx(-math.pi / 4)
        assert obs["joint_pos"][0] == pytest.approx(0.0)
        assert all_torque(device, False)  # observing never energises the arm
    assert all_torque(device, False)


def test_commands_pass_safety_then_torque_comes_on(robot, device):
    with robot:
        robot.observe()
        robot.safety.reset(robot.now())
        robot.observe()
        robot.confirm_far_start()  # the operator accepts the move: it is ramped
        applied = robot.send_action(np.full(6, 1.0))  # far away: the rate limit allows 0.1 rad
        assert applied == pytest.approx(np.full(6, 0.1))
        assert all_torque(device, True)
        robot.observe()  # a round trip: the goal broadcast has been applied
        for name in JOINTS:
            expected = round(2048 + DIRECTIONS[name] * 0.1 * 4096 / (2 * math.pi))
            assert device.servos[IDS[name]].position == expected
        assert robot.observe()["joint_pos"] == pytest.approx(np.full(6, 0.1), abs=2e-3)
    assert all_torque(device, False)  # disconnect switches torque off


def test_a_start_far_from_the_measured_pose_is_refused_until_the_operator_confirms(robot, device):
    with robot:
        device.servos[IDS["elbow_flex"]].position = 2048 + 400  # 0.61 rad: where a person left it
        robot.observe()
        robot.safety.reset(robot.now())
        robot.observe()
        with pytest.raises(FarStartError, match=r"elbow_flex 0\.61 rad from where it stands.*torque stays off"):
            robot.send_action(np.zeros(6))  # a leader arm or a policy starting at zero
        assert all_torque(device, False)
        assert all(s.position_writes == 0 for s in device.servos.values())  # not one goal was sent
        robot.send_action(robot.observe()["joint_pos"])  # from where it stands: fine
        assert all_torque(device, True)
    with robot:  # torque went off: a new start is checked again, and a confirmed one is ramped
        robot.observe()
        robot.safety.reset(robot.now())
        robot.observe()
        with pytest.raises(FarStartError):
            robot.send_action(np.zeros(6))
        robot.confirm_far_start()
        applied = robot.send_action(np.zeros(6))
        assert applied[2] == pytest.approx(400 * 2 * math.pi / 4096 - 0.1, abs=2e-3)  # one rate-limited step
        assert all_torque(device, True)


def test_a_configured_ramp_start_needs_no_confirmation(device, calibration_file):
    arm = make_hardware_robot("so101_arm", device.path, calibration_file, limits=limits(),
                              latency_ms=TEST_LATENCY_MS, far_start="ramp")
    with arm:
        device.servos[IDS["elbow_flex"]].position = 2048 + 400
        arm.observe()
        arm.safety.reset(arm.now())
        arm.observe()
        assert arm.send_action(np.zeros(6))[2] == pytest.approx(400 * 2 * math.pi / 4096 - 0.1, abs=2e-3)
    with pytest.raises(ValueError, match="far_start must be one of"):
        make_hardware_robot("so101_arm", device.path, calibration_file, limits=limits(), far_start="jump")


def test_reset_moves_home_under_the_safety_layer(robot, device):
    with robot:
        robot.observe()
        robot.reset(options={"home": [0.3, 0.0, 0.0, 0.0, 0.0, 0.0]})
        assert robot.observe()["joint_pos"][0] == pytest.approx(0.3, abs=2e-3)
        assert robot.safety.counts["rate_limit"] >= 2  # 0.3 rad took several 0.1 rad steps


def test_servo_overload_stops_and_keeps_torque_off(robot, device):
    with robot:
        robot.observe()
        robot.safety.reset(robot.now())
        robot.observe()
        robot.send_action(np.zeros(6))
        assert all_torque(device, True)
        device.servos[IDS["elbow_flex"]].error = 0x20
        with pytest.raises(MotorFaultError, match="overload"):
            robot.observe()
        assert robot.safety.estopped and robot.safety.estop_reason == "overload"
        assert all_torque(device, False)
        device.servos[IDS["elbow_flex"]].error = 0
        robot.observe()
        robot.send_action(np.zeros(6))  # e-stop latched: the stop command must not re-energise the arm
        robot.observe()
        assert not any(torques(device))


def test_measured_effort_over_the_limit_latches_the_estop(family, robot, device):
    with robot:
        servo = device.servos[IDS["gripper"]]
        servo.set(servo.regs.load, 1000 if family.name == "feetech" else 1470)  # stalled: ~stall torque
        robot.observe()
        assert robot.safety.estopped and robot.safety.estop_reason == "overload"


def test_unplugged_bus_latches_the_estop(robot, device):
    with robot:
        robot.observe()
        device.unplug()
        with pytest.raises(HardwareError):
            for _ in range(3):
                robot.observe()
        assert robot.safety.estopped


def test_wrong_servo_model_is_refused_before_any_torque(family, robot, device):
    servo = device.servos[IDS["wrist_roll"]]
    servo.model_number = family.other_number
    servo.__post_init__()
    with pytest.raises(ModelMismatchError, match="id 5"):
        robot.connect()
    assert not robot.is_connected and not any(torques(device))
    assert all(device.servos[i].limits == (0, 4095) for i in IDS.values())


def test_uncalibrated_or_foreign_calibration_is_refused(family, device, tmp_path):
    with pytest.raises(CalibrationError, match="without a motor calibration"):
        make_hardware_robot("so101_arm", device.path, None, limits=limits())
    foreign = calibration(family, robot="koch_arm").save(tmp_path / "koch.yaml")
    with pytest.raises(CalibrationError, match="calibrates robot 'koch_arm', not 'so101_arm'"):
        make_hardware_robot("so101_arm", device.path, foreign, limits=limits())
    partial = ArmCalibration(robot="so101_arm", bus=family.name, motors=calibration(family).motors[:5])
    with pytest.raises(CalibrationError, match="covers joints"):
        make_hardware_robot("so101_arm", device.path, partial.save(tmp_path / "partial.yaml"), limits=limits())
    old = tmp_path / "old.yaml"
    old.write_text(calibration(family).save(tmp_path / "x.yaml").read_text().replace("schema_version: 1",
                                                                                     "schema_version: 0"))
    with pytest.raises(CalibrationError, match="schema_version is 0"):
        make_hardware_robot("so101_arm", device.path, old, limits=limits())
    assert device.replies_sent == 0  # nothing was sent to the arm


def test_unknown_hardware_option_is_an_error(device, calibration_file):
    with pytest.raises(ValueError, match="unknown hardware options"):
        make_hardware_robot("so101_arm", device.path, calibration_file, limits=limits(), baud=57600)


def test_camera_frames_join_the_observation_and_a_stale_camera_holds_the_arm(device, calibration_file, tmp_path):
    video = write_video(tmp_path / "wrist.avi", frames=20, width=32, height=24)
    camera = OpenCVCamera(video, width=32, height=24, pace_fps=100, reconnect=False, max_age_s=0.1)
    arm = make_hardware_robot("so101_arm", device.path, calibration_file, limits=limits(),
                              latency_ms=TEST_LATENCY_MS, camera=camera)
    assert arm.spec.image_shape == (24, 32, 3)
    with arm:
        obs = arm.observe()
        assert obs.image.shape == (24, 32, 3) and obs.image_timestamp <= obs.timestamp
        arm.safety.reset(arm.now())
        arm.observe()
        arm.send_action(np.zeros(6))
        assert all_torque(device, True)
        assert eventually(lambda: not camera.connected)  # the clip ended: the camera is "unplugged"
        time.sleep(0.15)
        with pytest.raises(StaleFrameError, match="disconnected"):
            arm.observe()
        assert arm.safety.estopped and arm.safety.estop_reason == "camera_stale"
        applied = arm.send_action(np.full(6, 0.5))  # e-stopped: hold the measured position, torque stays on
        assert applied == pytest.approx(np.zeros(6), abs=2e-3)
        assert all(device.servos[i].torque for i in IDS.values())
    assert camera._thread is None


def test_the_repository_limits_and_workspace_box_apply_to_the_real_arm(device, calibration_file, monkeypatch):
    # No `limits=`: calibration/so101_arm/limits.yaml and the simulated arm's workspace model are used.
    robot = make_hardware_robot("so101_arm", device.path, str(calibration_file), latency_ms=TEST_LATENCY_MS)
    assert robot.spec.control_rate_hz == robot.safety.limits.control_rate_hz
    assert robot.safety.limits.workspace_low is not None
    with pytest.raises(CalibrationError, match="without a motor calibration"):
        make_hardware_robot("so101_arm", device.path, "")  # an unset ROS parameter


def test_torque_comes_on_holding_the_measured_pose(robot, device):
    for servo in device.servos.values():
        servo.set(servo.regs.goal_position, 100)  # a stale goal left by another program
    with robot:
        device.servos[IDS["elbow_flex"]].position = 2300  # moved by hand before the first command
        robot.observe()
        robot.safety.reset(robot.now())
        robot.observe()
        robot.send_action(robot.observe()["joint_pos"] + 0.05)
        assert all_torque(device, True)
        for servo in device.servos.values():
            [(goal, position)] = servo.goals_at_torque_on
            assert goal == position  # no jump when torque came on
        assert device.servos[IDS["elbow_flex"]].goals_at_torque_on == [(2300, 2300)]


def test_a_limit_register_that_does_not_read_back_is_refused_with_torque_off(family, device, calibration_file):
    wrist = device.servos[IDS["wrist_roll"]]
    wrist.stuck_addresses = set(range(wrist.regs.max_limit[0], wrist.regs.max_limit[0] + wrist.regs.max_limit[1]))
    arm = make_hardware_robot("so101_arm", device.path, calibration_file, limits=limits(), latency_ms=TEST_LATENCY_MS)
    with pytest.raises(CalibrationMismatchError, match=r"wrist_roll \(servo 5\): position limit registers read back"):
        arm.connect()
    assert all_torque(device, False)


def test_an_encoder_reading_outside_one_turn_is_refused(family, device, calibration_file):
    servo = device.servos[IDS["gripper"]]
    servo.position = -50 if family.name == "dynamixel" else 0x8000 | 50  # a homing offset the calibration lacks
    arm = make_hardware_robot("so101_arm", device.path, calibration_file, limits=limits(), latency_ms=TEST_LATENCY_MS)
    with pytest.raises(CalibrationMismatchError, match=r"gripper \(servo 6\): present position -?\d+ ticks lies outside"):
        arm.connect()
    assert all_torque(device, False)


def guarded_arm(device, calibration_file, **options):
    return make_hardware_robot("so101_arm", device.path, calibration_file, limits=limits(),
                               latency_ms=TEST_LATENCY_MS, guard_limits=GuardLimits(stall_ticks=3, stall_load=0.1), **options)


def energise(arm) -> None:
    arm.observe()
    arm.safety.reset(arm.now())
    arm.observe()
    arm.send_action(np.zeros(6))
    arm.observe()  # a round trip: the goal broadcast has been applied


def test_a_stalled_joint_latches_the_stop_and_switches_torque_off(family, device, calibration_file):
    with guarded_arm(device, calibration_file) as arm:
        energise(arm)
        assert all_torque(device, True)
        elbow = device.servos[IDS["elbow_flex"]]
        elbow.set(elbow.regs.load, 220 if family.name == "dynamixel" else 150)  # 0.15 of stall (under the effort limit), not moving
        for _ in range(4):
            arm.observe()
        assert arm.safety.estopped and arm.safety.estop_reason == "stall"
        assert all_torque(device, False)


def test_overheating_latches_the_stop(family, device, calibration_file):
    with guarded_arm(device, calibration_file) as arm:
        energise(arm)
        device.servos[IDS["wrist_flex"]].table[146 if family.name == "dynamixel" else 63] = 70
        arm.observe()
        assert arm.safety.estopped and arm.safety.estop_reason == "overheat"
        assert all_torque(device, False)


def test_an_encoder_jump_latches_the_stop_and_a_joint_configured_to_hold_keeps_torque(device, calibration_file):
    with guarded_arm(device, calibration_file, hold_on_fault=["shoulder_lift"]) as arm:
        energise(arm)
        device.servos[IDS["wrist_roll"]].position += 1500  # no joint turns 130 degrees in one tick
        arm.observe()
        assert arm.safety.estopped and arm.safety.estop_reason == "encoder_jump"
        assert eventually(lambda: torques(device) == [name == "shoulder_lift" for name in JOINTS])
        arm.stop()  # the held joint gets its hold goal; a goal to a limp STS servo would switch it back on
        arm.send_action(np.zeros(6))
        arm.observe()
        assert torques(device) == [name == "shoulder_lift" for name in JOINTS]
        wrist = device.servos[IDS["wrist_roll"]]
        wrist.position -= 1500  # the glitch is gone; the operator resets the stop
        arm.observe()
        arm.safety.reset(arm.now())
        arm.observe()
        arm.send_action(np.zeros(6))
        assert all_torque(device, True)  # the limp servos came back on, each holding where it stood
        assert all(s.goals_at_torque_on[-1][0] == s.goals_at_torque_on[-1][1] for s in device.servos.values())


def test_a_servo_that_disappears_mid_run_stops_the_arm_and_a_held_joint_keeps_holding(device, calibration_file):
    with guarded_arm(device, calibration_file, hold_on_fault=["shoulder_lift"]) as arm:
        energise(arm)
        del device.servos[IDS["wrist_flex"]]  # its cable came loose
        with pytest.raises(HardwareError, match="servo 4"):
            arm.observe()
        assert arm.safety.estopped and arm.safety.estop_reason == "bus_fault"
        assert eventually(lambda: [device.servos[IDS[n]].torque for n in JOINTS if n != "wrist_flex"]
                          == [n == "shoulder_lift" for n in JOINTS if n != "wrist_flex"])


def test_a_long_hold_switches_torque_off_but_on_joints_held_on_fault_and_a_fresh_command_re_energises(
        device, calibration_file):
    from robolearn_drivers.core.driver_loop import DriverLoop

    hold_s = 0.3
    with make_hardware_robot("so101_arm", device.path, calibration_file, latency_ms=TEST_LATENCY_MS,
                             limits=limits(torque_off_after_hold_s=hold_s), hold_on_fault=["shoulder_lift"]) as arm:
        loop = DriverLoop(arm, advance_physics=False)
        energise(arm)
        loop.estop("test")
        stopped_at = arm.now()
        for _ in range(200):
            if loop.step().torque_off:
                break
            time.sleep(0.01)
        else:
            pytest.fail("torque never went off after the hold")
        assert arm.now() - stopped_at >= hold_s
        assert eventually(lambda: torques(device) == [name == "shoulder_lift" for name in JOINTS])
        for _ in range(3):
            loop.step()  # e-stopped and limp: the stop writes nothing, no servo is re-energised
        assert torques(device) == [name == "shoulder_lift" for name in JOINTS]
        loop.reset_safety()
        assert loop.submit(np.zeros(6))
        loop.step()
        assert all_torque(device, True)


FIRMWARE = {"dynamixel": (6, 0x2D), "feetech": (0, 3)}  # (register, what the virtual servos report)


def identified(family, adapter_serial: str | None = None) -> ArmCalibration:
    servos = tuple(ServoIdentity(i, family.number, FIRMWARE[family.name][1]) for i in IDS.values())
    return dataclasses.replace(calibration(family), identity=BusIdentity(adapter_serial, servos))


def eeprom(device) -> list[bytes]:
    return [bytes(s.table[: s.regs.eeprom_end]) for s in device.servos.values()]


def test_a_servo_replaced_since_calibration_is_refused_before_anything_is_written(family, device, tmp_path):
    path = identified(family).save(tmp_path / "so101_arm" / "arm.yaml")
    address, firmware = FIRMWARE[family.name]
    device.servos[IDS["elbow_flex"]].table[address] = firmware + 1  # the new servo came with newer firmware
    before = eeprom(device)
    arm = make_hardware_robot("so101_arm", device.path, path, limits=limits(), latency_ms=TEST_LATENCY_MS)
    with pytest.raises(CalibrationMismatchError,
                       match=rf"elbow_flex \(servo 3\) is not the servo this calibration was recorded with: "
                             rf"firmware {firmware} at calibration, {firmware + 1} now.*calibrate motors"):
        arm.connect()
    assert eeprom(device) == before  # not one EEPROM register (limits, mode) was written
    assert all_torque(device, False)
    device.servos[IDS["elbow_flex"]].table[address] = firmware  # the original servo is back
    with arm:
        assert arm.observe()["joint_pos"] == pytest.approx(np.zeros(6), abs=2e-3)


def test_a_calibration_recorded_on_another_arm_is_refused(family, device, tmp_path, monkeypatch):
    from serial.tools.list_ports_common import ListPortInfo

    adapter = ListPortInfo(device.path)
    adapter.serial_number = "5A46083073"  # the adapter this bus is behind
    monkeypatch.setattr("serial.tools.list_ports.comports", lambda include_links=False: [adapter])
    other = identified(family, adapter_serial="58FA09E1").save(tmp_path / "so101_arm" / "other_arm.yaml")
    arm = make_hardware_robot("so101_arm", device.path, other, limits=limits(), latency_ms=TEST_LATENCY_MS)
    with pytest.raises(CalibrationMismatchError, match=r"USB adapter has serial 58FA09E1, but the adapter on .* has "
                                                       r"serial 5A46083073: it is another arm"):
        arm.connect()
    assert all_torque(device, False)
    mine = identified(family, adapter_serial="5A46083073").save(tmp_path / "so101_arm" / "arm.yaml")
    with make_hardware_robot("so101_arm", device.path, mine, limits=limits(), latency_ms=TEST_LATENCY_MS) as arm:
        arm.observe()


def test_a_bus_that_answers_garbage_is_refused_at_connect_and_stops_the_arm_mid_run(device, calibration_file):
    device.garbage_replies = True
    arm = guarded_arm(device, calibration_file, hold_on_fault=["shoulder_lift"])
    with pytest.raises(HardwareError, match=r"ping servo 1 on .* failed 3 times \(servo 1: corrupt reply.*baud rate"):
        arm.connect()
    assert all_torque(device, False)
    device.garbage_replies = False
    with arm:
        energise(arm)
        assert all_torque(device, True)
        device.garbage_replies = True  # mid-run: every answer is noise
        with pytest.raises(HardwareError, match="sync read of servos"):
            arm.observe()
        assert arm.safety.estopped and arm.safety.estop_reason == "bus_fault"
        # the broadcast torque-off reached the servos even though none could confirm it; the held joint holds
        assert eventually(lambda: torques(device) == [name == "shoulder_lift" for name in JOINTS])
        device.garbage_replies = False
