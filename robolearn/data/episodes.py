"""Recorded episodes: what was asked, what the safety layer let through, and when it really happened.

An `Episode` holds one rollout in policy space. `record_episode` drives an env with an action source
(a teleop device, a scripted expert, a policy, or a `TakeoverSource` mixing a policy and a human); every
command goes through `Robot.send_action`, so the same SafetyController filters it as on any other path.
Timestamps are measured with a monotonic clock, never derived from the nominal rate: a loop that ran
slow is recorded as slow, and `achieved_rate_hz` says so.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, fields
from typing import Any, Callable, Protocol

import numpy as np

from robolearn.data.transitions import Transitions


@dataclass
class Episode:
    states: np.ndarray  # (T+1, obs_dim) float32: the observation before every step and after the last
    requested_actions: np.ndarray  # (T, act_dim) float32 in [-1, 1]: what the source asked for
    applied_actions: np.ndarray  # (T, act_dim) float32: what the robot did after safety, in policy space
    rewards: np.ndarray  # (T,) float32
    terminated: np.ndarray  # (T,) bool
    truncated: np.ndarray  # (T,) bool
    times: np.ndarray  # (T,) float64 seconds since the episode started, measured when each step began
    interventions: np.ndarray  # (T,) bool: a human (or the takeover rule) chose this step's action
    images: np.ndarray | None = None  # (T+1, H, W, 3) uint8 camera frames aligned with `states`
    task: str = ""
    success: bool | None = None  # a human's label, where one was given

    def __post_init__(self) -> None:
        t = len(self.requested_actions)
        if len(self.states) != t + 1:
            raise ValueError(f"episode: states has {len(self.states)} rows, expected steps + 1 = {t + 1}")
        for name in ("applied_actions", "rewards", "terminated", "truncated", "times", "interventions"):
            if len(getattr(self, name)) != t:
                raise ValueError(f"episode: {name} has {len(getattr(self, name))} rows, expected {t} steps")
        if self.images is not None and len(self.images) != t + 1:
            raise ValueError(f"episode: images has {len(self.images)} frames, expected steps + 1 = {t + 1}")
        if t and np.any(np.diff(self.times) < 0):
            raise ValueError("episode: times must not go backwards")

    def __len__(self) -> int:
        return len(self.requested_actions)

    @property
    def achieved_rate_hz(self) -> float:
        """Steps per second the loop really ran at (inf for a one-step episode)."""
        if len(self) < 2 or self.times[-1] <= self.times[0]:
            return float("inf")
        return (len(self) - 1) / float(self.times[-1] - self.times[0])

    def equals(self, other: "Episode") -> bool:
        """Bit-exact equality of every array and label (used to check round trips)."""
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
                if a is None or b is None or a.shape != b.shape or not np.array_equal(a, b):
                    return False
            elif a != b:
                return False
        return True

    def transitions(self, use_applied: bool = True) -> Transitions:
        """(s, a, r, s', terminated, truncated) rows; the applied action by default, so a demonstration never
        teaches a command the safety layer refused."""
        actions = self.applied_actions if use_applied else self.requested_actions
        return Transitions(
            observations=self.states[:-1].astype(np.float32), actions=actions.astype(np.float32),
            rewards=self.rewards.astype(np.float32), next_observations=self.states[1:].astype(np.float32),
            terminated=self.terminated.astype(bool), truncated=self.truncated.astype(bool),
            images=None if self.images is None else self.images[:-1],
            next_images=None if self.images is None else self.images[1:],
        )


class ActionSource(Protocol):
    """Anything that picks the next action: returns (action in [-1, 1], whether a human chose it)."""

    def __call__(self, observation: Any) -> tuple[np.ndarray, bool]: ...


class EpisodeEnded(Exception):
    """Raised by a source to end the episode now (a key or button: success, failure, discard)."""

    def __init__(self, outcome: str) -> None:
        if outcome not in ("success", "failure", "discard"):
            raise ValueError(f"episode outcome must be success, failure or discard, got {outcome!r}")
        super().__init__(outcome)
        self.outcome = outcome


def policy_source(policy: Callable[[Any], np.ndarray]) -> ActionSource:
    """A policy (or scripted expert) as an action source whose steps are not interventions."""
    return lambda observation: (np.asarray(policy(observation), dtype=np.float64), False)


class SourceFailed(RuntimeError):
    """The action source failed mid-episode (a device unplugged); the robot was stopped. `partial` holds
    the steps so far (marked truncated, success False) when the recorder was asked to keep them."""

    def __init__(self, message: str, partial: "Episode | None") -> None:
        super().__init__(message)
        self.partial = partial


def record_episode(env, source: ActionSource, seed: int | None = None, task: str = "",
                   clock: Callable[[], float] = time.monotonic, warn_below: float = 0.9,
                   keep_on_failure: bool = False) -> Episode | None:
    """Run one episode of `env` driven by `source` and return it; None when the source discarded it.

    When the source fails (anything but Ctrl-C) the robot is stopped and SourceFailed is raised, carrying
    the steps so far if `keep_on_failure`. A warning is printed when the achieved rate falls below `warn_below` times the robot's control rate
    (on hardware the robot's `wait()` paces the loop; in sim the loop runs as fast as it can).
    """
    obs, _ = env.reset(seed=seed)
    if hasattr(source, "reset"):
        source.reset()  # a simulated human's attention budget starts over
    states, images = [_state(obs)], [_image(obs)]
    rows: dict[str, list] = {k: [] for k in ("req", "app", "r", "term", "trunc", "t", "human")}
    success: bool | None = None
    start = clock()
    done = False
    while not done:
        began = clock() - start
        try:
            action, human = source(obs)
        except EpisodeEnded as ended:
            if ended.outcome == "discard":
                return None
            success = ended.outcome == "success"
            if rows["req"]:
                rows["trunc"][-1] = rows["trunc"][-1] or not rows["term"][-1]
                break
            return None
        except KeyboardInterrupt:
            stop_robot(env, "interrupted")
            raise
        except Exception as exc:
            # Nothing drives the robot any more (a device unplugged): stop it, then say why.
            stop_robot(env, f"action source failed: {exc!r}")
            partial = None
            if keep_on_failure and rows["req"]:
                rows["trunc"][-1] = not rows["term"][-1]
                partial = _episode(states, images, rows, task, success=False)
            raise SourceFailed(f"the robot was stopped: its action source failed ({exc}); "
                               f"{'the steps so far are kept' if partial else 'this episode is discarded'}",
                               partial) from exc
        requested = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        obs, reward, terminated, truncated, info = env.step(requested)
        rows["req"].append(requested)
        rows["app"].append(np.asarray(info.get("applied_action", requested)))
        rows["r"].append(reward)
        rows["term"].append(terminated)
        rows["trunc"].append(truncated)
        rows["t"].append(began)
        rows["human"].append(bool(human))
        states.append(_state(obs))
        images.append(_image(obs))
        done = terminated or truncated
    episode = _episode(states, images, rows, task, success)
    rate = _control_rate(env)
    if rate and episode.achieved_rate_hz < warn_below * rate:
        warnings.warn(f"recording ran at {episode.achieved_rate_hz:.1f} Hz, below the task's {rate:g} Hz: the "
                      f"timestamps record the real rate", RuntimeWarning, stacklevel=2)
    return episode


def _episode(states: list, images: list, rows: dict[str, list], task: str, success: bool | None) -> Episode:
    return Episode(
        states=np.asarray(states, dtype=np.float32),
        requested_actions=np.asarray(rows["req"], dtype=np.float32),
        applied_actions=np.asarray(rows["app"], dtype=np.float32),
        rewards=np.asarray(rows["r"], dtype=np.float32),
        terminated=np.asarray(rows["term"], dtype=bool),
        truncated=np.asarray(rows["trunc"], dtype=bool),
        times=np.asarray(rows["t"], dtype=np.float64),
        interventions=np.asarray(rows["human"], dtype=bool),
        images=None if images[0] is None else np.asarray(images, dtype=np.uint8),
        task=task, success=success,
    )


def _state(obs: Any) -> np.ndarray:
    return np.asarray(obs["state"] if isinstance(obs, dict) else obs, dtype=np.float32)


def _image(obs: Any) -> np.ndarray | None:
    return obs["image"] if isinstance(obs, dict) else None


def stop_robot(env, reason: str) -> None:
    """Stop the env's robot now through its safety layer (an env without a robot has nothing to stop)."""
    robot = getattr(env.unwrapped, "robot", None)
    if robot is not None:
        robot.stop(reason)


def _control_rate(env) -> float | None:
    robot = getattr(env.unwrapped, "robot", None)
    return float(robot.spec.control_rate_hz) if robot is not None else None


def record_dataset(env, source: ActionSource, episodes: int, add: Callable[[Episode], int], seed: int = 0,
                   task: str = "", on_episode: Callable[[int, Episode | None], None] | None = None,
                   keep_on_failure: bool = False) -> int:
    """Record `episodes` kept episodes, handing each to `add` (a dataset writer) as soon as it ends.

    Discarded episodes are re-recorded. A crash or Ctrl-C loses only the episode in progress (the robot is
    stopped by `record_episode`); a write failure (a full disk) stops the robot and raises OSError saying
    how many episodes are intact. Returns the number of episodes written.
    """
    if episodes <= 0:
        raise ValueError(f"episodes must be > 0, got {episodes}")
    written, attempt = 0, 0
    while written < episodes:
        try:
            episode = record_episode(env, source, seed=seed + attempt, task=task, keep_on_failure=keep_on_failure)
        except SourceFailed as failed:
            if failed.partial is not None:
                add(failed.partial)
            raise
        attempt += 1
        if episode is not None and len(episode):
            try:
                add(episode)
            except OSError as exc:
                stop_robot(env, "cannot write the recording")
                raise OSError(exc.errno, f"recording stopped, the episode in progress was not saved "
                                         f"({exc.strerror or exc}); the episodes written before it ({written} in this run) are intact") \
                    from exc
            written += 1
        if on_episode:
            on_episode(written, episode)
    return written
