import torch

from robolearn.learners.networks import EnsembleLinear, EnsembleMLP, make_adam, polyak_update


def test_ensemble_members_are_independent_mlps_computed_in_one_batched_module():
    torch.manual_seed(0)
    ensemble = EnsembleMLP(5, 7, [16, 16], 1, layer_norm=True, activation="relu")
    x = torch.randn(11, 7)
    out = ensemble(x)
    assert out.shape == (5, 11, 1)
    linears = [m for m in ensemble.modules() if isinstance(m, EnsembleLinear)]
    assert all(m.weight.shape[0] == 5 for m in linears)
    for i in range(5):  # member i by hand, with its own slice of every weight tensor
        h = x
        for layer in ensemble.net:
            if isinstance(layer, EnsembleLinear):
                h = h @ layer.weight[i] + layer.bias[i]
            elif isinstance(layer, torch.nn.ReLU):
                h = torch.relu(h)
            else:  # EnsembleLayerNorm
                h = torch.nn.functional.layer_norm(h, (layer.dim,)) * layer.weight[i] + layer.bias[i]
        torch.testing.assert_close(out[i], h)
    # Gradients of one member's output touch only that member's weights.
    out[2].sum().backward()
    grad = linears[0].weight.grad
    assert grad[2].abs().sum() > 0 and grad[[0, 1, 3, 4]].abs().sum() == 0


def test_polyak_update_moves_every_target_tensor_by_tau():
    source = [torch.ones(3), torch.full((2, 2), 2.0)]
    target = [torch.zeros(3), torch.zeros(2, 2)]
    polyak_update(target, source, 0.005)
    torch.testing.assert_close(target[0], torch.full((3,), 0.005))
    torch.testing.assert_close(target[1], torch.full((2, 2), 0.01))


def test_make_adam_is_fused_on_cpu_and_steps():
    p = torch.nn.Parameter(torch.ones(4))
    optimiser = make_adam([p], 0.1)
    (p**2).sum().backward()
    optimiser.step()
    assert torch.all(p < 1)
    assert optimiser.defaults["fused"] is True  # CPU fused Adam exists since torch 2.4
