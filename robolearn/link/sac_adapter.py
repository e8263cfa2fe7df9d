"""SAC behind the link: the learner side's `on_transitions` and the actor side's policy, nothing else.

The learner stores each streamed transition in SAC's own replay buffer and runs one `SAC.update()` round
(which is `utd` critic steps) per transition once `learning_starts` is reached, so the update-to-data ratio
is SAC's; `max_rounds_per_transition` caps it lower when the learner machine cannot keep up. Every
`publish_every` rounds it returns the actor's weights for the link to send. State observations only: image
transitions would need the encoder's weights too (not wired yet).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from robolearn.learners.distributions import sample_tanh_gaussian
from robolearn.learners.sac import SAC, Actor, SACConfig

FIELDS = ("obs", "action", "reward", "next_obs", "terminated", "truncated")


class SacLinkLearner:
    def __init__(self, sac: SAC, publish_every: int = 4, max_rounds_per_transition: float = 1.0):
        if sac.image_shape is not None:
            raise ValueError("SAC from pixels cannot run behind the link yet; train it in-process (robolearn train)")
        if publish_every < 1 or max_rounds_per_transition <= 0:
            raise ValueError("publish_every must be >= 1 and max_rounds_per_transition > 0")
        self.sac, self.publish_every, self.max_rounds = sac, publish_every, max_rounds_per_transition
        self.transitions = 0
        self._credit = 0.0
        self._since_publish = 0
        sac.on_train_start()  # demonstrations, as in-process training would have them

    @property
    def update_to_data(self) -> float:
        """Measured update rounds per received transition."""
        return self.sac.updates / max(self.transitions, 1)

    def __call__(self, batch: Mapping[str, np.ndarray]) -> dict[str, np.ndarray] | None:
        missing = [f for f in FIELDS if f not in batch]
        if missing:
            raise ValueError(f"transitions lack {missing}; the actor must send {list(FIELDS)}")
        for i in range(len(batch["reward"])):
            self.sac.online.add(batch["obs"][i], batch["action"][i], float(batch["reward"][i]),
                                batch["next_obs"][i], bool(batch["terminated"][i]), bool(batch["truncated"][i]))
            self.transitions += 1
            self.sac.env_steps += 1
            if len(self.sac.online) < self.sac.config.learning_starts:
                continue
            self._credit += self.max_rounds
            while self._credit >= 1.0:
                self._credit -= 1.0
                self.sac.update()
                self._since_publish += 1
        if self._since_publish >= self.publish_every:
            self._since_publish = 0
            return actor_weights(self.sac)
        return None


def actor_weights(sac: SAC) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().numpy().copy() for k, v in sac.actor.state_dict().items()}


class SacActorPolicy:
    """The actor side: SAC's actor network (CPU), an action from a state observation: deterministic by default,
    sampled from the policy (SAC's exploration) with `deterministic=False`."""

    def __init__(self, obs_dim: int, act_dim: int, config: SACConfig):
        self.net = Actor(obs_dim, act_dim, config).eval()

    def load(self, weights: Mapping[str, np.ndarray]) -> None:
        self.net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in weights.items()}, strict=True)

    @torch.no_grad()
    def __call__(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        mean, log_std = self.net(torch.as_tensor(obs, dtype=torch.float32)[None])
        return sample_tanh_gaussian(mean, log_std, deterministic=deterministic)[0][0].numpy()
