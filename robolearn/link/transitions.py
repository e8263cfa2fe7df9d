"""Which arrays one env step sends over the link, and how the learner turns them back into observations.

State observations travel as `obs`/`next_obs` (float32); a state+image observation (SAC from pixels) adds
its camera frames as `image`/`next_image` (uint8, as stored in the replay buffer), which the actor's frame
size cap keeps whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

REQUIRED = ("obs", "action", "reward", "next_obs", "terminated", "truncated")


def transition_arrays(obs: Any, action: np.ndarray, reward: float, next_obs: Any, terminated: bool,
                      truncated: bool) -> dict[str, np.ndarray]:
    arrays = {"action": np.asarray(action, np.float32), "reward": np.float32(reward),
              "terminated": np.bool_(terminated), "truncated": np.bool_(truncated)}
    for prefix, observation in (("", obs), ("next_", next_obs)):
        if isinstance(observation, Mapping):
            arrays[f"{prefix}obs"] = np.asarray(observation["state"], np.float32)
            arrays[f"{prefix}image"] = np.asarray(observation["image"], np.uint8)
        else:
            arrays[f"{prefix}obs"] = np.asarray(observation, np.float32)
    return arrays


def check_batch(batch: Mapping[str, np.ndarray], images: bool) -> None:
    needed = REQUIRED + (("image", "next_image") if images else ())
    missing = [name for name in needed if name not in batch]
    if missing:
        raise ValueError(f"transitions lack {missing}: the actor must send {list(needed)} (same task and "
                         "--image on both ends)")


def observation(batch: Mapping[str, np.ndarray], i: int, next_: bool = False) -> Any:
    """The i-th (next) observation of a batch: the state vector, or {state, image} when frames came along."""
    prefix = "next_" if next_ else ""
    state = batch[f"{prefix}obs"][i]
    if "image" in batch:
        return {"state": state, "image": batch[f"{prefix}image"][i]}
    return state
