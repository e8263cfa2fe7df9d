"""Approximate models, controllers designed on them, and the zero-initialised feedback policies."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from robolearn.control import (CorrectionNet, LinearFeedbackPolicy, PeriodicReference, UnicycleTrackerGains,
                               UnicycleTrackingPolicy, dlqr, lqr_for_model)
from robolearn.models import CartPole, LinearModel, ModelError, Pendulum, Unicycle, check_finite

torch.set_num_threads(1)
F64 = torch.float64


def lissajous(t, radius=1.5, period=8.0):
    w = 2 * np.pi / period
    t = np.asarray(t, dtype=np.float64)
    pos = np.stack([radius * np.sin(w * t), radius * np.sin(w * t) * np.cos(w * t)], -1)
    vel = np.stack([radius * w * np.cos(w * t), radius * w * np.cos(2 * w * t)], -1)
    acc = np.stack([-radius * w**2 * np.sin(w * t), -2 * radius * w**2 * np.sin(2 * w * t)], -1)
    return pos, vel, acc


def test_unicycle_step_is_forward_euler_and_scaling_changes_only_the_input_gains():
    model = Unicycle(dt=0.1)
    x = torch.tensor([[1.0, 2.0, math.pi / 2, 3.0]], dtype=F64)
    u = torch.tensor([[0.5, -1.0]], dtype=F64)
    out = model.step(x, u)[0]
    torch.testing.assert_close(out, torch.tensor([1.0, 2.3, math.pi / 2 - 0.1, 3.05], dtype=F64))
    half = model.scaled(0.5)
    assert (half.accel_gain, half.turn_gain, half.dt) == (0.5, 0.5, 0.1)
    out_half = half.step(x, u)[0]
    assert float(out_half[3]) == pytest.approx(3.025) and float(out_half[2]) == pytest.approx(math.pi / 2 - 0.05)
    curvature = Unicycle(dt=0.1, steering="curvature").step(x, u)[0]
    assert float(curvature[2]) == pytest.approx(math.pi / 2 - 0.1 * 3.0)  # heading rate = v * curvature


def test_models_are_batched_and_differentiable():
    model = Unicycle(dt=0.05)
    x = torch.randn(7, 3, 4, dtype=F64, requires_grad=True)
    u = torch.randn(7, 3, 2, dtype=F64, requires_grad=True)
    out = model.step(x, u)
    assert out.shape == (7, 3, 4)
    out.sum().backward()
    assert x.grad is not None and u.grad is not None and torch.all(torch.isfinite(x.grad))


def test_pendulum_linearisation_at_upright_matches_hand_derivation():
    dt, m, l, g = 0.02, 1.0, 0.5, 9.81
    A, B = Pendulum(dt=dt, mass=m, length=l).jacobians(torch.zeros(2), torch.zeros(1))
    a = g / l
    torch.testing.assert_close(A, torch.tensor([[1 + dt * dt * a, dt], [dt * a, 1.0]], dtype=F64))
    torch.testing.assert_close(B, torch.tensor([[dt * dt / (m * l * l)], [dt / (m * l * l)]], dtype=F64))
    # upright is an equilibrium; a tilt grows without torque
    assert torch.equal(Pendulum(dt=dt).step(torch.zeros(2, dtype=F64), torch.zeros(1, dtype=F64)), torch.zeros(2, dtype=F64))
    tilted = Pendulum(dt=dt).step(torch.tensor([0.1, 0.0], dtype=F64), torch.zeros(1, dtype=F64))
    assert float(tilted[1]) > 0


def test_cartpole_pushing_the_cart_tips_the_pole_back():
    _, B = CartPole(dt=0.02).jacobians(torch.zeros(4), torch.zeros(1))
    assert float(B[2, 0]) > 0 and float(B[3, 0]) < 0


def test_linear_model_step_and_input_gain():
    model = LinearModel(dt=1.0, A=[[1.0, 0.1], [0.0, 1.0]], B=[[0.0], [1.0]])
    x, u = torch.tensor([1.0, 2.0], dtype=F64), torch.tensor([3.0], dtype=F64)
    torch.testing.assert_close(model.step(x, u), torch.tensor([1.2, 5.0], dtype=F64))
    torch.testing.assert_close(model.scaled(0.5).step(x, u), torch.tensor([1.2, 3.5], dtype=F64))


def test_wrong_state_or_input_size_gives_a_clear_error():
    with pytest.raises(ModelError, match=r"expected \(\.\.\., 4\) ordered as \['x', 'y', 'heading', 'speed'\]"):
        Unicycle(dt=0.1).step(torch.zeros(5, 3, dtype=F64), torch.zeros(5, 2, dtype=F64))
    with pytest.raises(ModelError, match="input"):
        Pendulum(dt=0.1).step(torch.zeros(2, dtype=F64), torch.zeros(2, dtype=F64))
    with pytest.raises(ModelError, match="cannot scale"):
        Unicycle(dt=0.1).scaled(0.5, ("dt",))
    with pytest.raises(ModelError, match="dt must be > 0"):
        Pendulum(dt=0.0)
    with pytest.raises(ModelError, match="steering"):
        Unicycle(dt=0.1, steering="ackermann")
    with pytest.raises(ModelError, match=r"states: NaN/inf \(first at index 2\)"):
        check_finite(torch.tensor([[0.0], [1.0], [float("nan")]]), "states")


def test_dlqr_matches_scalar_riccati_and_stabilises_the_pendulum():
    a, b, q, r = 1.1, 0.5, 1.0, 0.2
    k = dlqr(np.array([[a]]), np.array([[b]]), np.array([[q]]), np.array([[r]]))[0, 0]
    p = (k * r) / (b * a - k * b * b)  # from K = (r + b^2 p)^-1 b p a
    assert p == pytest.approx(q + a * a * p - (a * b * p) ** 2 / (r + b * b * p), rel=1e-8)
    model = Pendulum(dt=1 / 60, mass=1.0, length=0.5)
    K = lqr_for_model(model, np.diag([10.0, 1.0]), np.eye(1) * 0.1)
    A, B = (m.numpy() for m in model.jacobians(torch.zeros(2), torch.zeros(1)))
    assert np.max(np.abs(np.linalg.eigvals(A - B @ K))) < 1.0 < np.max(np.abs(np.linalg.eigvals(A)))


def test_periodic_reference_fits_a_figure_eight_with_exact_derivatives():
    ref = PeriodicReference.fit(lissajous, period=8.0)
    t = torch.linspace(0, 20, 57, dtype=F64)
    pos, vel, acc = ref(t)
    want = lissajous(t.numpy())
    for got, expected in zip((pos, vel, acc), want):
        np.testing.assert_allclose(got.numpy(), expected, atol=1e-9)
    torch.testing.assert_close(ref.time_from_phase(*ref.phase_features(t).unbind(-1)), torch.remainder(t, 8.0))
    with pytest.raises(ValueError, match="not periodic"):
        PeriodicReference.fit(lambda s: (np.stack([s, s], -1),), period=8.0)


def test_correction_net_starts_at_zero_and_is_bounded_by_model_scale():
    net = CorrectionNet(3, 5, model_scale=0.2)
    z = torch.randn(11, 3, dtype=F64) * 10
    assert torch.equal(net(z), torch.zeros(11, 5, dtype=F64))
    with torch.no_grad():
        net.out.weight.normal_(0, 100)
        peak = float(net(z).abs().max())
    assert 0.1 < peak <= 0.2 + 1e-12


def nominal_car_control(x, pos, vel, acc, g: UnicycleTrackerGains):
    """The paper's car controller written out independently in numpy, for one state."""
    px, py, heading, speed = x
    vx = vel[0] + g.k_x * (pos[0] - px)
    vy = vel[1] + g.k_y * (pos[1] - py)
    err = math.atan2(vy, vx) - heading
    err = math.atan2(math.sin(err), math.cos(err))
    ref_speed = math.hypot(*vel)
    a = g.k_accel_ff * (vel @ acc) / ref_speed + g.k_v * (math.hypot(vx, vy) - speed)
    w = g.k_turn_ff * (vel[0] * acc[1] - vel[1] * acc[0]) / ref_speed**2 + g.k_heading * err
    return np.clip([a, w], [-g.max_accel, -g.max_turn], [g.max_accel, g.max_turn])


def test_car_policy_at_initialisation_is_exactly_the_nominal_tracker():
    torch.manual_seed(0)
    ref = PeriodicReference.fit(lissajous, period=8.0)
    policy = UnicycleTrackingPolicy(ref, model_scale=1.0)
    x = torch.randn(64, 4, dtype=F64) * torch.tensor([2.0, 2.0, 3.0, 1.0], dtype=F64)
    t = torch.rand(64, dtype=F64) * 8.0
    with torch.no_grad():
        u = policy(x, t)
    assert torch.equal(u, policy.nominal(x, t))
    pos, vel, acc = (v.numpy() for v in ref(t))
    expected = np.stack([nominal_car_control(x[i].numpy(), pos[i], vel[i], acc[i], policy.gains) for i in range(64)])
    np.testing.assert_allclose(u.numpy(), expected, rtol=1e-9, atol=1e-9)
    assert float(u[:, 0].abs().max()) <= 0.75 and float(u[:, 1].abs().max()) <= 1.0
    with torch.no_grad():  # the check can fail: once the network's output layer moves, so does the policy
        policy.net.out.bias.fill_(0.5)
    assert not torch.allclose(policy(x, t), policy.nominal(x, t))


def test_linear_policy_at_initialisation_is_clipped_lqr():
    K = np.array([[3.0, 0.5]])
    policy = LinearFeedbackPolicy(K, u_max=2.0)
    x = torch.randn(32, 2, dtype=F64)
    expected = torch.clamp(-(x @ torch.as_tensor(K).T), -2.0, 2.0)
    assert torch.equal(policy(x, torch.zeros(32, dtype=F64)), expected)
