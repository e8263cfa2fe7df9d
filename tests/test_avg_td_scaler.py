"""TD scaler statistics against sequences computed by hand (population variances)."""

import math

import numpy as np
import pytest

from robolearn.learners.td_scaler import RunningScalarStats, TDScaler


def test_running_stats_are_population_mean_and_variance():
    xs = [3.0, -1.0, 4.0, 1.5, -5.0, 9.0]
    stats = RunningScalarStats()
    for x in xs:
        stats.push(x)
    assert stats.count == 6
    assert stats.mean == pytest.approx(np.mean(xs))
    assert stats.variance == pytest.approx(np.var(xs))  # ddof=0
    assert RunningScalarStats().variance == 0.0


def test_sigma_with_terminations_matches_hand_computation():
    scaler = TDScaler(gamma=0.9)
    # Two episodes: [1, 2] then [3, 4, 5], both terminated.
    for reward, terminated in [(1.0, False), (2.0, True), (3.0, False), (4.0, False), (5.0, True)]:
        scaler.push(reward, terminated)
    # By hand: Var[r] = var(1..5) = 2; gamma_t = [.9, 0, .9, .9, 0] -> E = .54, E[x^2] = .486,
    # Var = .1944; G = 3 and 12 -> E[G^2] = (9 + 144) / 2 = 76.5; sigma^2 = 2 + .1944 * 76.5 = 16.8716.
    assert scaler.variance == pytest.approx(16.8716)
    assert scaler.sigma == pytest.approx(math.sqrt(16.8716))
    assert scaler.episode_return == 0.0


def test_sigma_is_one_until_first_termination_while_variance_is_small():
    scaler = TDScaler(gamma=0.99)
    for reward in (0.01, 0.02, 0.03, 0.05):
        scaler.push(reward, terminated=False)
        assert scaler.sigma == 1.0
    scaler.push(0.04, terminated=True)
    # Now something has terminated: sigma follows the formula, floored at sqrt(1e-4).
    g = 0.15
    rewards = [0.01, 0.02, 0.03, 0.05, 0.04]
    gammas = [0.99, 0.99, 0.99, 0.99, 0.0]
    expected = max(np.var(rewards) + np.var(gammas) * g**2, 1e-4)
    assert scaler.sigma == pytest.approx(math.sqrt(expected))


def test_never_terminating_task_uses_reward_std():
    scaler = TDScaler(gamma=0.99)
    rewards = [1.0, -1.0, 2.0, 0.5, -2.0]
    for r in rewards:
        scaler.push(r, terminated=False)
    assert scaler.sigma == pytest.approx(np.std(rewards))


def test_truncation_drops_partial_return_by_default():
    sequence = [(1.0, False, False), (1.0, False, False), (1.0, False, True),  # truncated episode
                (2.0, False, False), (2.0, True, False)]  # terminated episode
    fixed, quirk = TDScaler(0.9), TDScaler(0.9, carry_return_over_truncation=True)
    for reward, terminated, truncated in sequence:
        fixed.push(reward, terminated, truncated)
        quirk.push(reward, terminated, truncated)
    # Truncation bootstraps in both (gamma_t = gamma), and logs no G^2.
    gammas = [0.9, 0.9, 0.9, 0.9, 0.0]
    rewards = [r for r, _, _ in sequence]
    assert fixed.return_sq_stats.count == quirk.return_sq_stats.count == 1
    assert fixed.return_sq_stats.mean == pytest.approx(4.0**2)  # G restarted after truncation
    assert quirk.return_sq_stats.mean == pytest.approx(7.0**2)  # reference: G carried over
    for scaler, g2 in ((fixed, 16.0), (quirk, 49.0)):
        assert scaler.variance == pytest.approx(np.var(rewards) + np.var(gammas) * g2)


def test_state_dict_round_trip_and_bad_input():
    scaler = TDScaler(0.95)
    for r, t in [(0.5, False), (1.5, True), (-0.5, False)]:
        scaler.push(r, t)
    copy = TDScaler(0.95)
    copy.load_state_dict(scaler.state_dict())
    assert copy.sigma == scaler.sigma and copy.episode_return == scaler.episode_return
    copy.push(2.0, True)
    scaler.push(2.0, True)
    assert copy.sigma == scaler.sigma
    with pytest.raises(FloatingPointError, match="non-finite"):
        scaler.push(float("nan"), False)
    with pytest.raises(ValueError, match="gamma"):
        TDScaler(1.5)
