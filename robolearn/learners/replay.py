"""Replay buffers for off-policy learners: fixed-capacity ring buffers in numpy, images as uint8.

Terminated and truncated are stored separately: only termination stops bootstrapping. Sampling draws
indices from a numpy Generator that the caller owns (and checkpoints), so a resumed run samples exactly
what the uninterrupted run would have sampled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from robolearn.data.transitions import Transitions


@dataclass
class Batch:
    """A sampled minibatch as tensors on the learner's device. Images stay uint8 until the encoder."""

    observations: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    next_observations: torch.Tensor
    terminated: torch.Tensor  # float 0/1: 1 means no bootstrap
    images: torch.Tensor | None = None
    next_images: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.rewards)

    @staticmethod
    def concatenate(parts: list["Batch"]) -> "Batch":
        parts = [p for p in parts if len(p)]
        fields = ("observations", "actions", "rewards", "next_observations", "terminated", "images", "next_images")
        out = {}
        for name in fields:
            values = [getattr(p, name) for p in parts]
            out[name] = None if values[0] is None else torch.cat(values)
        return Batch(**out)


class ReplayBuffer:
    """Ring buffer of transitions. `image_shape` (H, W, C) adds uint8 image and next-image storage."""

    _ARRAYS = ("observations", "actions", "rewards", "next_observations", "terminated", "truncated")

    def __init__(self, capacity: int, obs_dim: int, act_dim: int,
                 image_shape: tuple[int, ...] | None = None) -> None:
        if capacity <= 0:
            raise ValueError(f"replay capacity must be > 0, got {capacity}")
        self.capacity, self.obs_dim, self.act_dim = int(capacity), int(obs_dim), int(act_dim)
        self.image_shape = tuple(image_shape) if image_shape is not None else None
        self.observations = np.zeros((capacity, obs_dim), np.float32)
        self.actions = np.zeros((capacity, act_dim), np.float32)
        self.rewards = np.zeros(capacity, np.float32)
        self.next_observations = np.zeros((capacity, obs_dim), np.float32)
        self.terminated = np.zeros(capacity, bool)
        self.truncated = np.zeros(capacity, bool)
        if self.image_shape is not None:
            self.images = np.zeros((capacity, *self.image_shape), np.uint8)
            self.next_images = np.zeros((capacity, *self.image_shape), np.uint8)
        else:
            self.images = self.next_images = None
        self.position = 0  # next slot to write
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(self, observation: np.ndarray, action: np.ndarray, reward: float, next_observation: np.ndarray,
            terminated: bool, truncated: bool, image: np.ndarray | None = None,
            next_image: np.ndarray | None = None) -> None:
        action = np.asarray(action, np.float32)
        if action.shape != (self.act_dim,):
            raise ValueError(f"replay: action has shape {action.shape}, expected ({self.act_dim},)")
        if not (np.all(np.isfinite(observation)) and np.all(np.isfinite(next_observation))
                and np.all(np.isfinite(action)) and np.isfinite(reward)):
            raise ValueError("replay: transition contains NaN/inf (observation, action or reward); a learner "
                             "trained on it would diverge. Check the robot's sensors and the task's reward.")
        i = self.position
        self.observations[i] = observation
        self.actions[i] = action
        self.rewards[i] = reward
        self.next_observations[i] = next_observation
        self.terminated[i] = terminated
        self.truncated[i] = truncated
        if self.image_shape is not None:
            if image is None or next_image is None:
                raise ValueError("replay: this buffer stores images; pass image and next_image")
            self.images[i] = image
            self.next_images[i] = next_image
        self.position = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def add_transitions(self, data: Transitions) -> None:
        """Append a block (demonstrations); the oldest rows are overwritten once full."""
        if data.observations.shape[1:] != (self.obs_dim,) or data.actions.shape[1:] != (self.act_dim,):
            raise ValueError(f"demonstrations have observation/action shapes {data.observations.shape[1:]}/"
                             f"{data.actions.shape[1:]}, the env has ({self.obs_dim},)/({self.act_dim},): they "
                             f"were recorded on another task or robot")
        if self.image_shape is not None and data.images is None:
            raise ValueError("demonstrations have no images but the env observes images; record them with image=True")
        for i in range(len(data)):
            self.add(data.observations[i], data.actions[i], float(data.rewards[i]), data.next_observations[i],
                     bool(data.terminated[i]), bool(data.truncated[i]),
                     None if data.images is None else data.images[i],
                     None if data.next_images is None else data.next_images[i])

    def sample(self, batch_size: int, rng: np.random.Generator, device: torch.device | str = "cpu") -> Batch:
        if self.size == 0:
            raise RuntimeError("replay: cannot sample from an empty buffer")
        idx = rng.integers(0, self.size, size=batch_size)
        return self.gather(idx, device)

    def gather(self, idx: np.ndarray, device: torch.device | str = "cpu") -> Batch:
        def t(array: np.ndarray | None) -> torch.Tensor | None:
            return None if array is None else torch.from_numpy(array[idx]).to(device)

        return Batch(
            observations=t(self.observations), actions=t(self.actions), rewards=t(self.rewards),
            next_observations=t(self.next_observations),
            terminated=torch.from_numpy(self.terminated[idx].astype(np.float32)).to(device),
            images=t(self.images), next_images=t(self.next_images),
        )

    def state_dict(self) -> dict:
        n = self.size
        state: dict[str, Any] = {"capacity": self.capacity, "position": self.position, "size": n,
                                 "obs_dim": self.obs_dim, "act_dim": self.act_dim, "image_shape": self.image_shape}
        # Only the filled part: a checkpoint of a fresh 1M buffer should not weigh gigabytes.
        for name in self._ARRAYS + (("images", "next_images") if self.image_shape else ()):
            state[name] = getattr(self, name)[:n].copy()
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        expected = (self.capacity, self.obs_dim, self.act_dim, self.image_shape)
        found = (state["capacity"], state["obs_dim"], state["act_dim"],
                 tuple(state["image_shape"]) if state["image_shape"] is not None else None)
        if found != expected:
            raise ValueError(f"replay checkpoint (capacity, obs, act, image) {found} does not match this buffer "
                             f"{expected}")
        n = int(state["size"])
        for name in self._ARRAYS + (("images", "next_images") if self.image_shape else ()):
            getattr(self, name)[:n] = state[name]
        self.size, self.position = n, int(state["position"])


def sample_mixed(online: ReplayBuffer, demos: ReplayBuffer | Sequence[ReplayBuffer] | None, batch_size: int,
                 demo_fraction: float, rng: np.random.Generator, device: torch.device | str = "cpu") -> Batch:
    """RLPD's symmetric sampling: round(batch_size * demo_fraction) rows from the demo side, the rest from
    the online buffer. The demo side may be several buffers (demonstrations and human interventions, as
    HIL-SERL's demo buffer holds both): its rows are drawn uniformly over all their transitions together.
    With no demos (or only empty demo buffers) the whole batch is online."""
    offline = [b for b in ([demos] if isinstance(demos, ReplayBuffer) else demos or []) if len(b)]
    n_demo = int(round(batch_size * demo_fraction)) if offline else 0
    parts = [online.sample(batch_size - n_demo, rng, device)] if batch_size > n_demo else []
    if n_demo:
        sizes = np.array([len(b) for b in offline], dtype=np.float64)
        counts = rng.multinomial(n_demo, sizes / sizes.sum()) if len(offline) > 1 else [n_demo]
        parts += [b.sample(int(n), rng, device) for b, n in zip(offline, counts) if n]
    return parts[0] if len(parts) == 1 else Batch.concatenate(parts)
