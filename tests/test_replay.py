import numpy as np
import pytest
import torch

from robolearn.data.transitions import Transitions
from robolearn.learners.replay import ReplayBuffer, sample_mixed


def _fill(buffer: ReplayBuffer, n: int, value: float = 0.0, start: int = 0) -> None:
    for i in range(start, start + n):
        image = np.full(buffer.image_shape, i % 256, np.uint8) if buffer.image_shape else None
        buffer.add(np.full(buffer.obs_dim, value + i, np.float32), np.zeros(buffer.act_dim), float(i),
                   np.full(buffer.obs_dim, value + i + 1, np.float32), terminated=i % 3 == 0, truncated=i % 3 == 1,
                   image=image, next_image=image)


def test_ring_buffer_overwrites_oldest_and_keeps_terminated_apart_from_truncated():
    buffer = ReplayBuffer(5, obs_dim=2, act_dim=1)
    _fill(buffer, 7)
    assert len(buffer) == 5
    assert sorted(buffer.rewards.tolist()) == [2.0, 3.0, 4.0, 5.0, 6.0]
    batch = buffer.gather(np.arange(5))
    rewards = batch.rewards.numpy().astype(int)
    np.testing.assert_array_equal(batch.terminated.numpy(), (rewards % 3 == 0).astype(np.float32))
    assert buffer.truncated[np.argsort(buffer.rewards)].tolist() == [False, False, True, False, False]


def test_images_are_stored_as_uint8_and_sampled_as_uint8():
    buffer = ReplayBuffer(10, obs_dim=1, act_dim=1, image_shape=(4, 4, 3))
    _fill(buffer, 10)
    assert buffer.images.dtype == np.uint8 and buffer.images.nbytes == 10 * 4 * 4 * 3
    batch = buffer.sample(8, np.random.default_rng(0))
    assert batch.images.dtype == torch.uint8 and batch.images.shape == (8, 4, 4, 3)
    # Each stored frame was filled with its own index, so frames and rewards stay aligned through sampling.
    np.testing.assert_array_equal(batch.images[:, 0, 0, 0].numpy(), batch.rewards.numpy().astype(np.uint8))


def test_state_dict_roundtrip_samples_identically():
    buffer = ReplayBuffer(50, obs_dim=3, act_dim=2)
    _fill(buffer, 30)
    copy = ReplayBuffer(50, obs_dim=3, act_dim=2)
    copy.load_state_dict(buffer.state_dict())
    a = buffer.sample(16, np.random.default_rng(7))
    b = copy.sample(16, np.random.default_rng(7))
    for name in ("observations", "actions", "rewards", "next_observations", "terminated"):
        assert torch.equal(getattr(a, name), getattr(b, name))
    _fill(buffer, 25, start=30)
    _fill(copy, 25, start=30)
    assert buffer.position == copy.position and np.array_equal(buffer.rewards, copy.rewards)


def test_state_dict_of_another_shape_is_refused():
    buffer = ReplayBuffer(50, obs_dim=3, act_dim=2)
    with pytest.raises(ValueError, match="does not match"):
        ReplayBuffer(50, obs_dim=4, act_dim=2).load_state_dict(buffer.state_dict())


@pytest.mark.parametrize("demo_fraction, expected_demo_rows", [(0.5, 128), (0.25, 64), (0.0, 0)])
def test_mixed_batches_split_between_demos_and_online_as_configured(demo_fraction, expected_demo_rows):
    online, demos = ReplayBuffer(1000, 1, 1), ReplayBuffer(1000, 1, 1)
    _fill(online, 300, value=0.0)
    _fill(demos, 300, value=10_000.0)
    batch = sample_mixed(online, demos, 256, demo_fraction, np.random.default_rng(0))
    assert len(batch) == 256
    assert int((batch.observations[:, 0] >= 10_000).sum()) == expected_demo_rows


def test_mixed_batch_is_all_online_while_the_demo_buffer_is_empty():
    online, demos = ReplayBuffer(100, 1, 1), ReplayBuffer(100, 1, 1)
    _fill(online, 20)
    assert len(sample_mixed(online, demos, 32, 0.5, np.random.default_rng(0))) == 32


def test_bad_transitions_are_refused_with_a_clear_error():
    buffer = ReplayBuffer(10, obs_dim=2, act_dim=1)
    with pytest.raises(ValueError, match="NaN"):
        buffer.add(np.array([np.nan, 0.0]), np.zeros(1), 0.0, np.zeros(2), False, False)
    with pytest.raises(ValueError, match="action has shape"):
        buffer.add(np.zeros(2), np.zeros(3), 0.0, np.zeros(2), False, False)
    demos = Transitions(np.zeros((3, 5), np.float32), np.zeros((3, 1), np.float32), np.zeros(3, np.float32),
                        np.zeros((3, 5), np.float32), np.zeros(3, bool), np.zeros(3, bool))
    with pytest.raises(ValueError, match="another task or robot"):
        buffer.add_transitions(demos)
    with pytest.raises(RuntimeError, match="empty"):
        ReplayBuffer(10, 2, 1).sample(4, np.random.default_rng(0))
    with pytest.raises(ValueError, match="capacity"):
        ReplayBuffer(0, 2, 1)


def test_the_demo_share_is_drawn_over_demos_and_interventions_together():
    online, demos, human = ReplayBuffer(1000, 1, 1), ReplayBuffer(1000, 1, 1), ReplayBuffer(1000, 1, 1)
    _fill(online, 100, value=0.0)
    _fill(demos, 300, value=10_000.0)
    _fill(human, 100, value=20_000.0)
    rng = np.random.default_rng(0)
    rows = np.concatenate([sample_mixed(online, (demos, human), 200, 0.5, rng).observations[:, 0].numpy()
                           for _ in range(50)])
    from_human = np.sum(rows >= 20_000) / len(rows)
    from_demos = np.sum((rows >= 10_000) & (rows < 20_000)) / len(rows)
    assert np.sum(rows < 10_000) / len(rows) == 0.5
    assert abs(from_human - 0.125) < 0.02 and abs(from_demos - 0.375) < 0.02  # 1:3, as their sizes
    # An empty intervention buffer leaves the demo share to the demos.
    empty = ReplayBuffer(10, 1, 1)
    assert np.sum(sample_mixed(online, (demos, empty), 200, 0.5, rng).observations[:, 0].numpy() >= 10_000) == 100
