"""RunningMeanStd against numpy on whole sequences, and its exported torch copy."""

import numpy as np
import pytest
import torch

from robolearn.learners.normalizers import RunningMeanStd


@pytest.fixture
def sequence():
    rng = np.random.default_rng(3)
    return rng.normal(loc=[5.0, -2.0, 0.0], scale=[3.0, 0.1, 10.0], size=(500, 3))


def test_one_at_a_time_matches_numpy(sequence):
    rms = RunningMeanStd((3,), initial_count=0.0)
    for x in sequence:
        rms.update(x)
    np.testing.assert_allclose(rms.mean, sequence.mean(0), rtol=1e-10)
    np.testing.assert_allclose(rms.var, sequence.var(0), rtol=1e-9)
    assert rms.count == len(sequence)


def test_batches_match_single_steps(sequence):
    single, batched = RunningMeanStd((3,)), RunningMeanStd((3,))
    for x in sequence:
        single.update(x)
    for chunk in np.array_split(sequence, 7):
        batched.update(chunk)
    np.testing.assert_allclose(batched.mean, single.mean, rtol=1e-10)
    np.testing.assert_allclose(batched.var, single.var, rtol=1e-9)


def test_default_prior_count_is_gymnasium_like(sequence):
    # Prior: mean 0, var 1 with weight 1e-4 (gymnasium's NormalizeObservation), pooled with the data.
    rms = RunningMeanStd((3,))
    for x in sequence:
        rms.update(x)
    c, n = 1e-4, len(sequence)
    mean = sequence.sum(0) / (c + n)
    var = (c * 1.0 + n * sequence.var(0) + sequence.mean(0) ** 2 * c * n / (c + n)) / (c + n)
    np.testing.assert_allclose(rms.mean, mean, rtol=1e-9)
    np.testing.assert_allclose(rms.var, var, rtol=1e-9)


def test_normalize_and_torch_module_agree(sequence):
    rms = RunningMeanStd((3,), initial_count=0.0)
    rms.update(sequence)
    x = sequence[:10]
    expected = (x - sequence.mean(0)) / np.sqrt(sequence.var(0) + 1e-8)
    np.testing.assert_allclose(rms.normalize(x), expected, rtol=1e-5)
    module = rms.torch_module()
    out = module(torch.as_tensor(x, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)
    rms.update(sequence * 2)  # the module is a frozen copy
    np.testing.assert_allclose(module(torch.as_tensor(x, dtype=torch.float32)).numpy(), out)


def test_frozen_and_state_round_trip(sequence):
    rms = RunningMeanStd((3,))
    rms.update(sequence[:100])
    rms.frozen = True
    before = rms.state_dict()
    rms.update(sequence[100:])
    np.testing.assert_array_equal(rms.mean, before["mean"])
    other = RunningMeanStd((3,))
    other.load_state_dict(before)
    assert other.frozen and other.count == rms.count
    np.testing.assert_array_equal(other.var, rms.var)
    with pytest.raises(ValueError, match="shape"):
        RunningMeanStd((4,)).load_state_dict(before)


def test_bad_samples_are_rejected_without_touching_the_statistics():
    rms = RunningMeanStd((3,))
    rms.update(np.ones(3))
    with pytest.raises(ValueError, match="NaN"):
        rms.update(np.array([1.0, np.nan, 0.0]))
    with pytest.raises(ValueError, match="shape"):
        rms.update(np.ones(4))
    np.testing.assert_allclose(rms.mean, np.ones(3), rtol=1e-3)
    assert np.isfinite(rms.var).all()
