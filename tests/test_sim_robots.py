"""Every PyBullet robot honours the Robot interface and the safety contract; the sim-to-real knobs work."""

from __future__ import annotations

import math

import numpy as np
import pybullet as p
import pytest
import yaml

from robolearn.robot import RobotError
from robolearn.safety import LimitsError
from robolearn.safety.controller import HAZARD, NONFINITE, OVERLOAD, WORKSPACE
from robolearn.spec import CommandKind
from robolearn_sim import ROBOTS, CameraConfig, Perturbation, PerturbationRanges, SimConfig, make_robot
from robolearn_sim.car import MAX_STEER, STEERING_HINGES, twist_to_steering
from robolearn.robots.kinematics import ArmKinematics

# Start states where the robot rests by itself (so "holds still" is meaningful for effort robots).
RESTING = {
    "so101_arm": {},
    "diffdrive_base": {"base_pose": [0.0, 0.0, 0.0]},
    "car": {"base_pose": [0.0, 0.0, 0.0]},
    "pendulum": {"joint_pos": [math.pi], "joint_vel": [0.0]},
    "cartpole": {"joint_pos": [0.0, math.pi], "joint_vel": [0.0, 0.0]},
}
POSITION_KEY = {"so101_arm": "joint_pos", "diffdrive_base": "base_pose", "car": "base_pose",
                "pendulum": "joint_pos", "cartpole": "joint_pos"}


def step(robot, command):
    applied = robot.send_action(np.asarray(command, dtype=np.float64))
    robot.wait()
    return applied, robot.observe()


def random_commands(robot, rng, n):
    low, high = robot.spec.command_low, robot.spec.command_high
    span = high - low
    return [rng.uniform(low - 0.5 * span, high + 0.5 * span) for _ in range(n)]


@pytest.mark.parametrize("name", sorted(ROBOTS))
def test_observation_matches_spec_and_applied_commands_stay_within_limits(name):
    rng = np.random.default_rng(0)
    with make_robot(name) as robot:
        spec = robot.spec
        assert spec.name == name and spec.control_rate_hz > 0
        obs = robot.reset(seed=1)
        obs.check_against(spec)
        for command in random_commands(robot, rng, 15):
            applied, obs = step(robot, command)
            obs.check_against(spec)
            assert all(np.all(np.isfinite(v)) for v in obs.values.values())
            assert applied.shape == (spec.action_size,)
            assert np.all(applied >= spec.command_low - 1e-9) and np.all(applied <= spec.command_high + 1e-9)
        assert obs.timestamp == pytest.approx(15 / spec.control_rate_hz)


@pytest.mark.parametrize("name", sorted(ROBOTS))
def test_nan_action_stops_the_robot_and_is_counted(name):
    with make_robot(name) as robot:
        robot.reset(seed=0, options=RESTING[name])
        step(robot, robot.safety.stop_command())
        applied, _ = step(robot, np.full(robot.spec.action_size, np.nan))
        assert robot.safety.counts[NONFINITE] == 1
        assert robot.last_decision.stopped
        assert np.all(np.isfinite(applied))
        if robot.spec.command_kind is CommandKind.JOINT_POSITION:
            np.testing.assert_allclose(applied, robot.safety.stop_command(), atol=1e-2)  # hold position
        else:
            assert np.all(applied == 0.0)


@pytest.mark.parametrize("name", sorted(ROBOTS))
def test_wrong_command_shape_is_a_value_error(name):
    with make_robot(name) as robot:
        robot.reset(seed=0)
        with pytest.raises(ValueError, match="expected"):
            robot.send_action(np.zeros(robot.spec.action_size + 1))


@pytest.mark.parametrize("name", sorted(ROBOTS))
def test_context_manager_disconnects_and_frees_the_client(name):
    robot = make_robot(name)
    with robot:
        client = robot.client
        assert p.isConnected(client)
    assert not robot.is_connected and not p.isConnected(client)
    with pytest.raises(RobotError, match="not connected"):
        robot.observe()


@pytest.mark.parametrize("name", sorted(ROBOTS))
def test_estop_holds_the_robot_still_whatever_is_commanded(name):
    rng = np.random.default_rng(3)
    with make_robot(name) as robot:
        obs = robot.reset(seed=0, options=RESTING[name])
        for _ in range(5):  # settle
            _, obs = step(robot, robot.safety.stop_command())
        before = obs[POSITION_KEY[name]].copy()
        robot.safety.trigger_estop()
        for command in random_commands(robot, rng, 20):
            applied, obs = step(robot, command)
            assert robot.last_decision.stopped
        np.testing.assert_allclose(obs[POSITION_KEY[name]], before, atol=0.02)
        # Only an explicit reset of the safety layer clears it, then a fresh command moves the robot again.
        robot.safety.reset(robot.now())
        robot.wait()
        robot.observe()
        step(robot, robot.safety.stop_command())
        assert not robot.last_decision.stopped


@pytest.mark.parametrize("name", sorted(ROBOTS))
def test_same_seed_gives_identical_trajectories(name):
    config = dict(perturbation=PerturbationRanges(mass_scale=(0.8, 1.2), friction_scale=(0.8, 1.2),
                                                  gain_scale=(0.8, 1.2), observation_noise_std=0.01))

    def rollout(seed):
        rng = np.random.default_rng(7)
        with make_robot(name, **config) as robot:
            trace = [robot.reset(seed=seed)]
            for command in random_commands(robot, rng, 12):
                trace.append(step(robot, command)[1])
        return np.concatenate([np.concatenate([o.values[k].ravel() for k in sorted(o.values)] + [[o.timestamp]])
                               for o in trace])

    a, b, c = rollout(11), rollout(11), rollout(12)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_domain_randomisation_changes_masses_friction_and_gains_per_seed():
    ranges = PerturbationRanges(mass_scale=(0.7, 1.3), friction_scale=(0.7, 1.3), gain_scale=(0.7, 1.3))
    with make_robot("cartpole", perturbation=ranges) as robot:
        robot.reset(seed=1)
        first = (p.getDynamicsInfo(robot.body, 0, physicsClientId=robot.client)[0], robot.gains.copy())
        drawn = robot.perturbation
        assert all(0.7 <= v <= 1.3 and v != 1.0 for v in (*drawn.mass_scale, drawn.friction_scale, *drawn.gain_scale))
        robot.reset(seed=2)
        second = (p.getDynamicsInfo(robot.body, 0, physicsClientId=robot.client)[0], robot.gains.copy())
        robot.reset(seed=1)
        again = (p.getDynamicsInfo(robot.body, 0, physicsClientId=robot.client)[0], robot.gains.copy())
    assert 0.7 <= first[0] <= 1.3 and first[0] != 1.0  # nominal cart mass 1 kg
    assert first[0] != second[0] and not np.array_equal(first[1], second[1])
    assert first[0] == again[0] and np.array_equal(first[1], again[1])
    with make_robot("cartpole") as robot:  # no randomisation by default
        robot.reset(seed=1)
        assert p.getDynamicsInfo(robot.body, 0, physicsClientId=robot.client)[0] == 1.0
        assert np.all(robot.gains == 1.0)


def test_action_latency_delays_the_command_by_whole_control_steps():
    def first_motion_step(latency):
        with make_robot("cartpole", perturbation=Perturbation(action_latency_steps=latency)) as robot:
            robot.reset(seed=0, options=RESTING["cartpole"])
            for i in range(6):
                _, obs = step(robot, [5.0])
                if abs(obs["joint_vel"][0]) > 1e-6:
                    return i
        return None

    assert first_motion_step(0) == 0
    assert first_motion_step(2) == 2


def test_observation_noise_is_added_to_measurements_but_not_to_hazard_flags():
    with make_robot("diffdrive_base", perturbation=Perturbation(observation_noise_std=0.05)) as robot:
        obs = robot.reset(seed=0, options=RESTING["diffdrive_base"])
        assert np.all(obs["hazards"] == 0.0)
        assert 0.0 < np.abs(obs["base_pose"]).max() < 0.3  # the true pose is exactly 0
    with make_robot("pendulum", perturbation=Perturbation(observation_noise_std=0.0)) as robot:
        assert robot.reset(seed=0, options=RESTING["pendulum"])["joint_pos"][0] == math.pi


def test_camera_renders_uint8_frames_of_the_configured_size_that_change_with_the_scene():
    with make_robot("cartpole", image=CameraConfig(width=48, height=32)) as robot:
        assert robot.spec.image_shape == (32, 48, 3)
        first = robot.reset(seed=0, options={"joint_pos": [0.0, 0.0]})
        moved = robot.reset(seed=0, options={"joint_pos": [1.5, 0.0]})
    for obs in (first, moved):
        assert obs.image.dtype == np.uint8 and obs.image.shape == (32, 48, 3)
        assert obs.image_timestamp == obs.timestamp
        assert obs.image.std() > 5  # not a blank frame
    assert np.abs(first.image.astype(int) - moved.image.astype(int)).sum() > 0
    with make_robot("cartpole") as robot:
        assert robot.spec.image_shape is None and robot.reset(seed=0).image is None


def test_driving_into_a_wall_bumps_and_latches_the_estop():
    with make_robot("diffdrive_base", walls=[((1.0, 0.0), (0.05, 1.0))]) as robot:
        obs = robot.reset(seed=0, options={"base_pose": [0.0, 0.0, 0.0]})
        for _ in range(100):
            applied, obs = step(robot, [0.3, 0.0])
            if robot.safety.estopped:
                break
        assert robot.safety.estopped and robot.safety.estop_reason == HAZARD
        assert obs["hazards"][0] == 1.0 and obs["hazards"][1] == 1.0  # dead ahead: both bumpers
        assert 0.7 < obs["base_pose"][0] < 0.85  # body radius 0.17 from the wall face at 0.95
        applied, _ = step(robot, [0.3, 0.0])
        assert np.all(applied == 0.0)


def test_base_is_stopped_before_it_leaves_its_workspace_box():
    with make_robot("diffdrive_base", walls=[]) as robot:
        robot.reset(seed=0, options={"base_pose": [1.5, 0.0, 0.0]})
        for _ in range(60):
            _, obs = step(robot, [0.5, 0.0])
        assert robot.safety.counts[WORKSPACE] > 0
        assert obs["base_pose"][0] <= robot.safety.limits.workspace_high[0] + 0.01


def test_arm_refuses_commands_that_take_the_gripper_into_the_table():
    kinematics = ArmKinematics()
    with make_robot("so101_arm") as robot:
        obs = robot.reset(seed=0)
        target = obs["joint_pos"].copy()
        for _ in range(40):  # fold the elbow down into the table, in allowed rate-limited steps
            target[2] = min(target[2] + 0.08, 1.65)
            target[1] = min(target[1] + 0.08, 1.7)
            _, obs = step(robot, target)
        assert robot.safety.counts[WORKSPACE] > 0
        assert kinematics.position(obs["joint_pos"])[2] > 0.0
        assert not robot.safety.counts[OVERLOAD]


def test_arm_forward_kinematics_matches_the_simulated_gripper_tip():
    kinematics = ArmKinematics()
    with make_robot("so101_arm") as robot:
        obs = robot.reset(seed=0)
        tip = p.getLinkState(robot.body, 6, computeForwardKinematics=True, physicsClientId=robot.client)[4]
        np.testing.assert_allclose(kinematics.position(obs["joint_pos"]), tip, atol=1e-9)
        # The numpy FK against PyBullet's own at poses spread over the joint ranges.
        for q in np.random.default_rng(0).uniform(-1.6, 1.6, (20, 6)):
            for joint, value in enumerate(q):
                p.resetJointState(robot.body, joint, float(value), physicsClientId=robot.client)
            tip = p.getLinkState(robot.body, 6, computeForwardKinematics=True, physicsClientId=robot.client)[4]
            np.testing.assert_allclose(kinematics.position(q), tip, atol=1e-6)
    q = np.array([0.3, 0.4, 1.0, 0.5, 0.2, 0.1])
    # PyBullet reports link positions in single precision: a coarse central difference is the honest check.
    numeric = np.stack([(kinematics.position(q + e) - kinematics.position(q - e)) / 2e-3
                        for e in np.eye(6) * 1e-3], axis=1)
    np.testing.assert_allclose(kinematics.jacobian(q), numeric, atol=2e-4)
    with pytest.raises(ValueError, match="6 finite joint positions"):
        kinematics.position([0.0, np.nan, 0, 0, 0, 0])


def test_urdf_frames_form_one_tree_whose_chain_is_pybullets_link_pose():
    """The per-joint frames the driver puts on /tf and /tf_static, chained from the root, give every link's
    pose as PyBullet computes it."""
    from robolearn.robots import URDF_DIR
    from robolearn.robots.kinematics import UrdfFrames

    frames = UrdfFrames(URDF_DIR / "so101_arm.urdf")
    assert frames.root == "base" and len(frames.movable) == 6
    q = np.random.default_rng(1).uniform(-1.5, 1.5, 6)
    transforms = frames.fixed() + frames.moving(dict(zip(frames.movable, q)))
    assert sorted(t.child for t in transforms) == sorted(set(frames.links) - {"base"})  # every link, once
    by_child = {t.child: t for t in transforms}

    def pose(link):
        return np.eye(4) if link == frames.root else pose(by_child[link].parent) @ by_child[link].matrix

    with make_robot("so101_arm") as robot:
        robot.reset(seed=0)
        for joint, value in enumerate(q):
            p.resetJointState(robot.body, joint, float(value), physicsClientId=robot.client)
        for index in range(p.getNumJoints(robot.body, physicsClientId=robot.client)):
            link = p.getJointInfo(robot.body, index, physicsClientId=robot.client)[12].decode()
            state = p.getLinkState(robot.body, index, computeForwardKinematics=True, physicsClientId=robot.client)
            np.testing.assert_allclose(pose(link)[:3, 3], state[4], atol=1e-6)
            rotation = np.array(p.getMatrixFromQuaternion(state[5])).reshape(3, 3)
            np.testing.assert_allclose(pose(link)[:3, :3], rotation, atol=1e-6)


def test_car_steering_never_exceeds_its_maximum_angle():
    assert abs(twist_to_steering(0.0, 3.0)) == pytest.approx(MAX_STEER)
    assert twist_to_steering(1.0, 1.0) == pytest.approx(math.atan(0.325))
    assert twist_to_steering(-1.0, 1.0) == pytest.approx(-math.atan(0.325))  # reversing steers the other way
    with make_robot("car") as robot:
        robot.reset(seed=0, options={"base_pose": [0.0, 0.0, 0.0]})
        for _ in range(30):
            _, obs = step(robot, [0.5, 3.0])
        hinges = [p.getJointState(robot.body, j, physicsClientId=robot.client)[0] for j in STEERING_HINGES]
        # Ackermann: the inner (left) wheel turns more, the bicycle-model angle is capped at MAX_STEER.
        assert hinges[0] > hinges[1] > 0
        assert hinges[1] < MAX_STEER + 0.02
        assert obs["base_twist"][1] > 0


def test_pendulum_motor_is_too_weak_to_hold_it_far_from_upright():
    with make_robot("pendulum") as robot:
        robot.reset(seed=0, options={"joint_pos": [0.5], "joint_vel": [0.0]})
        for _ in range(30):
            _, obs = step(robot, [-2.0])  # full torque back towards upright
        assert obs["joint_pos"][0] > 0.6  # gravity (4.9 N·m · sin 0.5) beats the 2 N·m motor


# ------------------------------------------------------------------------------------------ bad input
def test_unknown_robot_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown sim robot 'ur5'.*so101_arm"):
        make_robot("ur5")


def test_unknown_keyword_names_the_sim_config_fields():
    with pytest.raises(TypeError, match="perturbation"):
        make_robot("pendulum", mass_randomisation=0.1)


@pytest.mark.parametrize("bad, match", [
    (dict(perturbation=dict(perturbation=dict(mass_scale=-1.5))), "mass_scale"),
    (dict(perturbation=dict(perturbation=dict(action_latency_steps=-1))), "action_latency_steps"),
    (dict(perturbation=dict(perturbation=dict(observation_noise_std=float("nan")))), "observation_noise_std"),
    (dict(physics_hz=250.0), "whole multiple"),
])
def test_bad_sim_config_is_a_clear_error(bad, match):
    with pytest.raises(ValueError, match=match):
        make_robot("pendulum", **bad)


def test_missing_limits_file_is_a_clear_error(tmp_path):
    with pytest.raises(LimitsError, match="does not exist"):
        make_robot("pendulum", limits_path=tmp_path / "nope.yaml")


def test_malformed_limits_file_is_a_clear_error(tmp_path):
    path = tmp_path / "limits.yaml"
    path.write_text("schema_version: 1\nrobot: pendulum\ncommands: [oops\n")
    with pytest.raises(LimitsError, match="not valid YAML"):
        make_robot("pendulum", limits_path=path)


def _edited_limits(tmp_path, robot, **changes):
    from robolearn.safety import calibration_dir

    data = yaml.safe_load((calibration_dir() / robot / "limits.yaml").read_text())
    data.update(changes)
    path = tmp_path / "limits.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_limits_of_another_robot_or_with_other_commands_are_refused(tmp_path):
    with pytest.raises(LimitsError, match="not 'pendulum'"):
        make_robot("pendulum", limits_path=_edited_limits(tmp_path, "cartpole"))
    path = _edited_limits(tmp_path, "pendulum", commands=[{"name": "elbow", "low": -1, "high": 1}])
    with pytest.raises(LimitsError, match="elbow"):
        make_robot("pendulum", limits_path=path)
    with pytest.raises(LimitsError, match="control_rate_hz"):
        make_robot("pendulum", limits_path=_edited_limits(tmp_path, "pendulum", control_rate_hz=50))
    with pytest.raises(LimitsError, match="workspace"):
        make_robot("pendulum", limits_path=_edited_limits(tmp_path, "pendulum",
                                                          workspace={"low": [0.0], "high": [1.0]}))


def test_bad_reset_options_are_a_clear_error():
    with make_robot("cartpole") as robot:
        with pytest.raises(ValueError, match="joint_pos.*2 finite numbers"):
            robot.reset(options={"joint_pos": [0.0]})


def test_sim_config_defaults_are_ideal_and_deterministic():
    config = SimConfig()
    assert config.seed == 0 and config.perturbation == Perturbation() and config.perturbation.is_nominal
    assert config.camera is None


def test_workspace_models_are_public_for_the_hardware_drivers(tmp_path):
    from robolearn.safety import load_robot_limits
    from robolearn_sim import robot_class

    car = robot_class("car").workspace_model(load_robot_limits("car"))
    assert car.max_decel == pytest.approx(2.5)  # what the car can brake at, below the 4 m/s^2 rate limit
    base = robot_class("diffdrive_base").workspace_model(load_robot_limits("diffdrive_base"))
    assert base.max_decel == pytest.approx(1.0)  # 0.05 m/s per step at 20 Hz
    assert robot_class("pendulum").workspace_model(load_robot_limits("pendulum")) is None
    path = _edited_limits(tmp_path, "diffdrive_base", workspace={"low": [-1, -1, 0], "high": [1, 1, 1]})
    with pytest.raises(LimitsError, match=r"\(x, y\)"):
        make_robot("diffdrive_base", limits_path=path)
