"""Hand-written gradients (robolearn/learners/manual_grad.py) against autograd: layer by layer, through the
tanh-Gaussian sample, and for whole SAC updates in the SERL and SB3 configurations."""

import copy

import gymnasium as gym
import pytest
import torch

from robolearn.learners import manual_grad
from robolearn.learners.distributions import sample_tanh_gaussian, sample_tanh_gaussian_taped, tanh_gaussian_grads
from robolearn.learners.networks import EnsembleMLP, mlp
from robolearn.learners.sac import SAC, SACConfig

TOLERANCE = dict(rtol=1e-4, atol=1e-5)


def autograd_gradients(net, x, upstream, input_grad):
    x = x.clone().requires_grad_(input_grad)
    out = net(x)
    inputs = list(net.parameters()) + ([x] if input_grad else [])
    grads = torch.autograd.grad(out, inputs, upstream)
    return out.detach(), grads[:len(list(net.parameters()))], grads[-1] if input_grad else None


NETWORKS = {
    "mlp relu": lambda: mlp(7, [16, 16], 6),
    "mlp tanh layernorm": lambda: mlp(7, [16, 16], 6, layer_norm=True, activation="tanh"),
    "ensemble relu q-head": lambda: EnsembleMLP(3, 7, [16, 16], 1),
    "ensemble tanh layernorm q-head": lambda: EnsembleMLP(3, 7, [16, 16], 1, layer_norm=True, activation="tanh"),
    "ensemble relu layernorm wide out": lambda: EnsembleMLP(3, 7, [16, 16], 4, layer_norm=True),
}


# An ensemble takes either one input shared by all members [B, in] or one per member [E, B, in].
CASES = [(name, False) for name in NETWORKS] + [(name, True) for name in NETWORKS if name.startswith("ensemble")]


@pytest.mark.parametrize("name, member_inputs", CASES)
def test_forward_and_backward_match_autograd(name, member_inputs):
    torch.manual_seed(0)
    module = NETWORKS[name]()
    net = module.net if isinstance(module, EnsembleMLP) else module
    x = torch.randn(3, 10, 7) if member_inputs else torch.randn(10, 7)
    with torch.no_grad():  # make LayerNorm's affine parameters non-trivial
        for p in net.parameters():
            p.add_(0.1 * torch.randn_like(p))
    expected_out = net(x)
    upstream = torch.randn_like(expected_out)
    out_ref, param_grads_ref, input_grad_ref = autograd_gradients(net, x, upstream, input_grad=True)

    out, tape = manual_grad.forward(net, x)
    torch.testing.assert_close(out, out_ref, **TOLERANCE)
    input_grad = manual_grad.backward(net, tape, upstream.clone(), param_grads=True, input_grad=True)
    assert input_grad.shape == x.shape
    torch.testing.assert_close(input_grad, input_grad_ref, **TOLERANCE)
    for (param_name, p), ref in zip(net.named_parameters(), param_grads_ref):
        torch.testing.assert_close(p.grad, ref, **TOLERANCE, msg=lambda m: f"{name} {param_name}: {m}")


def test_input_only_backward_leaves_parameter_gradients_alone():
    net = EnsembleMLP(2, 5, [8], 1).net
    out, tape = manual_grad.forward(net, torch.randn(4, 5))
    manual_grad.backward(net, tape, torch.ones_like(out), param_grads=False, input_grad=True)
    assert all(p.grad is None for p in net.parameters())


def test_unsupported_layers_are_reported_not_guessed():
    assert manual_grad.supports(mlp(3, [4], 2, activation="relu"))
    for activation in ("elu", "silu", "gelu"):
        assert not manual_grad.supports(mlp(3, [4], 2, activation=activation))
    assert not manual_grad.supports(torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Dropout(0.1)))
    net = mlp(3, [4], 2, activation="elu")
    out, tape = manual_grad.forward(net, torch.randn(2, 3))
    with pytest.raises(TypeError, match="no hand-written backward for ELU"):
        manual_grad.backward(net, tape, torch.ones_like(out))


def test_tanh_gaussian_gradients_match_autograd_including_the_clamp():
    torch.manual_seed(1)
    mean = torch.randn(64, 3, requires_grad=True)
    log_std = (torch.randn(64, 3) * 12.0).requires_grad_()  # many entries outside the clamp's [-20, 2]
    grad_action, grad_log_prob = torch.randn(64, 3), torch.randn(64)
    torch.manual_seed(2)
    action, log_prob = sample_tanh_gaussian(mean, log_std)
    expected = torch.autograd.grad((action * grad_action).sum() + (log_prob * grad_log_prob).sum(), [mean, log_std])
    torch.manual_seed(2)
    action2, log_prob2, tape = sample_tanh_gaussian_taped(mean.detach(), log_std.detach())
    torch.testing.assert_close(action2, action.detach())
    torch.testing.assert_close(log_prob2, log_prob.detach())
    grad_mean, grad_log_std = tanh_gaussian_grads(tape, grad_action, grad_log_prob)
    torch.testing.assert_close(grad_mean, expected[0], **TOLERANCE)
    torch.testing.assert_close(grad_log_std, expected[1], **TOLERANCE)
    assert (grad_log_std[log_std.detach() > 2.0] == 0).all()


def pendulum():
    return gym.wrappers.RescaleAction(gym.make("Pendulum-v1"), -1.0, 1.0)


CONFIGS = {
    "serl": dict(),
    "sb3": dict(critic_ensemble=2, critic_subsample=2, actor_q="min", backup_entropy=True, layer_norm=False,
                utd=1),
    "tanh": dict(activation="tanh"),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_sac_updates_are_the_same_with_hand_written_and_autograd_gradients(name):
    config = SACConfig(**{**dict(critic_ensemble=4, hidden_sizes=[32, 32], batch_size=32, utd=2,
                                 learning_starts=50, eval_every=10**9, demos="none", seed=4), **CONFIGS[name]})
    learner = SAC(pendulum(), config, "cpu")
    assert learner.manual_gradients
    learner.train(120, progress=False)  # a filled buffer and trained Adam moments
    start, rng = copy.deepcopy(learner.state_dict()), torch.get_rng_state()

    def two_updates(manual: bool) -> tuple[dict, dict]:
        learner.load_state_dict(copy.deepcopy(start))
        torch.set_rng_state(rng)
        learner.manual_gradients = manual
        learner.update()
        learner.update()
        grads = {f"{prefix}.{n}": p.grad.clone() for prefix, module in (("actor", learner.actor),
                                                                       ("critic", learner.critic))
                 for n, p in module.named_parameters()}
        return copy.deepcopy(learner.state_dict()), grads

    manual_state, manual_grads = two_updates(True)
    autograd_state, autograd_grads = two_updates(False)
    for key, grad in autograd_grads.items():
        torch.testing.assert_close(manual_grads[key], grad, **TOLERANCE, msg=lambda m: f"{key}: {m}")
    for part in ("actor", "critic", "critic_target"):
        for key, value in autograd_state[part].items():
            torch.testing.assert_close(manual_state[part][key], value, **TOLERANCE)
    torch.testing.assert_close(manual_state["log_alpha"], autograd_state["log_alpha"], **TOLERANCE)


def test_sac_uses_autograd_where_no_backward_is_written():
    assert not SAC(pendulum(), SACConfig(activation="elu", demos="none"), "cpu").manual_gradients
    assert not SAC(pendulum(), SACConfig(manual_gradients=False, demos="none"), "cpu").manual_gradients


def test_the_callers_tensors_are_left_alone_when_a_net_starts_or_ends_with_an_activation():
    net = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Linear(4, 2), torch.nn.Tanh())
    x, upstream = torch.randn(5, 4), torch.randn(5, 2)
    kept_x, kept_upstream = x.clone(), upstream.clone()
    out, tape = manual_grad.forward(net, x)
    manual_grad.backward(net, tape, upstream, input_grad=True)
    assert torch.equal(x, kept_x) and torch.equal(upstream, kept_upstream)
    torch.testing.assert_close(out, net(x))
