"""The public perturbation API: validation, files, presets, sampling, and how sim robots apply it."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pybullet as p
import pytest

import robolearn  # noqa: F401  (registers the gymnasium ids)
from robolearn_sim import (ROBOTS, Perturbation, PerturbationLayout, PerturbationRanges, SimConfig,
                           load_perturbation, make_robot, presets, save_perturbation)
from robolearn_sim.perturbation import ENCODER_12BIT


# ------------------------------------------------------------------------------------- the values
@pytest.mark.parametrize("fields, match", [
    (dict(mass_scale=-1.0), "mass_scale.*not physical"),
    (dict(mass_scale=0.0), "mass_scale"),
    (dict(mass_scale=(1.0, -0.5)), "mass_scale"),
    (dict(gain_scale=20.0), "gain_scale"),
    (dict(friction_scale=float("nan")), "friction_scale"),
    (dict(joint_damping=-0.1), "joint_damping"),
    (dict(joint_friction=-1.0), "joint_friction"),
    (dict(action_latency_steps=-1), "action_latency_steps"),
    (dict(action_latency_steps=1.5), "action_latency_steps.*whole number"),
    (dict(measurement_latency_steps=True), "measurement_latency_steps"),
    (dict(dropout_prob=1.0), "dropout_prob"),
    (dict(encoder_offset=4.0), "encoder_offset"),
    (dict(encoder_resolution=-0.001), "encoder_resolution"),
    (dict(camera_noise_std=300.0), "camera_noise_std"),
    (dict(external_force=(0.0, 1.0)), "external_force"),
    (dict(external_force=(0.0, 0.0, 5000.0)), "external_force"),
    (dict(observation_noise_std=[0.1, 0.2]), "observation_noise_std.*one number"),
    (dict(mass_scale="heavy"), "mass_scale"),
    (dict(gain_scale=["strong", 1.0]), "gain_scale must be a number or a list of numbers"),
])
def test_out_of_range_values_are_refused_with_the_field_named(fields, match):
    with pytest.raises(ValueError, match=match):
        Perturbation(**fields)


def test_latency_longer_than_an_episode_is_refused():
    Perturbation(action_latency_steps=9).check_episode(10)
    with pytest.raises(ValueError, match="action_latency_steps=10.*episode"):
        Perturbation(action_latency_steps=10).check_episode(10)
    with pytest.raises(ValueError, match="measurement_latency_steps"):
        PerturbationRanges(measurement_latency_steps=(0, 500)).check_episode(200)
    with pytest.raises(ValueError, match="action_latency_steps.*episode"):  # the env checks at construction
        gym.make("robolearn/PendulumBalance-v0", perturbation=Perturbation(action_latency_steps=10_000))


def test_dict_and_yaml_round_trip(tmp_path):
    pert = Perturbation(mass_scale=(1.1, 0.9), gain_scale=0.8, action_latency_steps=2, encoder_offset=0.01,
                        external_force=(0.0, 0.0, -2.0), external_force_link="gripper")
    assert Perturbation.from_dict(pert.to_dict()) == pert
    ranges = PerturbationRanges(mass_scale=(0.8, 1.2), action_latency_steps=(0, 2),
                                external_force=((-1.0, 1.0), 0.0, 0.0))
    assert PerturbationRanges.from_dict(ranges.to_dict()) == ranges
    for value in (pert, ranges):
        path = tmp_path / "p.yaml"
        save_perturbation(value, path, "so101_arm")
        assert load_perturbation(path, "so101_arm") == value
        with pytest.raises(ValueError, match="for robot 'so101_arm', not 'cartpole'"):
            load_perturbation(path, "cartpole")


def test_bad_documents_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown perturbation field.*mass_scael"):
        Perturbation.from_dict({"mass_scael": 1.2})
    with pytest.raises(ValueError, match="exactly one of 'perturbation:' or 'ranges:'"):
        load_perturbation({"mass_scale": 1.2})
    with pytest.raises(ValueError, match="low > high"):
        load_perturbation({"ranges": {"mass_scale": [1.2, 0.8]}})
    with pytest.raises(ValueError, match="mass_scale"):  # a range whose end is not physical
        PerturbationRanges(mass_scale=(-0.5, 1.0))
    with pytest.raises(ValueError, match="whole control steps"):
        PerturbationRanges(action_latency_steps=(0, 1.5))
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        load_perturbation(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("perturbation: [oops\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_perturbation(broken)
    with pytest.raises(ValueError, match="unknown perturbation preset 'sluggish'.*servo_lag"):
        load_perturbation("sluggish", "so101_arm")
    with pytest.raises(ValueError, match="no perturbation presets for robot 'ur5'"):
        presets("ur5")


def test_ranges_sample_reproducibly_within_bounds_and_per_element():
    ranges = PerturbationRanges(mass_scale=(0.5, 1.5), gain_scale=(0.8, 1.0), action_latency_steps=(0, 3),
                                encoder_offset=(-0.02, 0.02))
    layout = PerturbationLayout(links=("a", "b", "c"), joints=("j1", "j2"), actuators=2, encoders=2)
    draws = [ranges.sample(np.random.default_rng(seed), layout) for seed in (3, 3, 4)]
    assert draws[0] == draws[1] and draws[0] != draws[2]
    first = draws[0]
    assert len(first.mass_scale) == 3 and all(0.5 <= m <= 1.5 for m in first.mass_scale)
    assert len(first.gain_scale) == 2 and len(first.encoder_offset) == 2
    latencies = {ranges.sample(np.random.default_rng(s)).action_latency_steps for s in range(40)}
    assert latencies == {0, 1, 2, 3}
    # Without a layout every field is one draw; a robot without encoders gets none.
    assert isinstance(ranges.sample(np.random.default_rng(0)).mass_scale, float)
    assert ranges.sample(np.random.default_rng(0), PerturbationLayout(encoders=0)).encoder_offset == 0.0


@pytest.mark.parametrize("robot", sorted(ROBOTS))
def test_every_preset_of_every_robot_runs(robot):
    named = presets(robot)
    assert named["nominal"] == Perturbation() and {"mild", "strong", "servo_lag", "weak_gains"} <= set(named)
    for name in named:
        with make_robot(robot, perturbation=name) as sim:
            sim.reset(seed=0)
            sim.send_action(sim.safety.stop_command())
            sim.wait()
            assert np.all(np.isfinite(np.concatenate([v.ravel() for v in sim.observe().values.values()])))


# --------------------------------------------------------------------------- applied to a sim robot
def test_a_fixed_perturbation_survives_reset_and_ranges_are_redrawn_reproducibly_by_seed():
    with make_robot("cartpole", perturbation=Perturbation(mass_scale=1.5, gain_scale=0.5)) as robot:
        for seed in (0, 1, None):
            robot.reset(seed=seed)
            assert p.getDynamicsInfo(robot.body, 0, physicsClientId=robot.client)[0] == pytest.approx(1.5)
            assert np.all(robot.gains == 0.5)
    ranges = PerturbationRanges(mass_scale=(0.5, 1.5))

    def cart_masses(seeds):
        with make_robot("cartpole", perturbation=ranges) as robot:
            out = []
            for seed in seeds:
                robot.reset(seed=seed)
                out.append(p.getDynamicsInfo(robot.body, 0, physicsClientId=robot.client)[0])
            return out

    a, b = cart_masses([5, 6, 5]), cart_masses([5, 6, 5])
    assert a == b and a[0] == a[2] and a[0] != a[1]


def test_heavier_links_and_weaker_gains_change_the_physics():
    def fall_after(perturbation, steps=30):
        with make_robot("pendulum", perturbation=perturbation) as robot:
            robot.reset(seed=0, options={"joint_pos": [0.3], "joint_vel": [0.0]})
            for _ in range(steps):
                robot.send_action(np.array([-1.0]))
                robot.wait()
            return robot.observe()["joint_pos"][0]

    nominal, weak = fall_after(Perturbation()), fall_after(Perturbation(gain_scale=0.5))
    # The 1 N·m push against the fall holds it back less when the motor is weaker.
    assert abs(weak) > abs(nominal) + 0.05


def test_joint_damping_slows_a_free_pendulum_and_friction_holds_it():
    def swing(**fields):
        with make_robot("pendulum", perturbation=Perturbation(**fields)) as robot:
            robot.reset(seed=0, options={"joint_pos": [1.0], "joint_vel": [0.0]})
            speeds = []
            for _ in range(20):
                robot.send_action(np.array([0.0]))
                robot.wait()
                speeds.append(abs(robot.observe()["joint_vel"][0]))
            return max(speeds), robot.observe()["joint_pos"][0]

    free, _ = swing()
    damped, _ = swing(joint_damping=2.0)
    assert damped < 0.7 * free
    # Coulomb friction above the gravity torque (1 kg at 0.5 m at 1 rad: 4.1 N·m) holds the pendulum.
    stuck_speed, stuck_at = swing(joint_friction=6.0)
    assert stuck_speed < 1e-2 and stuck_at == pytest.approx(1.0, abs=1e-2)


def test_external_force_pushes_the_named_link():
    def cart_x(force, link="cart"):
        with make_robot("cartpole", perturbation=Perturbation(external_force=force, external_force_link=link)) as robot:
            robot.reset(seed=0, options={"joint_pos": [0.0, 0.0], "joint_vel": [0.0, 0.0]})
            for _ in range(10):
                robot.send_action(np.array([0.0]))
                robot.wait()
            return robot.observe()["joint_pos"][0]

    # 5 N on the 1 kg cart (pole 0.1 kg) for 10 steps at 60 Hz: x = F t² / 2m ~ 0.06 m.
    assert cart_x((5.0, 0.0, 0.0)) == pytest.approx(5.0 * (10 / 60) ** 2 / 2 / 1.1, rel=0.25)
    assert cart_x((0.0, 0.0, 0.0)) == 0.0
    assert cart_x((5.0, 0.0, 0.0), link=None) > 0.01  # default: the far end of the chain, the pole
    with pytest.raises(ValueError, match="external_force_link 'nose' is not a link.*links"):
        with make_robot("cartpole", perturbation=Perturbation(external_force=(1.0, 0, 0),
                                                              external_force_link="nose")):
            pass


def test_mismatched_per_element_values_and_unmodelled_friction_are_refused():
    with pytest.raises(ValueError, match="mass_scale has 2 values.*links"):
        with make_robot("so101_arm", perturbation=Perturbation(mass_scale=(1.0, 1.2))):
            pass
    with pytest.raises(ValueError, match="joint_friction needs torque-driven joints"):
        with make_robot("so101_arm", perturbation=Perturbation(joint_friction=0.1)):
            pass
    with pytest.raises(ValueError, match="measures no joint_pos"):
        with make_robot("diffdrive_base", perturbation=Perturbation(encoder_offset=0.1)):
            pass
    with make_robot("so101_arm", perturbation=Perturbation(joint_friction=(0.0,) * 6, encoder_offset=(0.0,) * 6)):
        pass  # all-zero tuples are the nominal robot, not a use of friction
    with pytest.raises(ValueError, match="perturbation must be a Perturbation"):
        SimConfig(perturbation={"mass_scale": 1.2})


def test_layout_names_the_links_joints_actuators_and_encoders():
    with make_robot("so101_arm") as robot:
        layout = robot.perturbation_layout()
    assert layout.actuators == 6 and layout.encoders == 6 and len(layout.joints) == 6
    assert len(layout.links) >= 6 and all(isinstance(name, str) and name for name in layout.links)


def test_true_state_is_the_noise_free_measurement_in_info():
    env = gym.make("robolearn/PendulumBalance-v0",
                   perturbation=Perturbation(observation_noise_std=0.1, encoder_offset=0.2))
    try:
        _, info = env.reset(seed=0)
        robot = env.unwrapped.robot
        measured = env.unwrapped.last_observation["joint_pos"]
        assert set(info["true_state"]) == {"joint_pos", "joint_vel"}
        assert abs(measured[0] - info["true_state"]["joint_pos"][0] - 0.2) < 0.5
        _, _, _, _, info = env.step(env.action_space.sample())
        truth = info["true_state"]["joint_pos"][0]
        assert truth == pytest.approx(p.getJointState(robot.body, 0, physicsClientId=robot.client)[0])
        assert env.unwrapped.last_observation["joint_pos"][0] != truth
    finally:
        env.close()


def test_encoder_constant_is_twelve_bits():
    assert ENCODER_12BIT == pytest.approx(2 * math.pi / 4096)


def test_heavier_links_keep_their_urdf_inertia_scaled_with_the_mass():
    with make_robot("so101_arm") as robot:
        nominal = [p.getDynamicsInfo(robot.body, j, physicsClientId=robot.client)[:3] for j in range(6)]
    with make_robot("so101_arm", perturbation=Perturbation(mass_scale=1.5)) as robot:
        heavy = [p.getDynamicsInfo(robot.body, j, physicsClientId=robot.client)[:3] for j in range(6)]
    for (mass, _, inertia), (heavy_mass, _, heavy_inertia) in zip(nominal, heavy):
        assert heavy_mass == pytest.approx(1.5 * mass)
        np.testing.assert_allclose(heavy_inertia, 1.5 * np.asarray(inertia), rtol=1e-6)
