"""PolicyRuntime: the API the ROS policy node uses to run an exported policy."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from robolearn.export.onnx_export import export_policy
from robolearn.export.runtime import PolicyLoadError, PolicyMismatchError, PolicyRuntime
from test_export_toys import DELTA_ID, MlpPolicy, make_env, toy_spec


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    path = tmp_path_factory.mktemp("rt") / "policy.onnx"
    policy = MlpPolicy(seed=3)
    export_policy(policy, make_env(DELTA_ID), path, task_id=DELTA_ID, parity_samples=256)
    return path, policy


@pytest.fixture(scope="module")
def runtime(exported):
    return PolicyRuntime(exported[0])


def test_metadata_describes_the_robot(runtime):
    meta = runtime.metadata
    spec = toy_spec()
    assert meta.robot == "toy_arm" and meta.command_kind is spec.command_kind
    assert meta.command_names == spec.command_names and meta.joint_names == spec.joint_names
    assert meta.control_rate_hz == 50.0 and meta.task_id == DELTA_ID
    np.testing.assert_array_equal(meta.command_low, spec.command_low)
    np.testing.assert_array_equal(meta.command_high, spec.command_high)
    assert (runtime.obs_dim, runtime.action_dim) == (9, 3)


def test_single_and_batched_calls_agree_and_return_fresh_arrays(runtime):
    x = np.random.default_rng(0).normal(0, 1, (16, 9))
    batch_action, batch_command = runtime.run(x)
    assert batch_command.shape == (16, 3) and batch_command.dtype == np.float64
    rows = [runtime(row) for row in x]
    for i, command in enumerate(rows):  # earlier results are not overwritten by later calls (I/O binding)
        np.testing.assert_allclose(command, batch_command[i], atol=1e-6)
        np.testing.assert_allclose(runtime.action(x[i]), batch_action[i], atol=1e-6)
    assert runtime(x[:1]).shape == (1, 3)
    assert np.all(np.abs(batch_action) <= 1.0)


def test_bad_features_are_refused(runtime):
    with pytest.raises(ValueError, match=r"shape \(8,\); expected \(9,\)"):
        runtime(np.zeros(8))
    with pytest.raises(ValueError, match="expected"):
        runtime(np.zeros((2, 3, 9)))
    bad = np.zeros(9)
    bad[4] = np.nan
    with pytest.raises(ValueError, match=r"indices \[4\] are NaN/inf"):
        runtime(bad)


def test_features_beyond_float32_are_refused_after_the_cast(runtime):
    # 1e39 is finite in float64 and infinite once cast to the graph's float32: refused, never a NaN command.
    huge = np.zeros(9)
    huge[2] = 1e39
    for features in (huge, np.stack([np.zeros(9), huge])):
        with pytest.raises(ValueError, match=r"indices \[2\] .*beyond float32"):
            runtime(features)
    assert np.all(np.isfinite(runtime(np.full(9, 3e38))))  # large but representable stays usable


def test_compatible_spec_passes_and_small_rate_jitter_is_tolerated(runtime):
    runtime.check_compatible(toy_spec())
    runtime.check_compatible(toy_spec(rate=50.4))  # 0.8 % off, inside the 1 % default


def test_every_mismatch_is_named(runtime):
    other = toy_spec(name="so101_arm", rate=100.0, joints=("a", "b"))
    with pytest.raises(PolicyMismatchError) as err:
        runtime.check_compatible(other)
    text = str(err.value)
    for fragment in ("'so101_arm'", "command names ['a', 'b'] (size 2)", "joint names", "100 Hz",
                     "observation 'joint_pos' has shape (2,)"):
        assert fragment in text
    narrower = toy_spec(low=[-1.5, -2.0, -0.4])
    runtime.check_compatible(narrower)  # the robot's own safety layer enforces its limits
    with pytest.raises(PolicyMismatchError, match="command limits"):
        runtime.check_compatible(narrower, check_limits=True)
    assert isinstance(err.value, ValueError)


def test_missing_and_non_onnx_files_are_refused(tmp_path):
    with pytest.raises(PolicyLoadError, match="does not exist"):
        PolicyRuntime(tmp_path / "nope.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_text("this is not a model")
    with pytest.raises(PolicyLoadError, match="is not an ONNX model"):
        PolicyRuntime(junk)


def test_onnx_without_robolearn_metadata_is_refused(tmp_path):
    graph = helper.make_graph([helper.make_node("Relu", ["features"], ["action"])], "g",
                              [helper.make_tensor_value_info("features", TensorProto.FLOAT, [1, 3])],
                              [helper.make_tensor_value_info("action", TensorProto.FLOAT, [1, 3])])
    path = tmp_path / "plain.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(path))
    with pytest.raises(PolicyLoadError, match="no robolearn metadata"):
        PolicyRuntime(path)


def _with_props(source, target, **changes):
    model = onnx.load(str(source))
    for prop in model.metadata_props:
        key = prop.key.removeprefix("robolearn.")
        if key in changes:
            prop.value = changes[key] if isinstance(changes[key], str) else json.dumps(changes[key])
    onnx.save(model, str(target))
    return target


@pytest.mark.parametrize("changes, message", [
    ({"feature_layout": [["joint_pos", 3], ["target", 3]]}, "feature layout .* sums to 6"),
    ({"command_low": [-1.0, -1.0]}, "command limits have shapes"),
    ({"command_names": ["a", "b"], "command_low": [-1, -1], "command_high": [1, 1]}, "names 2 commands"),
    ({"control_rate_hz": -5}, "control_rate_hz must be a positive"),
    ({"format_version": 99}, "format_version 99 is not supported"),
    ({"command_kind": '"teleport"'}, "command_kind 'teleport' unknown"),
    ({"feature_layout": "{not json"}, "not valid JSON"),
    ({"feature_layout": [["joint_vel", 3], ["x", 3], ["target", 3]]}, "needs a 'joint_pos' feature block"),
])
def test_inconsistent_metadata_is_refused(exported, tmp_path, changes, message):
    path = _with_props(exported[0], tmp_path / "bad.onnx", **changes)
    with pytest.raises(PolicyLoadError, match=message):
        PolicyRuntime(path)


def test_metadata_round_trips_through_props(runtime):
    meta = runtime.metadata
    again = type(meta).from_props(meta.to_props())
    assert again.to_props() == meta.to_props()
    with pytest.raises(ValueError, match="max_delta"):
        replace(meta, max_delta=-1.0)
