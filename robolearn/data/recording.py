"""Recording a task into a LeRobot v3 dataset: the one setup under `robolearn record` and the ROS recorder
(drivers' record_on_robot), so a dataset recorded in the sim, on a robot directly or through ROS has the
same features for the same robot and task."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from robolearn.data.episodes import ActionSource, policy_source, record_dataset
from robolearn.data.lerobot_format import LeRobotWriter

SOURCE_NAMES = ("keyboard | gamepad[:/dev/input/eventN] | spacemouse[:PATH] | leader:PORT:CALIBRATION.yaml | expert "
                "| <policy.onnx>")


def dataset_writer(out: str | os.PathLike, env, image: bool = False) -> LeRobotWriter:
    """A writer creating (or resuming) the dataset at `out` for `env`'s robot: its rate, command names, the
    task's state size and, with `image`, the camera (`env` must then observe images)."""
    spec = env.unwrapped.robot.spec
    n = env.unwrapped.observation_space["state"].shape[0] if image else env.observation_space.shape[0]
    return LeRobotWriter(out, spec.control_rate_hz, spec.name, [f"state_{i}" for i in range(n)],
                         spec.command_names, spec.image_shape if image else None)


def open_source(by: str, env) -> tuple[ActionSource, Any]:
    """The action source named `by` (see SOURCE_NAMES) and the device to close afterwards (or None)."""
    if by == "expert":
        from robolearn.teleop.sources import expert_of

        return policy_source(expert_of(env)), None
    if by.endswith(".onnx"):
        from robolearn.export.runtime import PolicyRuntime

        runtime = PolicyRuntime(by)

        def act(obs) -> np.ndarray:
            return runtime.action(np.asarray(obs["state"] if isinstance(obs, dict) else obs, np.float32))

        return policy_source(act), None
    if by.startswith("leader:"):
        from robolearn.teleop.leader_arm import LeaderFollowSource, open_leader

        leader = open_leader(by, env)
        try:
            return LeaderFollowSource(leader, env), leader
        except BaseException:
            leader.close()
            raise
    from robolearn.teleop import TeleopSource
    from robolearn.teleop.devices import open_device

    device = open_device(by, env.action_space.shape[0])
    return TeleopSource(device), device


def record_episodes(env, writer: LeRobotWriter, by: str, episodes: int, *, seed: int, task: str,
                    keep_on_failure: bool = False, prefix: str = "  ") -> None:
    """Record `episodes` kept episodes from the source named `by` into `writer`'s dataset, each reported on a
    line starting with `prefix`; episode seeds continue from `seed` after the episodes already there. The
    source's device is closed however it ends; a Ctrl-C leaves the finished episodes in the dataset."""
    start = int(writer.info["total_episodes"])
    source, device = open_source(by, env)

    def report(written: int, episode) -> None:
        if episode is None:
            print(f"{prefix}episode discarded, recording it again", flush=True)
        else:
            print(f"{prefix}episode {start + written - 1}: {len(episode)} steps at {episode.achieved_rate_hz:.1f} Hz, "
                  f"{int(episode.interventions.sum())} human steps, success={episode.success}", flush=True)

    try:
        record_dataset(env, source, episodes, writer.add, seed=seed + start, task=task, on_episode=report,
                       keep_on_failure=keep_on_failure)
    finally:
        if device is not None:
            device.close()
