"""AVG behind the link. AVG is incremental: the learner applies one update per received transition, in order,
and nothing between transitions; the actor samples from the latest actor weights it was sent, normalising
observations with the learner's running statistics that travel with them.
"""

from __future__ import annotations

from collections.abc import Mapping

import gymnasium as gym
import numpy as np
import torch

from robolearn.learners.avg import AVG, AVGConfig, NormalizedMLP
from robolearn.learners.distributions import sample_tanh_gaussian
from robolearn.link.transitions import check_batch, observation
from robolearn.link.weights import Weights, to_numpy


class AvgLinkLearner:
    def __init__(self, avg: AVG):
        self.learner = self.avg = avg
        self.updates = 0

    def ingest(self, batch: Mapping[str, np.ndarray]) -> dict[str, float]:
        check_batch(batch, images=False)
        events: dict[str, float] = {}
        for i in range(len(batch["reward"])):
            events.update(self.avg.learn_from_transition(
                observation(batch, i), batch["action"][i], float(batch["reward"][i]), observation(batch, i, True),
                bool(batch["terminated"][i]), bool(batch["truncated"][i])))
            self.updates += 1
        return events

    def ready(self) -> bool:
        return False  # every update happened in `ingest`: one per transition, none in between

    def update(self) -> None:
        raise RuntimeError("AVG updates once per transition, in ingest")

    def actor_weights(self) -> Weights:
        rms = self.avg.obs_rms
        weights = {f"actor.{k}": v for k, v in to_numpy(self.avg.actor.state_dict()).items()}
        if self.avg.config.normalize_observations:
            weights["obs_mean"] = rms.mean.astype(np.float32)
            weights["obs_scale"] = np.sqrt(rms.var + rms.epsilon).astype(np.float32)
        return weights


class AvgActorPolicy:
    """The actor side: AVG's actor network behind the learner's observation normalisation."""

    def __init__(self, observation_space: gym.Space, action_space: gym.Space, config: AVGConfig,
                 explore: bool = True, seed: int = 0):
        obs_dim, self.action_dim = observation_space.shape[0], action_space.shape[0]
        self.net = NormalizedMLP(obs_dim, 2 * self.action_dim, config.hidden_size,
                                 config.penultimate_normalization).eval()
        self.mean, self.scale = np.zeros(obs_dim, np.float32), np.ones(obs_dim, np.float32)
        self.explore = explore
        self.generator = torch.Generator().manual_seed(seed)

    def load(self, weights: Mapping[str, np.ndarray]) -> None:
        actor = {k.partition(".")[2]: torch.from_numpy(np.array(v)) for k, v in weights.items()
                 if k.startswith("actor.")}
        self.net.load_state_dict(actor, strict=True)
        if "obs_mean" in weights:
            self.mean, self.scale = np.array(weights["obs_mean"]), np.array(weights["obs_scale"])

    @torch.no_grad()
    def __call__(self, obs) -> np.ndarray:
        x = torch.from_numpy(((np.asarray(obs, np.float32) - self.mean) / self.scale).astype(np.float32))[None]
        mean, log_std = self.net(x).chunk(2, dim=-1)
        return sample_tanh_gaussian(mean, log_std, not self.explore, self.generator)[0][0].numpy()
