"""ONNX export: graph contents, metadata, the parity gate, refusals, checkpoints and the CLI."""

from __future__ import annotations

import hashlib

import gymnasium as gym
import numpy as np
import onnx
import pytest
import torch

from robolearn.cli import main as cli_main
from robolearn.envs.robot_env import RobotEnv
from robolearn.export.graph import ExportError
from robolearn.export.metadata import AFFINE, EXPORT_FORMAT_VERSION, POSITION_DELTA
from robolearn.export.onnx_export import ParityError, export_checkpoint, export_policy
from robolearn.export.runtime import PolicyRuntime
from robolearn.learners.base import CheckpointError
from test_export_toys import (AFFINE_ID, CUSTOM_ID, DELTA_ID, DistributionPolicy, MlpPolicy, SamplingPolicy,
                              ToyArm, ToyDeltaReach, ToyLearner, UnsquashedPolicy, make_env)


@pytest.fixture(scope="module")
def delta_export(tmp_path_factory):
    path = tmp_path_factory.mktemp("delta") / "policy.onnx"
    policy = MlpPolicy(layer_norm=True, l2=True, seed=1)
    return export_policy(policy, make_env(DELTA_ID), path, task_id=DELTA_ID, algo="toy", parity_samples=2048), policy


def _rollout_observations(env_id, steps=60, seed=5):
    env = make_env(env_id)
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(steps):
        out.append((obs, env.last_observation))
        obs, *_ = env.step(rng.uniform(-1, 1, 3))
    return env, out


def test_export_writes_one_verified_file_with_metadata(delta_export):
    result, _ = delta_export
    files = sorted(p.name for p in result.path.parent.iterdir())
    assert files == ["policy.onnx"]  # weights embedded: no .onnx.data side file, no temp file left
    model = onnx.load(str(result.path))
    onnx.checker.check_model(model, full_check=True)
    props = {p.key: p.value for p in model.metadata_props}
    for field in ("robot", "command_kind", "command_names", "joint_names", "feature_layout", "control_rate_hz",
                  "command_low", "command_high", "task_id", "algo", "checkpoint_sha256", "robolearn_version",
                  "format_version", "lipschitz_certificate", "opset"):
        assert f"robolearn.{field}" in props
    assert [o.name for o in model.graph.output] == ["action", "command"]
    batch_dim = model.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch_dim.dim_param and not batch_dim.HasField("dim_value")  # dynamic batch axis
    assert model.opset_import[0].version == 18
    # Stack traces of the exporting machine are not shipped.
    assert not any(p.key.endswith("stack_trace") for n in model.graph.node for p in n.metadata_props)
    meta = result.metadata
    assert (meta.robot, meta.command_mapping, meta.max_delta) == ("toy_arm", POSITION_DELTA, 0.2)
    assert meta.feature_layout == (("joint_pos", 3), ("joint_vel", 3), ("target", 3))
    assert meta.format_version == EXPORT_FORMAT_VERSION and meta.task_id == DELTA_ID
    assert result.parity.passed and result.parity.samples == 2048
    assert result.parity.max_action_error <= 1e-5


def test_exported_graph_matches_policy_and_task_mapping_on_fresh_states(delta_export):
    result, policy = delta_export
    runtime = PolicyRuntime(result.path)
    env, states = _rollout_observations(DELTA_ID)
    for features, obs in states:
        with torch.no_grad():
            expected_action = policy(torch.from_numpy(features)[None])[0].numpy()
        action, command = runtime.run(features)
        np.testing.assert_allclose(action, expected_action, atol=1e-5)
        np.testing.assert_allclose(command, env.task.action_to_command(action, obs, env.robot.spec), atol=1e-5)


def test_affine_task_bakes_in_scaling_to_the_limits(tmp_path):
    env = make_env(AFFINE_ID)
    result = export_policy(MlpPolicy(seed=2), env, tmp_path / "p.onnx", parity_samples=256)
    assert result.metadata.command_mapping == AFFINE
    runtime = PolicyRuntime(result.path)
    x = np.random.default_rng(0).normal(0, 1, (50, 9)).astype(np.float32)
    action, command = runtime.run(x)
    spec = env.robot.spec
    np.testing.assert_allclose(command, spec.command_low + (action + 1) / 2 * (spec.command_high - spec.command_low),
                               atol=1e-5)
    assert np.all(command >= spec.command_low - 1e-6) and np.all(command <= spec.command_high + 1e-6)


@pytest.mark.parametrize("policy, message", [
    (SamplingPolicy(), "stochastic"),
    (DistributionPolicy(), "not an action tensor"),
    (UnsquashedPolicy(), "tanh"),
])
def test_refuses_policies_without_a_deterministic_bounded_action(tmp_path, policy, message):
    with pytest.raises(ExportError, match=message):
        export_policy(policy, make_env(DELTA_ID), tmp_path / "p.onnx", parity_samples=64)
    assert not (tmp_path / "p.onnx").exists()


def test_refuses_a_task_with_a_custom_command_mapping(tmp_path):
    with pytest.raises(ExportError, match="ToyCustomMapping overrides action_to_command"):
        export_policy(MlpPolicy(), make_env(CUSTOM_ID), tmp_path / "p.onnx", parity_samples=64)
    assert not (tmp_path / "p.onnx").exists()


class _ExportDivergent(MlpPolicy):
    """Traces differently from how it runs eagerly: the case the parity gate exists for."""

    def forward(self, x):
        action = super().forward(x)
        return action * 0.5 if torch.compiler.is_exporting() else action


def test_parity_failure_writes_nothing_and_keeps_the_previous_file(tmp_path):
    path = tmp_path / "p.onnx"
    path.write_bytes(b"previous model")
    with pytest.raises(ParityError, match="not written.*max \\|action error\\|"):
        export_policy(_ExportDivergent(), make_env(DELTA_ID), path, parity_samples=128)
    assert path.read_bytes() == b"previous model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.onnx"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    env = gym.make(DELTA_ID)
    learner = ToyLearner(env)
    learner.train(30)
    path = tmp_path_factory.mktemp("ckpt") / "toy.pt"
    learner.save(path)
    return path, learner


def test_export_checkpoint_records_provenance_and_reproduces_the_learner(checkpoint, tmp_path):
    path, learner = checkpoint
    result = export_checkpoint(path, tmp_path / "p.onnx", parity_samples=512)
    meta = result.metadata
    assert meta.algo == "toy_bc" and meta.task_id == DELTA_ID
    assert meta.checkpoint_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert meta.lipschitz_certificate["upper_bound"] == pytest.approx(learner.certificate()["upper_bound"])
    runtime = PolicyRuntime(result.path)
    for features in np.random.default_rng(1).normal(0, 1, (20, 9)).astype(np.float32):
        np.testing.assert_allclose(runtime.action(features), learner.act(features), atol=1e-5)


def test_cli_exports_onnx_and_verified_c(checkpoint, tmp_path, capsys):
    path, _ = checkpoint
    out, c_out = tmp_path / "cli.onnx", tmp_path / "cli.c"
    code = cli_main(["export", str(path), "-o", str(out), "--c-out", str(c_out), "--parity-samples", "256"])
    text = capsys.readouterr().out
    assert code == 0, text
    assert out.is_file() and c_out.is_file()
    assert "matches onnxruntime on 256 inputs" in text and "opset 18" in text


def test_cli_reports_a_file_that_is_not_a_checkpoint(tmp_path, capsys):
    bogus = tmp_path / "bogus.pt"
    bogus.write_bytes(b"not a checkpoint")
    assert cli_main(["export", str(bogus), "-o", str(tmp_path / "x.onnx")]) == 1
    assert "not a readable robolearn checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "x.onnx").exists()
    with pytest.raises(CheckpointError):
        export_checkpoint(bogus, tmp_path / "x.onnx")


def test_checkpoint_without_env_id_asks_for_the_task(tmp_path):
    learner = ToyLearner(RobotEnv(ToyArm, ToyDeltaReach()))  # made directly: no gymnasium id to record
    path = tmp_path / "noenv.pt"
    learner.save(path)
    with pytest.raises(ExportError, match="--task"):
        export_checkpoint(path, tmp_path / "p.onnx")
    with pytest.raises(ExportError, match="neither a registered gymnasium id nor a robolearn task"):
        export_checkpoint(path, tmp_path / "p.onnx", env_id="NoSuchTask")
    result = export_checkpoint(path, tmp_path / "p.onnx", env_id=DELTA_ID, parity_samples=64)
    assert result.metadata.task_id == DELTA_ID
