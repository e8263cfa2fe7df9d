"""Binary success classifier on camera frames (SERL): trained with BCE on labelled frames, it replaces the
env reward with 1[p(success) >= threshold] and can end the episode on success.

Real robots rarely have a reward sensor; a few dozen labelled success and failure frames are cheap.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from robolearn.files import save_torch_atomically
from robolearn.learners.encoders import ConvEncoder
from robolearn.learners.networks import make_adam

_FORMAT = "robolearn-reward-classifier"


class RewardClassifier(nn.Module):
    """uint8 frames [B, H, W, C] -> success logits [B]."""

    def __init__(self, image_shape: Sequence[int], feature_dim: int = 64, hidden: int = 256) -> None:
        super().__init__()
        self.encoder = ConvEncoder(image_shape, feature_dim)
        self.head = nn.Sequential(nn.Dropout(0.1), nn.Linear(feature_dim, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        self.image_shape, self.feature_dim, self.hidden = tuple(image_shape), feature_dim, hidden

    def forward(self, images: torch.Tensor, augment_pad: int = 0) -> torch.Tensor:
        return self.head(self.encoder(images, augment_pad)).squeeze(-1)

    @torch.no_grad()
    def success_probability(self, images: np.ndarray | torch.Tensor) -> np.ndarray:
        was_training = self.training
        self.eval()
        images = torch.as_tensor(np.asarray(images, dtype=np.uint8))
        if images.dim() == 3:
            images = images[None]
        p = torch.sigmoid(self(images)).numpy()
        self.train(was_training)
        return p

    def fit(self, success: np.ndarray, failure: np.ndarray, iterations: int = 100, batch_size: int = 256,
            lr: float = 1e-4, augment_pad: int = 4, seed: int = 0) -> list[float]:
        """BCE on balanced batches (half success, half failure frames), random-shift augmented."""
        success, failure = (_check_frames(x, self.image_shape, name) for x, name in
                            ((success, "success"), (failure, "failure")))
        rng = np.random.default_rng(seed)
        optimiser = make_adam(self.parameters(), lr)
        half = max(1, batch_size // 2)
        labels = torch.cat([torch.ones(half), torch.zeros(half)])
        self.train()
        losses = []
        for _ in range(iterations):
            frames = np.concatenate([success[rng.integers(0, len(success), half)],
                                     failure[rng.integers(0, len(failure), half)]])
            loss = F.binary_cross_entropy_with_logits(self(torch.from_numpy(frames), augment_pad), labels)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            losses.append(float(loss.detach()))
        self.eval()
        return losses

    def save(self, path: str | os.PathLike) -> None:
        save_torch_atomically(path, {"format": _FORMAT, "image_shape": list(self.image_shape),
                                     "feature_dim": self.feature_dim, "hidden": self.hidden,
                                     "state_dict": self.state_dict()})

    @classmethod
    def load(cls, path: str | os.PathLike) -> "RewardClassifier":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"reward classifier {path} does not exist; train one with RewardClassifier.fit")
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise ValueError(f"{path} is not a reward classifier file ({type(exc).__name__}: {exc})") from exc
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise ValueError(f"{path} is not a robolearn reward classifier (no '{_FORMAT}' header)")
        model = cls(data["image_shape"], data["feature_dim"], data["hidden"])
        model.load_state_dict(data["state_dict"])
        model.eval()
        return model


def _check_frames(frames: np.ndarray, image_shape: tuple, name: str) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[1:] != image_shape or frames.dtype != np.uint8 or len(frames) == 0:
        raise ValueError(f"{name} frames must be a non-empty uint8 array [N, {', '.join(map(str, image_shape))}], "
                         f"got {frames.dtype} {frames.shape}")
    return frames


class ClassifierReward(gym.Wrapper):
    """Replaces the env reward with the classifier's verdict on the next frame; success can terminate.

    The env must observe images (Dict observation with an "image" key). The env's own reward is kept in
    info["env_reward"] for logging.
    """

    def __init__(self, env: gym.Env, classifier: RewardClassifier, threshold: float = 0.5,
                 terminate_on_success: bool = True) -> None:
        super().__init__(env)
        space = env.observation_space
        if not isinstance(space, gym.spaces.Dict) or "image" not in space.spaces:
            raise ValueError("ClassifierReward needs an env with image observations (create it with image=True)")
        if tuple(space["image"].shape) != classifier.image_shape:
            raise ValueError(f"classifier was trained on {classifier.image_shape} frames, the env gives "
                             f"{tuple(space['image'].shape)}")
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1), got {threshold}")
        self.classifier, self.threshold, self.terminate_on_success = classifier, threshold, terminate_on_success

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        success = bool(self.classifier.success_probability(obs["image"])[0] >= self.threshold)
        info = dict(info, env_reward=reward, classifier_success=success)
        terminated = bool(terminated or (success and self.terminate_on_success))
        return obs, float(success), terminated, truncated and not terminated, info
