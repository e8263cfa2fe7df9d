"""One simulated env acting with the learner's latest weights; plain Python, made a Ray actor by `trainer`.

Each worker lives in its own Ray worker process, so its env has its own PyBullet DIRECT client and nothing
is shared with other workers. A call collects a chunk of env steps and returns them as one link
`transitions` frame (the arrays an actor sends, `link.transitions`; sequence numbers run on across calls),
plus the returns of the episodes that ended in it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from robolearn.learners.base import LearnerConfig
from robolearn.link.acting import actor_policy
from robolearn.link.transitions import transition_arrays
from robolearn.link.wire import encode, pack_array

# Worker k's episodes are seeded from config.seed + EPISODE_SEED_STRIDE * (k + 1) upwards, apart from the
# learner's own (demonstrations, evaluation) and from every other worker's.
EPISODE_SEED_STRIDE = 1_000_000


class SimWorker:
    def __init__(self, index: int, task: str, algo: str, config: LearnerConfig) -> None:
        import torch

        from robolearn.training import make_env

        torch.set_num_threads(1)  # one core per worker; the learner has its own
        self.index = index
        self.env = make_env(task)
        space = self.env.observation_space
        if getattr(space, "shape", None) is None or len(space.shape) != 1:
            raise ValueError(f"{task}: Ray workers run state observations only, got {space}")
        self.act_dim = self.env.action_space.shape[0]
        self.episode_seed = config.seed + EPISODE_SEED_STRIDE * (index + 1)
        # each worker's own exploration noise (the policy seeds its generator from the config's seed)
        self.policy = actor_policy(algo, self.env, dataclasses.replace(config, seed=self.episode_seed))
        self.rng = np.random.default_rng(self.episode_seed)
        self.weights_version = 0
        self.next_seq = 0
        self._obs: np.ndarray | None = None
        self._return = 0.0

    def ready(self) -> int:
        """Answers once the env is built (the trainer waits for every worker before the run starts)."""
        return self.index

    def collect(self, steps: int, version: int, weights: Mapping[str, np.ndarray] | None,
                random_actions: bool) -> tuple[bytes, list[float]]:
        """`steps` env steps with weights `version` (loaded first when `weights` is given), actions sampled
        from the policy (or uniformly when `random_actions`); returns (transitions frame, finished returns)."""
        if weights is not None and version != self.weights_version:
            self.policy.load(weights)
            self.weights_version = version
        rows: list[dict[str, np.ndarray]] = []
        finished: list[float] = []
        for _ in range(steps):
            if self._obs is None:
                self._obs, _ = self.env.reset(seed=self.episode_seed)
                self.episode_seed += 1
                self._return = 0.0
            if random_actions:
                action = self.rng.uniform(-1.0, 1.0, self.act_dim).astype(np.float32)
            else:
                action = self.policy(self._obs)
            next_obs, reward, terminated, truncated, info = self.env.step(action)
            applied = info.get("applied_action", action)  # what the robot did after safety is what is learned
            rows.append(transition_arrays(self._obs, applied, reward, next_obs, terminated, truncated))
            self._return += float(reward)
            self._obs = next_obs
            if terminated or truncated:
                finished.append(self._return)
                self._obs = None
        arrays = {name: pack_array(np.stack([row[name] for row in rows])) for name in rows[0]} if rows else {}
        frame = encode("transitions", seq=self.next_seq, count=steps, arrays=arrays)
        self.next_seq += steps
        return frame, finished

    def close(self) -> None:
        self.env.close()
