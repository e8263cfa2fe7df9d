"""Sensor models against their analytic behaviour (encoder offset and resolution, noise, latency in steps,
dropped readings, camera latency and exposure noise), and the privileged true-state channel, which the
deployed policy path never sees."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest

import robolearn  # noqa: F401  (registers the gymnasium ids)
from robolearn_sim import CameraConfig, Perturbation, make_robot
from robolearn_sim.perturbation import ENCODER_12BIT
from robolearn_sim.sensors import CameraModel, SensorModel

SWING = {"joint_pos": [0.0, 0.8], "joint_vel": [0.0, 0.0]}  # cart-pole: the pole falls, joint_pos changes


def _rollout(perturbation: Perturbation, steps: int = 25, seed: int = 0, robot: str = "cartpole",
             options: dict | None = None, **kwargs):
    """(observations, true states) of a rollout with zero commands."""
    with make_robot(robot, perturbation=perturbation, **kwargs) as sim:
        observations = [sim.reset(seed=seed, options=options or SWING)]
        truths = [sim.true_state()]
        for _ in range(steps):
            sim.send_action(np.zeros(sim.spec.action_size))
            sim.wait()
            observations.append(sim.observe())
            truths.append(sim.true_state())
    return observations, truths


def test_encoder_offset_is_a_constant_calibration_error_on_joint_pos_only():
    offset = (0.05, -0.02)
    observations, truths = _rollout(Perturbation(encoder_offset=offset))
    for obs, truth in zip(observations, truths):
        np.testing.assert_allclose(obs["joint_pos"] - truth["joint_pos"], offset, atol=1e-12)
        np.testing.assert_array_equal(obs["joint_vel"], truth["joint_vel"])


def test_encoder_resolution_quantises_to_whole_counts():
    observations, truths = _rollout(Perturbation(encoder_resolution=ENCODER_12BIT, encoder_offset=0.01))
    for obs, truth in zip(observations, truths):
        counts = obs["joint_pos"] / ENCODER_12BIT
        np.testing.assert_allclose(counts, np.round(counts), atol=1e-9)
        assert np.all(np.abs(obs["joint_pos"] - truth["joint_pos"] - 0.01) <= ENCODER_12BIT / 2 + 1e-12)
    assert len({tuple(o["joint_pos"]) for o in observations}) > 5  # it still moves


def test_noise_has_the_configured_spread_and_spares_event_flags():
    std = 0.02
    observations, truths = _rollout(Perturbation(observation_noise_std=std), steps=200, robot="diffdrive_base",
                                    options={"base_pose": [0.0, 0.0, 0.0]}, walls=[])
    errors = np.concatenate([(o["base_pose"] - t["base_pose"]) for o, t in zip(observations, truths)])
    assert abs(errors.mean()) < 4 * std / math.sqrt(errors.size)
    assert errors.std() == pytest.approx(std, rel=0.1)
    assert all(np.array_equal(o["hazards"], t["hazards"]) for o, t in zip(observations, truths))


@pytest.mark.parametrize("latency", [1, 3])
def test_measurement_latency_delivers_the_reading_from_whole_steps_ago(latency):
    observations, truths = _rollout(Perturbation(measurement_latency_steps=latency))
    for k, obs in enumerate(observations):
        stale = truths[max(k - latency, 0)]  # before the episode had that many readings: the first one
        np.testing.assert_array_equal(obs["joint_pos"], stale["joint_pos"])
        assert obs.timestamp == pytest.approx(k / 60)  # stamped on arrival: the driver cannot know its age
    assert not np.array_equal(observations[-1]["joint_pos"], truths[-1]["joint_pos"])


def test_dropped_readings_repeat_the_last_one_with_its_old_timestamp():
    observations, truths = _rollout(Perturbation(dropout_prob=0.3), steps=300)
    repeats = [b.timestamp == a.timestamp for a, b in zip(observations, observations[1:])]
    assert np.mean(repeats) == pytest.approx(0.3, abs=0.08)
    for k, obs in enumerate(observations):
        fresh_step = round(obs.timestamp * 60)
        np.testing.assert_array_equal(obs["joint_pos"], truths[fresh_step]["joint_pos"])


def test_sensor_errors_are_reproducible_by_seed_and_survive_reset():
    pert = Perturbation(observation_noise_std=0.01, dropout_prob=0.2, measurement_latency_steps=1)
    first, _ = _rollout(pert, seed=4)
    again, _ = _rollout(pert, seed=4)
    other, _ = _rollout(pert, seed=5)
    stack = lambda obs: np.array([o["joint_pos"] for o in obs])  # noqa: E731
    np.testing.assert_array_equal(stack(first), stack(again))
    assert not np.array_equal(stack(first), stack(other))
    with make_robot("cartpole", perturbation=pert) as sim:
        for seed in (1, 2):
            sim.reset(seed=seed, options=SWING)
            assert sim.perturbation == pert  # re-applied at every reset


def test_camera_latency_and_exposure_noise():
    camera = CameraConfig(width=32, height=24)

    def frames(perturbation):
        with make_robot("cartpole", image=camera, perturbation=perturbation) as sim:
            out = [sim.reset(seed=0, options=SWING)]
            for _ in range(8):
                sim.send_action(np.zeros(1))
                sim.wait()
                out.append(sim.observe())
        return out

    clean, late, noisy = frames(Perturbation()), frames(Perturbation(camera_latency_steps=2)), \
        frames(Perturbation(camera_noise_std=8.0))
    for k, obs in enumerate(late):
        source = clean[max(k - 2, 0)]
        np.testing.assert_array_equal(obs.image, source.image)
        assert obs.image_timestamp == source.image_timestamp and obs.timestamp == clean[k].timestamp
    assert not np.array_equal(clean[-1].image, clean[-3].image)  # the scene moved: the test can fail
    assert noisy[0].image.dtype == np.uint8 and not np.array_equal(noisy[3].image, clean[3].image)
    # The exposure noise itself, on a mid-grey frame (the rendered scene is mostly clipped white):
    # Gaussian of std 8, rounded to whole levels (variance + 1/12).
    grey = np.full((64, 64, 3), 128, np.uint8)
    _, exposed = CameraModel(Perturbation(camera_noise_std=8.0))(grey, 0.0, np.random.default_rng(0))
    diff = exposed.astype(float) - 128
    assert diff.std() == pytest.approx(math.sqrt(64 + 1 / 12), rel=0.05) and abs(diff.mean()) < 0.3


def test_models_alone_apply_the_documented_order():
    rng = np.random.default_rng(0)
    model = SensorModel(Perturbation(encoder_offset=0.1, encoder_resolution=0.25), frozenset({"hazards"}))
    _, values = model({"joint_pos": np.array([0.2]), "hazards": np.array([1.0])}, 0.0, rng)
    assert values["joint_pos"][0] == 0.25  # (0.2 + 0.1) quantised to 0.25 steps
    camera = CameraModel(Perturbation(camera_latency_steps=1))
    frame_a, frame_b = np.zeros((2, 2, 3), np.uint8), np.ones((2, 2, 3), np.uint8)
    assert camera(frame_a, 0.0, rng)[1] is frame_a
    stamp, delivered = camera(frame_b, 0.1, rng)
    assert stamp == 0.0 and delivered is frame_a


# ------------------------------------------------------------------------------- privileged true state
def test_true_state_reaches_info_but_never_the_policy_observation():
    env = gym.make("robolearn/PendulumBalance-v0", perturbation=Perturbation(encoder_offset=0.3))
    try:
        policy_obs, info = env.reset(seed=0)
        unwrapped = env.unwrapped
        measured = unwrapped.last_observation
        np.testing.assert_array_equal(policy_obs, unwrapped.task.features(measured).astype(np.float32))
        truth = info["true_state"]
        assert measured["joint_pos"][0] == pytest.approx(truth["joint_pos"][0] + 0.3)
        assert env.observation_space.shape == policy_obs.shape  # nothing extra rides along
        policy_obs, *_, info = env.step(np.zeros(1, np.float32))
        np.testing.assert_array_equal(policy_obs, unwrapped.task.features(unwrapped.last_observation)
                                      .astype(np.float32))
        assert "true_state" in info
    finally:
        env.close()


def test_the_deployed_policy_path_has_no_true_state_input(tmp_path):
    from robolearn.export.onnx_export import export_policy
    from robolearn.export.runtime import PolicyRuntime
    from test_export_toys import MlpPolicy

    env = gym.make("robolearn/CartPoleBalance-v0", perturbation=Perturbation(encoder_offset=0.05))
    try:
        obs_dim = env.observation_space.shape[0]
        path = tmp_path / "policy.onnx"
        export_policy(MlpPolicy(obs_dim=obs_dim, act_dim=1), env.unwrapped, path, parity_samples=64)
        runtime = PolicyRuntime(path)
        spec = env.unwrapped.robot.spec
        # The exported graph reads only the task's features of the measured observation.
        assert runtime.metadata.obs_dim == obs_dim
        assert {name for name, _ in runtime.metadata.feature_layout} <= set(spec.observation_shapes) | {"target"}
        assert not any("true" in name for name, _ in runtime.metadata.feature_layout)
        policy_obs, info = env.reset(seed=0)
        truth_features = env.unwrapped.task.features(
            type(env.unwrapped.last_observation)(0.0, info["true_state"])).astype(np.float32)
        assert not np.allclose(policy_obs, truth_features)  # what the robot reads is not the true state
        assert np.all(np.isfinite(runtime(policy_obs)))
    finally:
        env.close()


def test_no_deployment_module_reads_the_true_state():
    """Export, the ONNX runtime and the robot-side policy loop and nodes build their inputs from measured
    observations only; the privileged channel must not appear anywhere on that path."""
    from pathlib import Path

    import robolearn.export

    roots = [Path(robolearn.export.__file__).parent, Path(__file__).parents[1] / "drivers" / "robolearn_drivers"]
    readers = [str(f) for root in roots for f in root.rglob("*.py") if "true_state" in f.read_text()]
    assert roots[1].is_dir() and not readers


def test_a_calibration_offset_shifts_position_commands_too_so_holding_does_not_drift():
    """The servo reads and commands in its own (offset) frame: holding what it reads moves the true joints
    exactly as without the offset (not `offset` further at every step)."""
    from robolearn_sim.arm import HOME

    def hold(offset):
        with make_robot("so101_arm", perturbation=Perturbation(encoder_offset=offset)) as sim:
            reading = sim.reset(seed=0, options={"joint_pos": HOME})["joint_pos"]
            for _ in range(30):
                sim.send_action(reading)
                sim.wait()
                reading = sim.observe()["joint_pos"]
            return reading, sim.true_state()["joint_pos"]

    (reading, truth), (_, nominal_truth) = hold(0.03), hold(0.0)
    np.testing.assert_allclose(truth, nominal_truth, atol=1e-6)
    np.testing.assert_allclose(reading - truth, 0.03, atol=1e-9)
