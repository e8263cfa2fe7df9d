"""Generated C policies: compiled with the system compiler and checked against onnxruntime."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn as nn

from robolearn.export.c_build import CPolicy, compile_shared, find_compiler
from robolearn.export.c_codegen import CodegenError, generate_c
from robolearn.export.onnx_export import export_policy
from robolearn.export.runtime import PolicyRuntime
from test_export_toys import AFFINE_ID, DELTA_ID, MlpPolicy, make_env

pytestmark = pytest.mark.skipif(find_compiler() is None, reason="needs a C compiler (cc/gcc/clang)")


def _export(tmp_path, policy, env_id=DELTA_ID):
    return export_policy(policy, make_env(env_id), tmp_path / "policy.onnx", task_id=env_id, parity_samples=256)


@pytest.mark.parametrize("env_id, policy", [
    (DELTA_ID, MlpPolicy(activation=nn.ReLU, layer_norm=True, l2=True, seed=4)),
    pytest.param(AFFINE_ID, MlpPolicy(activation=nn.Tanh, l2=True, seed=5), marks=pytest.mark.slow),
    pytest.param(DELTA_ID, MlpPolicy(activation=nn.ELU, depth=3, seed=6), marks=pytest.mark.slow),
    pytest.param(AFFINE_ID, MlpPolicy(activation=nn.GELU, layer_norm=True, seed=7), marks=pytest.mark.slow),
], ids=["relu-layernorm-l2-delta", "tanh-l2-affine", "elu-3layers-delta", "gelu-layernorm-affine"])
def test_generated_c_matches_onnxruntime(tmp_path, env_id, policy):
    result = _export(tmp_path, policy, env_id)
    source = generate_c(result.path)
    # Dependency-free: only libm, no heap.
    assert re.findall(r"#include <([^>]+)>", source) == ["math.h"]
    assert not re.search(r"\b(malloc|calloc|realloc|free)\s*\(", source)
    c_file = tmp_path / "policy.c"
    c_file.write_text(source)
    c_policy = CPolicy(compile_shared(c_file, tmp_path / "policy.so"))
    assert (c_policy.obs_dim, c_policy.act_dim) == (9, 3)
    runtime = PolicyRuntime(result.path)
    # Parity inputs (rollouts and their neighbourhood) plus wide random ones that push tanh to saturation.
    rng = np.random.default_rng(0)
    inputs = np.concatenate([result.features[::4], rng.normal(0, 4, (200, 9)).astype(np.float32)])
    ref_action, ref_command = runtime.run(inputs)
    for row, a_ref, c_ref in zip(inputs, ref_action, ref_command):
        status, action, command = c_policy.run(row)
        assert status == 0
        np.testing.assert_allclose(action, a_ref, atol=1e-5)
        np.testing.assert_allclose(command, c_ref, atol=1e-5 * 2.5)


def test_generated_c_refuses_non_finite_features_with_nan_outputs(tmp_path):
    result = _export(tmp_path, MlpPolicy(seed=8))
    c_file = tmp_path / "policy.c"
    c_file.write_text(generate_c(result.path))
    c_policy = CPolicy(compile_shared(c_file, tmp_path / "policy.so"))
    features = result.features[0].copy()
    features[2] = np.inf
    status, action, command = c_policy.run(features)
    assert status == 1 and np.all(np.isnan(action)) and np.all(np.isnan(command))
    status, _, command = c_policy.run(result.features[0])
    assert status == 0 and np.all(np.isfinite(command))


class _ConvPolicy(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Conv1d(1, 2, kernel_size=3, padding=1)
        self.head = nn.Linear(18, 3)

    def forward(self, x):
        return torch.tanh(self.head(self.encoder(x[:, None, :]).flatten(1)))


def test_unsupported_layer_is_refused_by_name(tmp_path):
    result = _export(tmp_path, _ConvPolicy())
    with pytest.raises(CodegenError, match=r"ONNX op Conv \(from layer torch.nn.modules.conv.Conv1d at "
                                           r"'policy.encoder'.*Deploy this policy with onnxruntime"):
        generate_c(result.path)
