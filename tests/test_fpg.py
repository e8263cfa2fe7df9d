"""Feedback policy gradients: the ghost-rollout estimator and the `fpg` learner."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.func import functional_call, jacrev

from robolearn.control import LinearFeedbackPolicy, PeriodicReference, UnicycleTrackingPolicy
from robolearn.learners.ghost import MeasuredRollout, ghost_loss, rollout_model, window_starts
from robolearn.models import LinearModel, ModelError, Unicycle

torch.set_num_threads(1)
F64 = torch.float64

A_TRUE = np.array([[1.02, 0.1], [0.0, 1.01]])  # slightly unstable
B_TRUE = np.array([[0.0], [0.1]])


def quadratic_cost(x, u, t):
    return (x**2).sum(-1) + 0.1 * (u**2).sum(-1)


def perturbed_linear_policy(seed: int = 0) -> LinearFeedbackPolicy:
    """A policy away from initialisation, so the network's Jacobians are not trivially zero."""
    torch.manual_seed(seed)
    policy = LinearFeedbackPolicy(np.array([[2.0, 3.0]]), model_scale=0.5)
    with torch.no_grad():
        policy.net.out.weight.normal_(0, 0.3)
        policy.net.out.bias.normal_(0, 0.3)
    return policy


def linear_rollout(policy, steps: int = 40) -> MeasuredRollout:
    plant = LinearModel(dt=1.0, A=A_TRUE, B=B_TRUE)
    return rollout_model(plant, policy, torch.tensor([1.0, -0.5], dtype=F64), torch.arange(steps + 1, dtype=F64))


def grad_of(loss: torch.Tensor, policy: torch.nn.Module) -> torch.Tensor:
    grads = torch.autograd.grad(loss, list(policy.parameters()))
    return torch.cat([g.reshape(-1) for g in grads])


def test_ghost_rollout_reproduces_the_recorded_trajectory_exactly():
    policy = perturbed_linear_policy()
    data = linear_rollout(policy)
    wrong_model = LinearModel(dt=1.0, A=A_TRUE * 0.9, B=B_TRUE).scaled(0.5)
    seen = []

    def recording_cost(x, u, t):
        seen.append((x.detach().clone(), u.detach().clone(), t.clone()))
        return quadratic_cost(x, u, t)

    result = ghost_loss(wrong_model, policy, data, recording_cost, window=10, stride=3, skip=2)
    starts = window_starts(len(data), 10, 3, 2)
    assert result.windows == len(starts) == 10
    for k, (x, u, t) in enumerate(seen):  # every ghost state and input is the measured one, bit for bit
        assert torch.allclose(x, data.states[starts + k], rtol=0, atol=1e-12)
        assert torch.equal(u, data.inputs[starts + k])
        assert torch.equal(t, data.times[starts + k])
    expected = sum(float(quadratic_cost(data.states[s:s + 10], data.inputs[s:s + 10], None).sum()) for s in starts)
    assert float(result.loss.detach()) == pytest.approx(expected, rel=1e-12)


def test_linear_system_gradient_equals_the_model_jacobian_recursion():
    policy = perturbed_linear_policy()
    data = linear_rollout(policy, steps=30)
    model = LinearModel(dt=1.0, A=A_TRUE + 0.05, B=B_TRUE).scaled(0.7)
    A_hat, B_hat = torch.as_tensor(model.A), torch.as_tensor(model.effective_B)
    result = ghost_loss(model, policy, data, quadratic_cost, window=len(data))
    estimated = grad_of(result.loss, policy)

    params = {k: v.detach() for k, v in policy.named_parameters()}
    names = list(params)

    def pi(p, x):
        return functional_call(policy, p, (x.unsqueeze(0), torch.zeros(1, dtype=F64))).squeeze(0)

    S = torch.zeros(2, estimated.numel(), dtype=F64)  # dx_t / dtheta
    expected = torch.zeros_like(estimated)
    for t in range(len(data)):
        x, u = data.states[t], data.inputs[t]
        pi_x = jacrev(pi, argnums=1)(params, x)  # (1, 2)
        pi_theta = torch.cat([j.reshape(1, -1) for j in (jacrev(pi, argnums=0)(params, x)[n] for n in names)], dim=1)
        du = pi_x @ S + pi_theta
        expected += 2 * x @ S + 0.2 * u @ du  # c_x S_t + c_u (pi_x S_t + pi_theta)
        S = (A_hat + B_hat @ pi_x) @ S + B_hat @ pi_theta
    torch.testing.assert_close(estimated, expected, rtol=1e-9, atol=1e-12)
    # the model matters: the exact-model estimate is a different vector
    exact = grad_of(ghost_loss(LinearModel(dt=1.0, A=A_TRUE, B=B_TRUE), policy, data, quadratic_cost,
                               window=len(data)).loss, policy)
    assert torch.linalg.vector_norm(exact - estimated) > 1e-3 * torch.linalg.vector_norm(exact)


def test_with_the_exact_model_the_estimate_is_the_true_gradient():
    policy = perturbed_linear_policy(seed=3)
    plant = LinearModel(dt=1.0, A=A_TRUE, B=B_TRUE)
    times = torch.arange(26, dtype=F64)
    x0 = torch.tensor([1.0, -0.5], dtype=F64)

    def true_cost() -> float:
        r = rollout_model(plant, policy, x0, times)
        return float(quadratic_cost(r.states[:-1], r.inputs, None).sum())

    data = rollout_model(plant, policy, x0, times)
    bias = policy.net.out.bias
    estimated, = torch.autograd.grad(ghost_loss(plant, policy, data, quadratic_cost, window=len(data)).loss, [bias])
    fd = []
    for i in range(bias.numel()):  # central differences of the real rollout's cost
        with torch.no_grad():
            bias[i] += 1e-6
            up = true_cost()
            bias[i] -= 2e-6
            down = true_cost()
            bias[i] += 1e-6
        fd.append((up - down) / 2e-6)
    np.testing.assert_allclose(estimated.numpy(), fd, rtol=1e-5, atol=1e-7)


def test_clipped_inputs_still_give_the_recorded_trajectory():
    policy = perturbed_linear_policy()
    data = rollout_model(LinearModel(dt=1.0, A=A_TRUE, B=B_TRUE), policy, torch.tensor([1.0, -0.5], dtype=F64),
                         torch.arange(31, dtype=F64), input_transform=lambda x, u: u.clamp(-0.2, 0.2))
    result = ghost_loss(LinearModel(dt=1.0, A=A_TRUE, B=B_TRUE), policy, data, quadratic_cost, window=8)
    assert result.input_mismatch > 0.1  # the safety clip really acted
    assert torch.isfinite(grad_of(result.loss, policy)).all()


def test_bad_rollouts_give_clear_errors():
    policy = perturbed_linear_policy()
    data = linear_rollout(policy, steps=20)
    with pytest.raises(ModelError, match=r"recorded state has shape \(21, 2\); expected \(\.\.\., 4\)"):
        ghost_loss(Unicycle(dt=1.0), policy, data, quadratic_cost, window=5)
    states = data.states.clone()
    states[7, 1] = float("nan")
    with pytest.raises(ModelError, match=r"rollout states: NaN/inf \(first at index 7\)"):
        MeasuredRollout(states, data.inputs, data.times)
    with pytest.raises(ModelError, match="21 states and 21 times"):
        MeasuredRollout(data.states, data.inputs[:-2], data.times)
    with pytest.raises(ValueError, match="too short"):
        ghost_loss(LinearModel(dt=1.0, A=A_TRUE, B=B_TRUE), policy, data, quadratic_cost, window=15, skip=10)


UPDATES, WINDOW = 10, 40


@pytest.mark.slow
def test_learned_car_policy_beats_the_nominal_tracker_with_a_half_wrong_model():
    """Model-as-plant: the true car answers its inputs twice as strongly as the model says."""
    torch.manual_seed(0)
    period = 8.0
    reference = PeriodicReference.fit(lambda t: _figure_eight(t, 1.5, period), period)
    policy = UnicycleTrackingPolicy(reference, model_scale=1.0)
    plant = Unicycle(dt=0.05)
    model = plant.scaled(0.5)
    times = torch.arange(321, dtype=F64) * 0.05
    x0 = torch.tensor([0.0, 0.0, 0.6, 0.0], dtype=F64)

    def tracking_cost(x, u, t):
        return ((x[..., :2] - reference(t)[0]) ** 2).sum(-1)

    optimizer = torch.optim.SGD(policy.parameters(), lr=3e-4)
    costs = []
    for _ in range(UPDATES + 1):  # one real rollout per update; the first one is the nominal controller's
        data = rollout_model(plant, policy, x0, times)
        costs.append(float(tracking_cost(data.states, None, data.times).mean()))
        optimizer.zero_grad()
        result = ghost_loss(model, policy, data, tracking_cost, window=WINDOW, skip=20)
        (result.loss / result.windows).backward()
        optimizer.step()
    assert min(costs[-3:]) < 0.6 * costs[0], costs


def _figure_eight(t, radius, period):
    w = 2 * np.pi / period
    t = np.asarray(t, dtype=np.float64)
    return (np.stack([radius * np.sin(w * t), radius * np.sin(w * t) * np.cos(w * t)], -1),)
