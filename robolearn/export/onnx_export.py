"""Export a learner's deterministic policy to one self-contained, verified ONNX file.

The graph maps raw task features to the policy action and to the robot command (observation normalisation
and action scaling inside), with a dynamic batch axis and the weights embedded. Before anything is written,
onnxruntime is run against PyTorch on inputs from the task's own observation distribution; a model that
disagrees by more than the stated tolerance is never written.

Opset 18: the opset the dynamo exporter's op library is written for (no version conversion step that could
change numerics), with LayerNormalization as one op; onnxruntime supports it from 1.14 (2023), so robots
with an older apt or Jetson build than the 1.32 used here run it too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import onnx
import onnxruntime as ort
import torch

import robolearn
from robolearn.export.graph import ExportError, PolicyGraph, command_mapping_of
from robolearn.files import write_atomically
from robolearn.export.metadata import POSITION_DELTA, PolicyMetadata
from robolearn.export.parity import ParityResult, ParitySamples, max_abs_error, sample_features

DEFAULT_OPSET = 18
ACTION_ATOL = 1e-5  # float32 graph vs float32 torch; measured differences are ~1e-7
DEFAULT_PARITY_SAMPLES = 4096
BATCH1_CHECKS = 32  # rows also run one at a time, the shape the robot's runtime uses
# Node annotations kept in the file: module path and class, used to name layers in error messages.
# Stack traces and FX dumps are dropped: they hold the exporting machine's file paths.
_KEPT_NODE_METADATA = ("pkg.torch.onnx.class_hierarchy", "pkg.torch.onnx.name_scopes")


class ParityError(ExportError):
    """onnxruntime and PyTorch disagree on the exported policy; nothing was written."""


@dataclass
class ExportResult:
    path: Path
    metadata: PolicyMetadata
    parity: ParityResult
    features: np.ndarray  # the parity inputs, for checking derived artefacts (generated C) the same way


def export_checkpoint(checkpoint: str | os.PathLike, output: str | os.PathLike, *, env_id: str | None = None,
                      parity_samples: int = DEFAULT_PARITY_SAMPLES, seed: int = 0,
                      opset: int = DEFAULT_OPSET) -> ExportResult:
    """Rebuild the checkpoint's env (or `env_id`), load its learner and export its policy to `output`."""
    from robolearn.envs.robot_env import RobotEnv
    from robolearn.learners.base import Learner, load_checkpoint

    data = load_checkpoint(checkpoint)  # CheckpointError (a ValueError) for a file of another format
    env_id = env_id or data.get("env_id")
    if not env_id:
        raise ExportError(f"{checkpoint} does not record the env it was trained on; pass the task's gymnasium "
                          f"id (robolearn export --task <id>)")
    env_id = _resolve_env_id(env_id)
    try:
        env = gym.make(env_id)
    except gym.error.Error as exc:
        raise ExportError(f"cannot make env {env_id!r} ({exc}); pass the task's registered id with --task") from exc
    try:
        robot_env = env.unwrapped
        if not isinstance(robot_env, RobotEnv):
            raise ExportError(f"env {env_id!r} is a {type(robot_env).__name__}, not a robolearn RobotEnv: export "
                              f"needs the robot spec and task behind it")
        learner = Learner.load(checkpoint, env, device="cpu")
        policy = _policy_of(learner)
        certificate = learner.certificate() if callable(getattr(learner, "certificate", None)) else None
        return export_policy(policy, robot_env, output, task_id=env_id, algo=data["algo"],
                             checkpoint_sha256=data["sha256"], certificate=certificate,
                             parity_samples=parity_samples, seed=seed, opset=opset)
    finally:
        env.close()


def export_policy(policy: torch.nn.Module, env, output: str | os.PathLike, *, task_id: str = "", algo: str = "",
                  checkpoint_sha256: str = "", certificate: Any = None,
                  parity_samples: int = DEFAULT_PARITY_SAMPLES, seed: int = 0,
                  opset: int = DEFAULT_OPSET) -> ExportResult:
    """Export `policy` (raw features -> actions in [-1, 1]) for the robot and task of `env` (a RobotEnv).

    `env` is stepped with noisy policy actions to draw the parity inputs: pass a simulated env, never one
    connected to hardware (`export_checkpoint` always builds the sim env from the registered task id).
    """
    if not isinstance(policy, torch.nn.Module):
        raise ExportError(f"policy must be a torch.nn.Module, got {type(policy).__name__}")
    if not isinstance(getattr(env, "observation_space", None), gym.spaces.Box):
        raise ExportError("export supports flat feature observations only; image policies are not exportable yet")
    spec, task = env.robot.spec, env.task
    layout = task.feature_layout(spec)
    obs_dim = sum(size for _, size in layout)
    if env.observation_space.shape != (obs_dim,):
        raise ExportError(f"task feature_layout {layout} sums to {obs_dim}, but the env's observations have "
                          f"shape {env.observation_space.shape}")
    mapping, max_delta = command_mapping_of(task)
    metadata = PolicyMetadata(
        robot=spec.name, command_kind=spec.command_kind, command_names=spec.command_names,
        joint_names=spec.joint_names, feature_layout=layout, control_rate_hz=float(spec.control_rate_hz),
        command_low=spec.command_low, command_high=spec.command_high,
        task_id=task_id or getattr(getattr(env, "spec", None), "id", None) or task.name, algo=algo,
        command_mapping=mapping, max_delta=max_delta, lipschitz_certificate=_jsonable(certificate),
        checkpoint_sha256=checkpoint_sha256, robolearn_version=robolearn.__version__, opset=opset,
        parity_atol=ACTION_ATOL, parity_samples=parity_samples,
    )
    graph = PolicyGraph(policy, spec, mapping, max_delta,
                        metadata.block_slice("joint_pos") if mapping == POSITION_DELTA else None)

    def act(features: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return graph.policy(torch.as_tensor(features, dtype=torch.float32)[None])[0].numpy()

    _check_policy_output(graph.policy, np.zeros((3, obs_dim), np.float32), spec.action_size)
    samples = sample_features(env, act, parity_samples, seed=seed)
    _check_policy_output(graph.policy, samples.features, spec.action_size)
    model = to_onnx(graph, obs_dim, opset)
    _set_metadata(model, metadata.to_props())
    onnx.checker.check_model(model, full_check=True)
    data = model.SerializeToString()
    parity = check_parity(data, graph, samples, spec, task, command_atol=metadata.command_atol)
    if not parity.passed:
        raise ParityError(f"onnxruntime disagrees with PyTorch on the exported policy, so it was not written: "
                          f"{parity.describe()}")
    path = Path(output)
    write_atomically(path, data)
    return ExportResult(path, metadata, parity, samples.features)


def to_onnx(graph: torch.nn.Module, obs_dim: int, opset: int = DEFAULT_OPSET) -> onnx.ModelProto:
    """ONNX model of `graph` with a dynamic batch axis and the weights embedded."""
    example = torch.zeros(3, obs_dim)
    with _quiet_exporter():
        try:
            program = torch.onnx.export(
                graph, (example,), dynamo=True, opset_version=opset, input_names=["features"],
                output_names=["action", "command"], dynamic_shapes={"features": {0: torch.export.Dim("batch")}},
                optimize=True, verbose=False,
            )
        except Exception as exc:  # the exporter raises many types; the cause is in the message
            raise ExportError(f"torch.onnx.export failed on the policy ({type(exc).__name__}: {exc}); policy() "
                              f"must be a traceable module without data-dependent Python control flow") from exc
    # model_proto holds initializers inline; serialising it ourselves avoids the .onnx.data side file.
    model = program.model_proto
    for node in model.graph.node:
        kept = [p for p in node.metadata_props if p.key in _KEPT_NODE_METADATA]
        del node.metadata_props[:]
        node.metadata_props.extend(kept)
    for value in (*model.graph.input, *model.graph.output):
        del value.metadata_props[:]
    return model


def check_parity(model_bytes: bytes, graph: PolicyGraph, samples: ParitySamples, spec, task,
                 command_atol: float) -> ParityResult:
    """onnxruntime vs the torch graph on every sample (batched and one row at a time), and the graph's
    command vs the task's own `action_to_command` on the rollout observations."""
    session = make_session(model_bytes)
    features = samples.features
    with torch.no_grad():
        ref_action, ref_command = (t.numpy() for t in graph(torch.from_numpy(features)))
    action, command = session.run(["action", "command"], {"features": features})
    action_err = max_abs_error(action, ref_action)
    command_err = max_abs_error(command, ref_command)
    for row in features[:BATCH1_CHECKS]:
        a1, c1 = session.run(["action", "command"], {"features": row[None]})
        with torch.no_grad():
            ra, rc = (t.numpy() for t in graph(torch.from_numpy(row[None])))
        action_err = max(action_err, max_abs_error(a1, ra))
        command_err = max(command_err, max_abs_error(c1, rc))
    n_obs = len(samples.observations)
    expected = np.stack([task.action_to_command(ref_action[i].astype(np.float64), samples.observations[i], spec)
                         for i in range(n_obs)])
    task_err = max_abs_error(command[:n_obs], expected)
    return ParityResult(len(features), action_err, command_err, task_err, ACTION_ATOL, command_atol)


def make_session(model: bytes | str | os.PathLike, threads: int = 1) -> ort.InferenceSession:
    """A CPU onnxruntime session; one intra-op thread by default (small nets, shared cores)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    source = model if isinstance(model, bytes) else str(model)
    try:
        return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types per failure
        raise ExportError(f"onnxruntime {ort.__version__} cannot load the model ({exc})") from exc


def _check_policy_output(policy: torch.nn.Module, features: np.ndarray, action_size: int) -> None:
    x = torch.from_numpy(features)
    with torch.no_grad():
        first, second = policy(x), policy(x)
    if not isinstance(first, torch.Tensor):
        raise ExportError(
            f"policy() returned a {type(first).__name__}, not an action tensor: export needs the deterministic "
            f"action (e.g. tanh(mean)) as one tensor [batch, {action_size}], not distribution parameters or samples"
        )
    if tuple(first.shape) != (len(features), action_size):
        raise ExportError(f"policy() maps features {tuple(x.shape)} to {tuple(first.shape)}; expected "
                          f"({len(features)}, {action_size}), one action per row")
    if not torch.equal(first, second):
        raise ExportError("policy() is stochastic (two calls on the same input differ): export needs the "
                          "deterministic policy (the mean action), not a sampling one")
    if not torch.isfinite(first).all():
        raise ExportError("policy() returned NaN/inf on realistic inputs; the checkpoint's weights or "
                          "normaliser are broken")
    peak = float(first.abs().max())
    if peak > 1.0 + 1e-6:
        raise ExportError(f"policy() returned |action| up to {peak:.3g}; actions must be in [-1, 1] (is the tanh "
                          f"squashing missing from policy()?)")


def _policy_of(learner) -> torch.nn.Module:
    try:
        policy = learner.policy()
    except NotImplementedError as exc:
        raise ExportError(f"the {learner.algo!r} learner has no deterministic policy to export ({exc})") from exc
    return policy


def _resolve_env_id(name: str) -> str:
    """A registered gymnasium id as given, else a robolearn task's short name ("ArmReach") to its id."""
    if name in gym.registry:
        return name
    from robolearn.tasks.registry import task_entry

    try:
        return task_entry(name).id
    except ValueError as exc:
        raise ExportError(f"{name!r} is neither a registered gymnasium id nor a robolearn task: {exc}") from None


def _set_metadata(model: onnx.ModelProto, props: dict[str, str]) -> None:
    kept = [p for p in model.metadata_props if p.key not in props]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    for key, value in props.items():
        model.metadata_props.add(key=key, value=value)


def _jsonable(value: Any) -> Any:
    if value is None:
        return None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    try:
        return json.loads(json.dumps(value, default=_to_builtin))
    except (TypeError, ValueError) as exc:
        raise ExportError(f"the learner's certificate() returned {value!r}, which cannot be stored as JSON "
                          f"metadata ({exc})") from exc


def _to_builtin(value: Any) -> Any:
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    if isinstance(value, torch.Tensor):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


@contextlib.contextmanager
def _quiet_exporter():
    """The exporter logs unrelated warnings (missing torchvision ops, deprecations) on every call."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "torch._export")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
