"""Projection, certified upper bound and empirical lower bound of robolearn.learners.lipschitz."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from robolearn.learners.lipschitz import (GroupSort2, LipschitzMLP, empirical_lower_bound, jacobian_norms,
                                          project_spectral_)

torch.set_num_threads(1)


def matrix_2norm(matrix: torch.Tensor) -> float:
    return float(torch.linalg.matrix_norm(matrix.detach().double(), ord=2))


@pytest.mark.parametrize("method", ["clip", "rescale"])
@pytest.mark.parametrize("shape", [(64, 3), (64, 64), (1, 64), (5, 7)])
def test_projection_lands_exactly_on_the_bound(method, shape):
    gen = torch.Generator().manual_seed(sum(shape))
    weight = torch.randn(shape, generator=gen) * 3.0
    before = weight.clone()
    norm_before = project_spectral_(weight, 0.7, method=method)
    assert norm_before == pytest.approx(matrix_2norm(before), rel=1e-12)
    assert matrix_2norm(weight) == pytest.approx(0.7, rel=1e-6)
    if method == "rescale":  # same direction, one common factor
        torch.testing.assert_close(weight, before * (0.7 / norm_before))
    else:  # singular values below the bound keep their value
        s_before = torch.linalg.svdvals(before.double())
        s_after = torch.linalg.svdvals(weight.double())
        torch.testing.assert_close(s_after, s_before.clamp(max=0.7), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("method", ["clip", "rescale"])
def test_projection_leaves_a_matrix_inside_the_ball_untouched(method):
    weight = torch.randn(8, 4, generator=torch.Generator().manual_seed(1))
    weight /= matrix_2norm(weight) * 2.0
    before = weight.clone()
    project_spectral_(weight, 1.0, method=method)
    assert torch.equal(weight, before)


@pytest.mark.parametrize("method", ["clip", "rescale"])
def test_projection_folds_in_the_input_scaling(method):
    gen = torch.Generator().manual_seed(2)
    weight = torch.randn(16, 4, generator=gen)
    scale = torch.tensor([100.0, 2.0, 0.0, 0.5])  # the third feature is ignored by the network
    ignored_column = weight[:, 2].clone()
    project_spectral_(weight, 1.5, scale, method=method)
    assert matrix_2norm(weight * scale) == pytest.approx(1.5, rel=1e-6)
    if method == "clip":
        assert torch.equal(weight[:, 2], ignored_column)


def test_projection_rejects_bad_bounds_and_diverged_weights():
    for bound in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="bound"):
            project_spectral_(torch.ones(2, 2), bound)
    with pytest.raises(ValueError, match="projection"):
        project_spectral_(torch.ones(2, 2), 1.0, method="power_iteration")
    with pytest.raises(FloatingPointError, match="diverged"):
        project_spectral_(torch.tensor([[1.0, math.nan]]), 1.0)


def test_groupsort_is_1_lipschitz_and_norm_preserving():
    gen = torch.Generator().manual_seed(3)
    x, y = torch.randn(1000, 8, generator=gen), torch.randn(1000, 8, generator=gen)
    act = GroupSort2()
    gap_out = torch.linalg.vector_norm(act(x) - act(y), dim=1)
    gap_in = torch.linalg.vector_norm(x - y, dim=1)
    assert torch.all(gap_out <= gap_in + 1e-6)
    torch.testing.assert_close(torch.linalg.vector_norm(act(x), dim=1), torch.linalg.vector_norm(x, dim=1))


def random_net(alpha: float, activation: str = "groupsort", seed: int = 0) -> LipschitzMLP:
    torch.manual_seed(seed)
    net = LipschitzMLP(3, 2, [32, 32], alpha, activation)
    for layer in net.layers:  # scramble so every layer starts far outside its budget
        torch.nn.init.normal_(layer.weight, std=2.0)
        torch.nn.init.normal_(layer.bias, std=0.1)
    net.set_normalizer(np.array([0.1, -2.0, 0.0]), np.array([0.01, 3.0, 0.5]), min_std=1e-6)
    return net


@pytest.mark.parametrize("activation", ["groupsort", "relu", "tanh"])
@pytest.mark.parametrize("alpha", [0.3, 5.0])
def test_projected_net_is_certified_below_alpha_in_raw_feature_units(alpha, activation):
    net = random_net(alpha, activation)
    assert net.upper_bound() > 100 * alpha  # the scrambled net violates the constraint
    net.project_()
    # Recompute the bound independently: normaliser gain folded into the first layer, then the rest.
    first = net.layers[0].weight.double() * net.input_scale.double()
    by_hand = matrix_2norm(first) * np.prod([matrix_2norm(layer.weight) for layer in net.layers[1:]])
    assert net.upper_bound() == pytest.approx(by_hand, rel=1e-12)
    assert net.upper_bound() <= alpha
    assert net.upper_bound() >= alpha * (1 - 1e-4)  # every layer was projected onto its budget
    # The bound is about raw features: random raw pairs never exceed it.
    gen = torch.Generator().manual_seed(4)
    scale = torch.tensor([0.01, 3.0, 0.5])
    x = torch.randn(5000, 3, generator=gen) * scale
    y = x + torch.randn(5000, 3, generator=gen) * scale * 0.1
    with torch.no_grad():
        quotient = torch.linalg.vector_norm(net(x) - net(y), dim=1) / torch.linalg.vector_norm(x - y, dim=1)
    assert float(quotient.max()) <= net.upper_bound() * (1 + 1e-4)


def test_constant_features_are_ignored_and_do_not_inflate_the_bound():
    net = LipschitzMLP(2, 1, [8], alpha=1.0)
    net.set_normalizer(np.zeros(2), np.array([1.0, 0.0]), min_std=1e-6)
    net.project_()
    x = torch.tensor([[0.3, 0.0], [0.3, 1e6]])
    with torch.no_grad():
        out = net(x)
    assert torch.equal(out[0], out[1])
    assert net.upper_bound() <= 1.0


def test_lower_bound_is_exact_for_a_linear_map():
    net = LipschitzMLP(4, 2, [], alpha=10.0)
    with torch.no_grad():
        net.layers[0].weight.copy_(torch.tensor([[0.3, -0.2, 0.1, 0.0], [0.05, 0.1, -0.4, 0.2]]))
    net.set_normalizer(np.zeros(4), np.array([0.5, 1.0, 2.0, 1.0]), min_std=1e-6)
    starts = torch.randn(16, 4, generator=torch.Generator().manual_seed(5)) * 0.1
    lower = empirical_lower_bound(net, starts, steps=5)
    assert lower == pytest.approx(net.upper_bound(), rel=1e-9)


def test_gradient_ascent_finds_the_steep_region_away_from_the_starts():
    # f(x) = 0.5 tanh(2x): slope 1 at x = 0, about 0.07 where the search starts (x in [1, 1.5]).
    net = LipschitzMLP(1, 1, [2], alpha=1.0, activation="tanh")
    with torch.no_grad():
        net.layers[0].weight.copy_(torch.tensor([[2.0], [0.0]]))
        net.layers[1].weight.copy_(torch.tensor([[0.5, 0.0]]))
    starts = 1.0 + 0.5 * torch.rand(32, 1, generator=torch.Generator().manual_seed(6))
    assert empirical_lower_bound(net, starts, steps=0) < 0.2
    assert empirical_lower_bound(net, starts, steps=200, lr=0.2) > 0.95
    assert net.upper_bound() == pytest.approx(1.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lower_bound_never_exceeds_the_certified_bound(seed):
    net = random_net(2.0, seed=seed)
    net.project_()
    starts = torch.randn(64, 3, generator=torch.Generator().manual_seed(seed)) * torch.tensor([0.01, 3.0, 0.5])
    lower = empirical_lower_bound(net, starts, steps=50)
    assert 0.0 < lower <= net.upper_bound()


def test_jacobian_norms_match_autograd_jacobian():
    net = random_net(3.0, activation="tanh")
    net.project_()
    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(7)) * 0.01
    norms = jacobian_norms(net, x)
    for i in range(5):
        jac = torch.autograd.functional.jacobian(net, x[i : i + 1]).reshape(2, 3)
        assert float(norms[i]) == pytest.approx(matrix_2norm(jac), rel=1e-5)


def test_bad_network_arguments_are_rejected():
    with pytest.raises(ValueError, match="alpha"):
        LipschitzMLP(2, 1, [4], alpha=0.0)
    with pytest.raises(ValueError, match="even"):
        LipschitzMLP(2, 1, [5], alpha=1.0, activation="groupsort")
    with pytest.raises(ValueError, match="activation"):
        LipschitzMLP(2, 1, [4], alpha=1.0, activation="elu")
    with pytest.raises(ValueError, match="starts"):
        empirical_lower_bound(LipschitzMLP(2, 1, [4], alpha=1.0), torch.zeros(0, 2))
