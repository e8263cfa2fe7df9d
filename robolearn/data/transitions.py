"""Transitions in policy space (features and [-1, 1] actions), with terminated and truncated kept apart.

Demonstrations come from a task's scripted expert (sim) or from recorded robot data; interventions by a
human are stored the same way. Image observations, when present, are kept as uint8.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable

import numpy as np


@dataclass
class Transitions:
    observations: np.ndarray  # (N, obs_dim) float32
    actions: np.ndarray  # (N, act_dim) float32 in [-1, 1]
    rewards: np.ndarray  # (N,) float32
    next_observations: np.ndarray
    terminated: np.ndarray  # (N,) bool
    truncated: np.ndarray  # (N,) bool
    images: np.ndarray | None = None  # (N, H, W, 3) uint8
    next_images: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.observations)
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None and len(value) != n:
                raise ValueError(f"transitions: {f.name} has {len(value)} rows, observations has {n}")
        if n and self.actions.ndim != 2:
            raise ValueError(f"transitions: actions must be 2-D (N, act_dim), got shape {self.actions.shape}")
        if n and not (np.all(np.isfinite(self.observations)) and np.all(np.isfinite(self.actions))):
            raise ValueError("transitions: observations or actions contain NaN/inf")

    def __len__(self) -> int:
        return len(self.observations)

    def save(self, path: str | os.PathLike) -> None:
        arrays = {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Transitions":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"demonstrations file {path} does not exist")
        try:
            with np.load(path, allow_pickle=False) as data:  # a shared dataset must not run code
                arrays: dict[str, Any] = {k: data[k] for k in data.files}
        except Exception as exc:
            raise ValueError(f"{path} is not a robolearn transitions .npz ({exc})") from exc
        missing = {"observations", "actions", "rewards", "next_observations", "terminated", "truncated"} - set(arrays)
        if missing:
            raise ValueError(f"{path}: missing arrays {sorted(missing)}")
        return cls(**arrays)

    @classmethod
    def concatenate(cls, parts: list["Transitions"]) -> "Transitions":
        if not parts:
            raise ValueError("no transitions to concatenate")
        out = {}
        for f in fields(cls):
            values = [getattr(p, f.name) for p in parts]
            out[f.name] = None if any(v is None for v in values) else np.concatenate(values)
        return cls(**out)


def scripted_expert(env) -> Callable[[Any], np.ndarray]:
    """The robolearn task's scripted expert as a policy of the env's observations; it reads the robot's raw
    observation, which carries more than the (possibly image) observation the learner sees."""
    base = env.unwrapped
    task, robot = base.task, base.robot

    def expert(_obs: Any) -> np.ndarray:
        raw = robot.observe() if base._obs is None else base._obs
        return task.expert_action(raw, robot.spec)

    return expert


def collect_demonstrations(env, episodes: int, seed: int = 0,
                           expert: Callable[[Any], np.ndarray] | None = None) -> Transitions:
    """Roll out `expert` (default: the task's scripted expert, through the safety layer) for `episodes`.

    Stored actions are what the robot applied, mapped back to policy space, so a demonstration never
    teaches a command the safety layer refused.
    """
    if episodes <= 0:
        raise ValueError(f"episodes must be > 0, got {episodes}")
    env = getattr(env, "without_human", env)  # an expert rolling out needs no human taking over
    if expert is None:
        expert = scripted_expert(env)
    rows: dict[str, list] = {k: [] for k in ("o", "a", "r", "o2", "term", "trunc", "img", "img2")}
    for ep in range(episodes):
        obs, _ = env.reset(seed=seed + ep)
        done = False
        while not done:
            action = np.clip(np.asarray(expert(obs), dtype=np.float64), -1.0, 1.0)
            next_obs, reward, terminated, truncated, info = env.step(action)
            applied = np.asarray(info.get("applied_action", action), dtype=np.float32)
            state, next_state = (obs["state"], next_obs["state"]) if isinstance(obs, dict) else (obs, next_obs)
            rows["o"].append(state)
            rows["a"].append(applied)
            rows["r"].append(reward)
            rows["o2"].append(next_state)
            rows["term"].append(terminated)
            rows["trunc"].append(truncated)
            if isinstance(obs, dict):
                rows["img"].append(obs["image"])
                rows["img2"].append(next_obs["image"])
            obs = next_obs
            done = terminated or truncated
    return Transitions(
        observations=np.asarray(rows["o"], dtype=np.float32),
        actions=np.asarray(rows["a"], dtype=np.float32),
        rewards=np.asarray(rows["r"], dtype=np.float32),
        next_observations=np.asarray(rows["o2"], dtype=np.float32),
        terminated=np.asarray(rows["term"], dtype=bool),
        truncated=np.asarray(rows["trunc"], dtype=bool),
        images=np.asarray(rows["img"], dtype=np.uint8) if rows["img"] else None,
        next_images=np.asarray(rows["img2"], dtype=np.uint8) if rows["img2"] else None,
    )
