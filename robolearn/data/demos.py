"""Demonstrations for learners from any recording: a robolearn .npz of transitions or a LeRobot v3 dataset.

`load_demonstrations` is what SAC/RLPD's demo buffer and Lipschitz BC consume; a dataset is checked
against the robot it will train (command names, sizes, rate) so data from another robot is refused.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from robolearn.data.transitions import Transitions
from robolearn.spec import RobotSpec


def load_demonstrations(path: str | os.PathLike, spec: RobotSpec | None = None, state_size: int | None = None,
                        interventions_only: bool = False) -> Transitions:
    """Transitions (applied actions, in policy space) from `path`.

    `spec` and `state_size`, when given, are checked against the dataset; `interventions_only` keeps the
    steps a human chose (HIL-SERL's intervention buffer).
    """
    path = Path(path)
    if path.is_file() and path.suffix == ".npz":
        demos = Transitions.load(path)
    elif path.is_dir():
        from robolearn.data.lerobot_format import DatasetError, read_dataset, read_info

        info = read_info(path)
        _check_against_robot(path, info, spec)
        episodes = read_dataset(path, images=False)
        if not episodes:
            raise DatasetError(f"{path} holds no episodes: record some first (robolearn record)")
        parts = []
        for e in episodes:
            t = e.transitions()
            if interventions_only:
                keep = e.interventions
                t = Transitions(t.observations[keep], t.actions[keep], t.rewards[keep], t.next_observations[keep],
                                t.terminated[keep], t.truncated[keep])
            parts.append(t)
        demos = Transitions.concatenate(parts)
    else:
        raise FileNotFoundError(f"demonstrations {path} not found: give a robolearn .npz or a LeRobot v3 dataset "
                                f"folder (the one holding meta/info.json)")
    if spec is not None and len(demos) and demos.actions.shape[1] != spec.action_size:
        raise ValueError(f"{path}: actions have {demos.actions.shape[1]} entries, {spec.name} takes "
                         f"{spec.action_size}: these demonstrations are for another robot")
    if state_size is not None and len(demos) and demos.observations.shape[1] != state_size:
        raise ValueError(f"{path}: observations have {demos.observations.shape[1]} features, the task's have "
                         f"{state_size}: these demonstrations are for another task")
    return demos


def demonstrations_for(path: str | os.PathLike, env: Any) -> Transitions:
    """`load_demonstrations` checked against what `env` (a robolearn task env, wrapped or not, or any
    gymnasium env) will train: its robot's command names, size and rate, and its state and action sizes."""
    robot = getattr(env.unwrapped, "robot", None)
    space = env.observation_space
    state_space = space["state"] if hasattr(space, "spaces") and "state" in space.spaces else space
    state_size = int(state_space.shape[0]) if state_space.shape else None
    demos = load_demonstrations(path, None if robot is None else robot.spec, state_size)
    action_size = int(env.action_space.shape[0])
    if len(demos) and demos.actions.shape[1] != action_size:
        raise ValueError(f"{path}: actions have {demos.actions.shape[1]} entries, the task's have {action_size}: "
                         "these demonstrations are for another task")
    return demos


def _check_against_robot(path: Path, info: dict, spec: RobotSpec | None) -> None:
    from robolearn.data.lerobot_format import DatasetError

    if spec is None:
        return
    where = path / "meta" / "info.json"
    action = info["features"].get("action", {})
    names = action.get("names")
    if isinstance(names, list) and not all(n.startswith("action_") for n in names) \
            and tuple(names) != tuple(spec.command_names):
        raise DatasetError(f"{where}: feature action names {names}, {spec.name} commands "
                           f"{list(spec.command_names)}: these demonstrations are for another robot")
    if abs(float(info["fps"]) - spec.control_rate_hz) > 1e-6:
        raise DatasetError(f"{where}: field fps is {info['fps']}, {spec.name} runs at {spec.control_rate_hz:g} Hz: "
                           f"re-record at the robot's rate (or resample the dataset first)")
