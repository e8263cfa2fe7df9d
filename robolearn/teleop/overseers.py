"""Open the overseer of a HIL-SERL run by the name users type after `--intervene`.

keyboard, gamepad[:PATH] and spacemouse[:PATH] take over while the human touches them (`TakeoverSource`);
leader:PORT:CALIBRATION.yaml takes over while the leader arm moves (`LeaderTakeover`); simulated is the
task's scripted expert standing in for a human (`SimulatedHuman`: tests, benchmarks, dry runs in the sim).
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Mapping

import gymnasium as gym

from robolearn.teleop.base import TeleopDevice
from robolearn.teleop.intervention import InterventionWrapper, Overseer

OVERSEER_NAMES = ("keyboard", "gamepad[:PATH]", "spacemouse[:PATH]", "leader:PORT:CALIBRATION.yaml", "simulated")
# A device a layer above adds by name (the ROS nodes' `joy`): name -> open(argument after ':', action size).
DeviceOpener = Callable[[str, int], TeleopDevice]


def open_overseer(name: str, env: gym.Env, devices: Mapping[str, DeviceOpener] | None = None
                  ) -> tuple[Overseer, Any]:
    """(overseer, the device to close afterwards or None) for `env`; a bad name is refused with the choices.
    `devices` adds input devices by name (e.g. `joy`, sensor_msgs/Joy read by the ROS nodes)."""
    from robolearn.teleop.sources import TakeoverSource

    kind, _, argument = name.partition(":")
    if devices and kind in devices:
        device = devices[kind](argument, env.action_space.shape[0])
        return TakeoverSource(None, device), device
    if name == "simulated":
        from robolearn.tasks.base import task_of
        from robolearn.teleop.sources import SimulatedHuman, expert_of

        task = task_of(env)
        if task is None or not task.has_expert:
            raise ValueError("--intervene simulated needs the task's scripted expert, and this task has none: "
                             "intervene with a device (keyboard, gamepad, spacemouse, leader:PORT:CALIBRATION.yaml)")
        return SimulatedHuman(None, expert_of(env)), None
    if name.startswith("leader"):
        from robolearn.teleop.leader_arm import LeaderFollowSource, LeaderTakeover, open_leader

        leader = open_leader(name, env)
        try:
            return LeaderTakeover(LeaderFollowSource(leader, env)), leader
        except BaseException:
            leader.close()
            raise
    from robolearn.teleop.devices import DEVICE_NAMES, open_device

    if kind not in DEVICE_NAMES:
        choices = OVERSEER_NAMES + tuple(f"{extra}[:TOPIC]" for extra in devices or ())
        hint = "" if devices else " (joy, a sensor_msgs/Joy topic, is read by the ROS nodes: intervene:=joy)"
        raise ValueError(f"--intervene {name!r}: choose one of {', '.join(choices)}{hint}")
    device = open_device(name, env.action_space.shape[0])
    return TakeoverSource(None, device), device


def check_overseen(learner_cls: Any, name: str | None, label_reward: bool, apart: bool = False) -> None:
    """Refuse, before anything starts, an overseer the run cannot use: a learner that does not train on
    takeovers (`takes_interventions`), or an env stepped `apart` from this process (an actor process, workers)."""
    if label_reward and not name:
        raise ValueError("--label-reward takes the reward from the human's success key: add --intervene DEVICE")
    if not name:
        return
    if not getattr(learner_cls, "takes_interventions", False):
        raise ValueError(f"--intervene: {learner_cls.algo} does not learn from human takeovers; use --algo sac")
    if apart:
        raise ValueError("--intervene needs the human next to the one env this process trains on: drop --async "
                         "(async_actor, learner_address), --workers and sweeps")


@contextlib.contextmanager
def overseen(env: gym.Env, name: str | None, label_reward: bool = False,
             devices: Mapping[str, DeviceOpener] | None = None):
    """`env` with the overseer `name` able to take over every step (InterventionWrapper), or `env` itself
    when `name` is None; the device is closed (the terminal restored) when the block ends. `devices` as
    for `open_overseer`."""
    if not name:
        check_overseen(None, name, label_reward)
        yield env
        return
    overseer, device = open_overseer(name, env, devices)
    try:
        yield InterventionWrapper(env, overseer, label_reward=label_reward)
    finally:
        if device is not None:
            device.close()
