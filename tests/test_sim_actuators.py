"""Actuator models against their analytic behaviour: the servo's torque-speed line, deadband, backlash and
velocity limit; the servo arm's sag under a known load and its step response; the wheel drive and slip."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pybullet as p
import pytest

from robolearn_sim import Perturbation, make_robot
from robolearn_sim.actuators import (CREATE2_WHEEL, SERVOS, STS3215, WHEELS, XL330_M288, XM430_W350, ServoBank,
                                     ServoParams, WheelMotors, WheelParams)
from robolearn_sim.arm import HOME
from robolearn_sim.base import joint_states

DT = 1 / 240


def _servo(**changes) -> ServoParams:
    return dataclasses.replace(ServoParams(name="test", stall_torque=2.0, no_load_speed=4.0, kp=10.0), **changes)


# ------------------------------------------------------------------------------------ the servo alone
def test_torque_follows_the_dc_motor_line_and_the_p_gain():
    bank = ServoBank(_servo(), 1, DT)
    # Unsaturated at standstill: stiffness stall * kp = 20 N·m/rad.
    assert bank.step([0.01], np.zeros(1), np.zeros(1))[0] == pytest.approx(0.2)
    # Saturated duty: the torque-speed line stall * (1 - w / w0), none at the no-load speed.
    for speed, expected in ((0.0, 2.0), (1.0, 1.5), (2.0, 1.0), (4.0, 0.0)):
        assert bank.step([10.0], np.zeros(1), np.array([speed]))[0] == pytest.approx(expected)
    # Back-driven beyond the no-load speed it brakes, capped at the torque limit.
    assert bank.step([10.0], np.zeros(1), np.array([-8.0]))[0] == pytest.approx(2.0)
    limited = ServoBank(_servo(torque_limit=0.5), 1, DT)
    assert limited.step([10.0], np.zeros(1), np.zeros(1))[0] == pytest.approx(0.5)
    # A weaker motor (gain_scale) scales the whole line.
    assert bank.step([10.0], np.zeros(1), np.array([1.0]), gain_scale=0.5)[0] == pytest.approx(0.75)


def test_deadband_leaves_small_errors_uncorrected():
    bank = ServoBank(_servo(deadband=0.02), 1, DT)
    assert bank.step([0.019], np.zeros(1), np.zeros(1))[0] == 0.0
    assert bank.step([-0.019], np.zeros(1), np.zeros(1))[0] == 0.0
    assert bank.step([0.021], np.zeros(1), np.zeros(1))[0] == pytest.approx(20 * 0.021)


def test_backlash_withholds_torque_while_the_motor_crosses_the_play():
    play, omega0, dt = 0.1, 1.0, 0.01  # the motor crosses the whole play in play / (w0 dt) = 10 steps
    bank = ServoBank(_servo(backlash=play, no_load_speed=omega0), 1, dt)

    def silent_steps(target):
        count = 0
        while bank.step([target], np.zeros(1), np.zeros(1))[0] == 0.0:
            count += 1
        return count

    assert silent_steps(1.0) == 5  # from the centre of the play: half of it
    assert silent_steps(1.0) == 0  # engaged: torque at once
    assert silent_steps(-1.0) == 10  # a reversal crosses all of it
    bank.reset()
    assert silent_steps(-1.0) == 5


def test_velocity_limit_cuts_drive_beyond_it():
    bank = ServoBank(_servo(velocity_limit=1.0), 1, DT)
    assert bank.step([10.0], np.zeros(1), np.array([0.99]))[0] > 0
    assert bank.step([10.0], np.zeros(1), np.array([1.0]))[0] == 0.0
    assert bank.step([-10.0], np.zeros(1), np.array([1.5]))[0] < 0  # braking is always allowed


def test_datasheet_defaults_carry_their_sources():
    assert set(SERVOS) == {"sts3215", "xl330_m288", "xm430_w350"}
    assert STS3215.stall_torque == pytest.approx(2.94, abs=0.01)  # 30 kg·cm
    assert STS3215.no_load_speed == pytest.approx(45 * 2 * math.pi / 60)
    assert XL330_M288.stall_torque == 0.52 and XM430_W350.stall_torque == 4.1
    # Dynamixel: P 800 / 128 duty per tick, 885 = full duty: full torque at 885 / 6.25 ticks = 0.217 rad.
    assert 1 / XM430_W350.kp == pytest.approx(885 / 6.25 * 2 * math.pi / 4096)
    for params in (*SERVOS.values(), *WHEELS.values()):
        assert params.source and params.armature > 0


@pytest.mark.parametrize("fields, match", [
    (dict(stall_torque=-1.0), "stall_torque"),
    (dict(kp=0.0), "kp"),
    (dict(backlash=float("nan")), "backlash"),
    (dict(torque_limit=0.0), "torque_limit"),
])
def test_bad_servo_parameters_are_refused(fields, match):
    with pytest.raises(ValueError, match=match):
        _servo(**fields)


def test_unknown_or_miscounted_servos_are_refused():
    with pytest.raises(ValueError, match="unknown servo 'sts9999'.*sts3215"):
        make_robot("so101_arm", actuator="sts9999")
    with pytest.raises(ValueError, match="2 servo parameter sets for 6 joints"):
        make_robot("so101_arm", actuator=["sts3215", "sts3215"])
    with pytest.raises(ValueError, match="unknown wheel model 'sts3215'.*create2"):
        make_robot("car", actuator="sts3215")
    with pytest.raises(ValueError, match="wheel create2: kv"):
        dataclasses.replace(CREATE2_WHEEL, kv=-1.0)


# --------------------------------------------------------------------------------- the servo arm in sim
def _hold(robot, target, steps=90):
    for _ in range(steps):
        robot.send_action(np.asarray(target))
        robot.wait()
        obs = robot.observe()
    assert not robot.safety.counts, robot.safety.counts
    return obs


PURE_P = dataclasses.replace(STS3215, deadband=0.0, backlash=0.0)  # a servo that settles exactly


@pytest.mark.parametrize("mass_scale", [1.0, 1.5])
def test_servo_arm_sags_by_the_gravity_torque_over_the_stiffness(mass_scale):
    with make_robot("so101_arm", actuator=PURE_P, perturbation=Perturbation(mass_scale=mass_scale)) as robot:
        robot.reset(seed=0, options={"joint_pos": HOME})
        obs = _hold(robot, HOME)
        pos, vel, _ = joint_states(robot.body, robot._joints, robot.client)
        gravity = np.array(p.calculateInverseDynamics(robot.body, pos.tolist(), [0.0] * 6, [0.0] * 6,
                                                      physicsClientId=robot.client))
    assert np.abs(vel).max() < 1e-3  # settled
    loaded = np.abs(gravity) > 0.05  # shoulder_lift, elbow_flex, wrist_flex carry the arm
    assert loaded.sum() >= 3
    # At rest the servo torque balances gravity: stiffness * (target - position) = gravity torque.
    np.testing.assert_allclose((HOME - pos)[loaded], gravity[loaded] / PURE_P.stiffness, rtol=0.02)
    np.testing.assert_allclose(obs["joint_effort"][loaded], gravity[loaded], rtol=0.02)


def test_servo_sags_in_proportion_to_the_load_and_the_default_arm_does_not_sag():
    def sag(mass_scale, **kwargs):
        with make_robot("so101_arm", perturbation=Perturbation(mass_scale=mass_scale), **kwargs) as robot:
            robot.reset(seed=0, options={"joint_pos": HOME})
            return np.abs(HOME - _hold(robot, HOME)["joint_pos"])[1]  # shoulder_lift

    assert sag(1.5, actuator=PURE_P) == pytest.approx(1.5 * sag(1.0, actuator=PURE_P), rel=0.03)
    assert sag(1.0, actuator="sts3215") > 0.005
    assert sag(1.5) < 1e-3  # PyBullet's stiff position motors: the opt-in model is what adds the sag
    # A weaker servo (half the strength) sags twice as far.
    with make_robot("so101_arm", actuator=PURE_P, perturbation=Perturbation(gain_scale=0.5)) as robot:
        robot.reset(seed=0, options={"joint_pos": HOME})
        assert np.abs(HOME - _hold(robot, HOME)["joint_pos"])[1] == pytest.approx(2 * sag(1.0, actuator=PURE_P),
                                                                                   rel=0.03)


def test_servo_step_response_matches_the_linear_second_order_model():
    """A small wrist_roll step (unsaturated, gravity-free axis): J q'' = K (target - q) - C q' with
    K = stall * kp, C = stall / w0 (the motor line's slope), J from PyBullet's mass matrix."""
    servo = PURE_P
    step = 0.02
    with make_robot("so101_arm", actuator=servo) as robot:
        robot.reset(seed=0, options={"joint_pos": HOME})
        _hold(robot, HOME, steps=30)
        start, _, _ = joint_states(robot.body, robot._joints, robot.client)
        inertia = np.array(p.calculateMassMatrix(robot.body, start.tolist(), physicsClientId=robot.client))[4, 4]
        target = HOME.copy()
        target[4] += step
        trace = []
        for _ in range(6):
            robot.send_action(target)
            robot.wait()
            trace.append(robot.observe()["joint_pos"][4] - start[4])
    stiffness, damping = servo.stiffness, servo.stall_torque / servo.no_load_speed
    q, v, model = 0.0, 0.0, []
    for _ in range(6):  # the same semi-implicit Euler as the physics, 8 substeps per 30 Hz control step
        for _ in range(8):
            v += DT * (stiffness * (step - q) - damping * v) / inertia
            q += DT * v
        model.append(q)
    np.testing.assert_allclose(trace, model, atol=0.05 * step)
    assert trace[0] < 0.9 * step  # it lags: not the instant constraint of the default arm


def test_servo_speed_saturates_at_the_no_load_speed():
    slow = dataclasses.replace(PURE_P, no_load_speed=1.0, torque_limit=2.5)  # under the 2.8 N·m overload stop
    with make_robot("so101_arm", actuator=slow) as robot:
        robot.reset(seed=0, options={"joint_pos": HOME})
        _hold(robot, HOME, steps=30)
        target = HOME.copy()
        speeds = []
        for _ in range(20):  # shoulder_pan turns about the vertical: gravity neither helps nor hinders
            target[0] = min(target[0] + 0.09, 1.8)  # within the 3 rad/s rate limit, far above 1 rad/s
            robot.send_action(target.copy())
            robot.wait()
            speeds.append(robot.observe()["joint_vel"][0])
        assert not robot.safety.counts
    assert 0.9 < max(speeds) <= 1.0 + 1e-3


def test_command_latency_applies_to_the_servo_arm_in_whole_steps():
    def first_motion(latency):
        with make_robot("so101_arm", actuator="sts3215",
                        perturbation=Perturbation(action_latency_steps=latency)) as robot:
            robot.reset(seed=0, options={"joint_pos": HOME})
            _hold(robot, HOME, steps=30)
            before = robot.observe()["joint_pos"][4]
            target = HOME.copy()
            target[4] += 0.1
            for i in range(6):
                robot.send_action(target)
                robot.wait()
                if abs(robot.observe()["joint_pos"][4] - before) > 1e-3:
                    return i
        return None

    assert first_motion(0) == 0 and first_motion(3) == 3


def test_joint_friction_is_modelled_on_the_servo_arm():
    def final_error(friction):
        with make_robot("so101_arm", actuator="sts3215",
                        perturbation=Perturbation(joint_friction=friction)) as robot:
            robot.reset(seed=0, options={"joint_pos": HOME})
            target = HOME.copy()
            target[4] += 0.1
            return abs(_hold(robot, target, steps=60)["joint_pos"][4] - target[4])

    # Coulomb friction f stalls the wrist where the servo torque K e no longer beats it: e <= f / K.
    free, stuck = final_error(0.0), final_error(0.2)
    assert free < 0.002
    assert 0.5 * 0.2 / STS3215.stiffness < stuck <= 0.2 / STS3215.stiffness + 0.002


def test_servo_arm_episodes_are_reproducible_and_reset_the_servo_state():
    def rollout():
        with make_robot("so101_arm", actuator="sts3215") as robot:
            traces = []
            for _ in range(2):
                robot.reset(seed=3)
                rng = np.random.default_rng(0)
                start = robot.observe()["joint_pos"]
                for _ in range(10):
                    robot.send_action(start + rng.uniform(-0.05, 0.05, 6))
                    robot.wait()
                    traces.append(robot.observe()["joint_pos"])
            return np.array(traces)

    a, b = rollout(), rollout()
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[:10], a[10:])  # the second episode repeats the first exactly


# --------------------------------------------------------------------------------------------- wheels
def test_wheel_drive_tracks_speed_without_steady_error_and_follows_its_motor_line():
    motors = WheelMotors(CREATE2_WHEEL, DT, n=1)
    inertia, load, speed = 2e-3, 0.1, 0.0  # a wheel with a constant 0.1 N·m drag
    for _ in range(2400):
        torque = motors.step([8.0], np.array([speed]))[0]
        speed += DT * (torque - load) / inertia
    assert speed == pytest.approx(8.0, abs=0.05)  # the integral removes the P loop's droop
    assert torque == pytest.approx(load, abs=0.01)
    fresh = WheelMotors(CREATE2_WHEEL, DT, n=1)
    # Far below target, full duty: stall * (1 - w / w0).
    w0 = CREATE2_WHEEL.no_load_speed
    assert fresh.step([100.0], np.array([w0 / 2]))[0] == pytest.approx(CREATE2_WHEEL.stall_torque / 2)


def test_base_wheels_slip_on_a_slippery_floor():
    def drive(friction_scale):
        with make_robot("diffdrive_base", actuator="create2", walls=[],
                        perturbation=Perturbation(friction_scale=friction_scale)) as robot:
            robot.reset(seed=0, options={"base_pose": [0.0, 0.0, 0.0]})
            slips = []
            for _ in range(40):
                robot.send_action(np.array([0.3, 0.0]))
                robot.wait()
                _, spin, _ = joint_states(robot.body, robot._wheels, robot.client)
                rim = float(np.mean(spin)) * 0.036
                slips.append((rim - robot.observe()["base_twist"][0]) / max(rim, 1e-6))
            return max(slips[:10]), max(np.abs(slips[-10:])), robot.observe()["base_twist"][0]

    grip_start, grip_cruise, grip_speed = drive(1.0)
    ice_start, _, _ = drive(0.05)
    assert grip_cruise < 0.1 and grip_speed == pytest.approx(0.3, abs=0.03)
    # Pulling away, the wheels spin faster than the base moves; much more so on ice.
    assert ice_start > 0.5 and ice_start > 2 * grip_start


def test_car_rear_wheel_drive_reaches_the_commanded_speed_and_spins_on_ice():
    def drive(friction_scale):
        with make_robot("car", actuator="racecar", perturbation=Perturbation(friction_scale=friction_scale)) as car:
            car.reset(seed=0, options={"base_pose": [0.0, 0.0, 0.0]})
            for _ in range(60):
                car.send_action(np.array([1.0, 0.0]))
                car.wait()
                obs = car.observe()
            _, spin, _ = joint_states(car.body, [2, 3], car.client)
            return obs["base_twist"][0], float(np.mean(spin)) * 0.05

    speed, rim = drive(1.0)
    assert speed == pytest.approx(1.0, abs=0.1) and rim == pytest.approx(speed, rel=0.1)
    ice_speed, ice_rim = drive(0.02)
    assert ice_speed < 0.5 * speed and ice_rim > 2 * ice_speed  # the driven wheels spin, the car barely moves


def test_default_base_and_arm_are_unchanged_without_an_actuator():
    with make_robot("diffdrive_base") as base, make_robot("so101_arm") as arm, make_robot("car") as car:
        assert base.motors is None and arm.servos is None and car.motors is None
        assert not arm.actuate_every_physics_step and not arm.torque_driven_joints
    assert isinstance(CREATE2_WHEEL, WheelParams)


def test_perturbation_widens_the_servos_deadband_and_play_and_needs_a_servo_model():
    def pan_moves(**fields):
        with make_robot("so101_arm", actuator=PURE_P, perturbation=Perturbation(**fields)) as robot:
            robot.reset(seed=0, options={"joint_pos": HOME})
            target = HOME.copy()
            target[0] += 0.03
            return abs(_hold(robot, target, steps=30)["joint_pos"][0] - HOME[0])

    assert pan_moves() == pytest.approx(0.03, abs=1e-3)
    assert pan_moves(servo_deadband=0.05) < 1e-4  # a 0.03 rad error sits inside a 0.05 rad deadband
    bank = ServoBank(_servo(), 2, 0.01)
    bank.wear(np.array([0.1, 0.0]), 0.0)
    torque = bank.step(np.ones(2), np.zeros(2), np.zeros(2))
    assert torque[0] == 0.0 and torque[1] > 0  # only the worn servo has play to cross
    with pytest.raises(ValueError, match="servo_backlash / servo_deadband need a servo actuator model"):
        with make_robot("so101_arm", perturbation=Perturbation(servo_backlash=0.01)):
            pass
