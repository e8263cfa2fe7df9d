"""SAC from camera frames: encoder training rules, augmentation, frozen weights, reward classifier."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from robolearn.learners.base import Learner
from robolearn.learners.encoders import (ConvEncoder, load_encoder_weights, pretrain_encoder, random_shift,
                                         save_encoder_weights)
from robolearn.learners.reward_classifier import ClassifierReward, RewardClassifier
from robolearn.learners.sac import SAC, SACConfig

SHAPE = (16, 16, 3)
TINY = dict(critic_ensemble=2, hidden_sizes=[32, 32], batch_size=16, utd=1, learning_starts=20, demos="none",
            buffer_size=1000, eval_every=10**9, image_feature_dim=8)


class BrightnessEnv(gym.Env):
    """A small real gymnasium env with state + uint8 camera frames: the action changes the frame's
    brightness; frames brighter than 200 count as success."""

    def __init__(self, length: int = 10) -> None:
        self.observation_space = gym.spaces.Dict({"state": gym.spaces.Box(-np.inf, np.inf, (2,), np.float32),
                                                  "image": gym.spaces.Box(0, 255, SHAPE, np.uint8)})
        self.action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.length = length

    def _obs(self):
        image = np.full(SHAPE, int(self.level), np.uint8)
        image[::4, ::4] = 0  # some structure for the random shift to move
        return {"state": np.array([self.level / 255.0, self.t / self.length], np.float32), "image": image}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.level, self.t = float(self.np_random.uniform(0, 255)), 0
        return self._obs(), {}

    def step(self, action):
        self.level = float(np.clip(self.level + 40.0 * float(action[0]), 0, 255))
        self.t += 1
        return self._obs(), float(self.level > 200), False, self.t >= self.length, {}


def frames(level: int, n: int) -> np.ndarray:
    out = np.full((n, *SHAPE), level, np.uint8)
    out[:, ::4, ::4] = 0
    return out


def snapshot(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def changed(before: list[torch.Tensor], module: torch.nn.Module) -> bool:
    return any(not torch.equal(b, p) for b, p in zip(before, module.parameters()))


def test_random_shift_moves_content_by_at_most_pad_pixels():
    images = torch.zeros(64, 1, 16, 16)
    images[:, :, 8, 8] = 1.0
    shifted = random_shift(images, pad=4)
    assert shifted.shape == images.shape
    positions = shifted[:, 0].flatten(1).argmax(1)
    rows, cols = positions // 16, positions % 16
    assert ((rows - 8).abs() <= 4).all() and ((cols - 8).abs() <= 4).all()
    assert len(set(zip(rows.tolist(), cols.tolist()))) > 10  # per-image offsets, not one shift for all
    assert torch.equal(random_shift(images, pad=0), images)


def test_actor_updates_never_reach_the_encoder_but_critic_updates_do():
    learner = SAC(BrightnessEnv(), SACConfig(**{**TINY, "learning_starts": 1000}), "cpu")
    learner.train(40, progress=False)  # fills the buffer, no updates yet
    batch = learner.sample_batch()
    encoder_before, actor_before = snapshot(learner.critic.encoder), snapshot(learner.actor)
    learner._actor_step(batch)
    assert changed(actor_before, learner.actor)
    assert not changed(encoder_before, learner.critic.encoder)
    assert all(p.grad is None for p in learner.critic.encoder.parameters())
    learner._critic_step(batch)
    assert changed(encoder_before, learner.critic.encoder)


def test_frozen_encoder_from_a_weights_file_stays_fixed(tmp_path):
    encoder = ConvEncoder(SHAPE, feature_dim=8)
    losses = pretrain_encoder(encoder, frames(100, 8).repeat(4, 0) + np.random.default_rng(0).integers(
        0, 50, (32, *SHAPE), dtype=np.uint8), iterations=30, batch_size=8)
    assert losses[-1] < losses[0]
    save_encoder_weights(encoder, tmp_path / "encoder.pt")
    learner = SAC(BrightnessEnv(), SACConfig(**TINY, encoder="frozen", encoder_weights=str(tmp_path / "encoder.pt")),
                  "cpu")
    learner.train(60, progress=False)
    assert learner.updates > 0
    for a, b in zip(encoder.state_dict().values(), learner.critic.encoder.state_dict().values()):
        assert torch.equal(a, b)
    with pytest.raises(FileNotFoundError, match="do not exist"):
        load_encoder_weights(ConvEncoder(SHAPE, 8), tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="does not fit"):
        load_encoder_weights(ConvEncoder(SHAPE, 16), tmp_path / "encoder.pt")


def test_pixel_sac_checkpoints_and_exports_a_state_plus_image_policy(tmp_path):
    learner = SAC(BrightnessEnv(), SACConfig(**TINY), "cpu")
    learner.train(40, progress=False)
    learner.save(tmp_path / "ckpt.pt")
    restored = Learner.load(tmp_path / "ckpt.pt", BrightnessEnv(), "cpu")
    assert np.array_equal(restored.online.images[:40], learner.online.images[:40])
    obs, _ = BrightnessEnv().reset(seed=1)
    policy = learner.policy()
    action = policy(torch.as_tensor(obs["state"])[None], torch.as_tensor(obs["image"])[None])
    np.testing.assert_allclose(action[0].detach().numpy(), learner.act(obs), atol=1e-6)
    np.testing.assert_allclose(restored.act(obs), learner.act(obs), atol=1e-6)
    with pytest.raises(ValueError, match="image"):
        policy(torch.as_tensor(obs["state"])[None])


def test_reward_classifier_learns_success_frames_and_replaces_the_reward(tmp_path):
    torch.manual_seed(0)
    classifier = RewardClassifier(SHAPE, feature_dim=8, hidden=32)
    losses = classifier.fit(frames(230, 16), frames(40, 16), iterations=150, batch_size=16, lr=3e-3)
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])
    assert classifier.success_probability(frames(235, 1))[0] > 0.5 > classifier.success_probability(frames(30, 1))[0]
    classifier.save(tmp_path / "clf.pt")
    loaded = RewardClassifier.load(tmp_path / "clf.pt")
    np.testing.assert_allclose(loaded.success_probability(frames(235, 2)),
                               classifier.success_probability(frames(235, 2)), atol=1e-6)

    env = ClassifierReward(BrightnessEnv(length=50), loaded)
    env.reset(seed=0)
    rewards, terminated = [], False
    while not terminated:
        _, reward, terminated, truncated, info = env.step(np.array([1.0], np.float32))
        rewards.append(reward)
        assert "env_reward" in info
        assert not truncated or terminated
        if truncated:
            break
    assert rewards[-1] == 1.0 and terminated and set(rewards) <= {0.0, 1.0}


def test_reward_classifier_bad_input_errors(tmp_path):
    classifier = RewardClassifier(SHAPE, feature_dim=8, hidden=32)
    with pytest.raises(ValueError, match="uint8"):
        classifier.fit(frames(200, 4).astype(np.float32), frames(10, 4), iterations=1)
    with pytest.raises(ValueError, match="image observations"):
        ClassifierReward(gym.make("Pendulum-v1"), classifier)
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a reward classifier"):
        RewardClassifier.load(tmp_path / "junk.pt")
