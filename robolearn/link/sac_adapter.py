"""SAC behind the link: the learner side stores streamed transitions in SAC's own buffers and runs its update
rounds; the actor side runs SAC's actor (and, from pixels, the image encoder) with weights from the learner.

One `SAC.update()` round is `utd` critic steps plus one actor step, exactly as in-process training runs it per
env step; how many rounds per transition the learner manages is measured by robolearn.link.training, which
may cap it.
"""

from __future__ import annotations

from collections.abc import Mapping

import gymnasium as gym
import numpy as np
import torch

from robolearn.learners.distributions import sample_tanh_gaussian
from robolearn.learners.encoders import ConvEncoder
from robolearn.learners.sac import SAC, Actor, SACConfig
from robolearn.link.transitions import check_batch, observation
from robolearn.link.weights import Weights, to_numpy


class SacLinkLearner:
    def __init__(self, sac: SAC):
        self.learner = self.sac = sac

    @property
    def updates(self) -> int:
        return self.sac.updates

    def ingest(self, batch: Mapping[str, np.ndarray]) -> dict[str, float]:
        """Store every transition of the batch (what the robot applied is the action); episode returns out."""
        check_batch(batch, self.sac.image_shape is not None)
        events: dict[str, float] = {}
        for i in range(len(batch["reward"])):
            events.update(self.sac.record(observation(batch, i), batch["action"][i], float(batch["reward"][i]),
                                          observation(batch, i, next_=True), bool(batch["terminated"][i]),
                                          bool(batch["truncated"][i])))
        return events

    def ready(self) -> bool:
        return len(self.sac.online) >= self.sac.config.learning_starts

    def update(self) -> None:
        self.sac.update()

    def actor_weights(self) -> Weights:
        """What the actor needs to act: the actor network and, from pixels, the critic's image encoder."""
        weights = {f"actor.{k}": v for k, v in to_numpy(self.sac.actor.state_dict()).items()}
        if self.sac.critic.encoder is not None:
            weights.update({f"encoder.{k}": v for k, v in to_numpy(self.sac.critic.encoder.state_dict()).items()})
        return weights


class SacActorPolicy:
    """The actor side (CPU): SAC's actor on state features, or on state + encoded camera frame. Samples from
    the tanh-Gaussian while training (`explore`), its mean otherwise."""

    def __init__(self, observation_space: gym.Space, action_space: gym.Space, config: SACConfig,
                 explore: bool = True, seed: int = 0):
        image = observation_space["image"].shape if isinstance(observation_space, gym.spaces.Dict) else None
        state_dim = (observation_space["state"] if image else observation_space).shape[0]
        self.encoder = ConvEncoder(image, config.image_feature_dim).eval() if image else None
        self.net = Actor(state_dim + (config.image_feature_dim if image else 0), action_space.shape[0], config).eval()
        self.explore = explore
        self.generator = torch.Generator().manual_seed(seed)

    def load(self, weights: Mapping[str, np.ndarray]) -> None:
        parts: dict[str, dict[str, torch.Tensor]] = {"actor": {}, "encoder": {}}
        for name, value in weights.items():
            part, _, key = name.partition(".")
            if part not in parts:
                raise ValueError(f"unexpected weight {name!r} for a SAC actor")
            parts[part][key] = torch.from_numpy(np.array(value))
        self.net.load_state_dict(parts["actor"], strict=True)
        if self.encoder is not None:
            self.encoder.load_state_dict(parts["encoder"], strict=True)

    @torch.no_grad()
    def __call__(self, obs) -> np.ndarray:
        if self.encoder is not None:
            state = torch.as_tensor(np.asarray(obs["state"], np.float32))[None]
            image = torch.as_tensor(np.asarray(obs["image"], np.uint8))[None]
            features = torch.cat([state, self.encoder(image)], dim=-1)
        else:
            features = torch.as_tensor(np.asarray(obs, np.float32))[None]
        mean, log_std = self.net(features)
        return sample_tanh_gaussian(mean, log_std, not self.explore, self.generator)[0][0].numpy()
