"""`robolearn record`: record episodes in the sim (or on a robot) into a LeRobot v3 dataset.

Every action, from a human or a policy, goes through the robot's safety layer; each step keeps the
requested and the applied action, the measured time and an intervention flag. Episodes are written one
by one: Ctrl-C loses only the episode in progress, and running the same command again resumes the dataset.
Keys: Enter marks success, Backspace failure, x discards (gamepad: A / B / Y).

examples:
  robolearn record ArmReach --by expert --episodes 10 --out data/reach
  robolearn record ArmReach --by keyboard --episodes 10 --out data/reach --image
  robolearn record ArmReach --by policy.onnx --episodes 5 --out data/reach-policy
  robolearn record ArmReach --by leader:/dev/ttyACM1:leader.yaml --episodes 10 --out data/real \
      --port /dev/ttyACM0 --calibration calibration/so101_arm/arm.yaml      # on the real arm
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np

from robolearn.cli import robot_target


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task", help="task by id or short name, e.g. ArmReach")
    parser.add_argument("--by", required=True, metavar="SOURCE",
                        help="keyboard | gamepad[:/dev/input/eventN] | spacemouse[:PATH] | leader:PORT:CALIBRATION.yaml "
                             "| expert | <policy.onnx>")
    parser.add_argument("--episodes", type=int, required=True, help="episodes to keep (discarded ones are redone)")
    parser.add_argument("--out", required=True, help="dataset folder (created, or resumed when it exists)")
    parser.add_argument("--image", action="store_true", help="record the camera (as mp4 video)")
    parser.add_argument("--keep-on-unplug", action="store_true",
                        help="keep an episode's steps when the teleop device fails mid-episode (default: discard)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first episode (default 0)")
    parser.add_argument("--task-text", default=None,
                        help="the task's description stored with each episode (default: the task's name)")
    robot_target.add_arguments(parser)


def make_source(by: str, env):
    """The action source named by --by, and the device to close afterwards (or None)."""
    from robolearn.data.episodes import policy_source

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
        return _leader_source(by, env)
    from robolearn.teleop import TeleopSource
    from robolearn.teleop.devices import open_device

    device = open_device(by, env.action_space.shape[0])
    return TeleopSource(device), device


def _leader_source(by: str, env):
    from robolearn.calibration.motors import ArmCalibration
    from robolearn.hardware.factory import BUS_CLASSES
    from robolearn.teleop.leader_arm import LeaderArm, LeaderFollowSource

    parts = by.split(":", 2)
    if len(parts) != 3 or not parts[1] or not parts[2]:
        raise ValueError(f"--by {by}: a leader arm is given as leader:PORT:CALIBRATION.yaml, e.g. "
                         f"leader:/dev/ttyACM1:calibration/so101_arm/leader_01.yaml")
    calibration = ArmCalibration.load(parts[2])
    leader = LeaderArm(BUS_CLASSES[calibration.bus](parts[1]), calibration, env.unwrapped.robot.spec.command_names)
    leader.open()
    return LeaderFollowSource(leader, env), leader


def run(args: argparse.Namespace) -> int:
    from robolearn.data.episodes import record_dataset
    from robolearn.data.lerobot_format import LeRobotWriter

    if args.episodes <= 0:
        raise ValueError(f"--episodes must be > 0, got {args.episodes}")
    env = robot_target.task_env(args, args.task, args.image)
    device = None
    try:
        spec = env.unwrapped.robot.spec
        n = env.unwrapped.observation_space["state"].shape[0] if args.image else env.observation_space.shape[0]
        writer = LeRobotWriter(args.out, spec.control_rate_hz, spec.name, [f"state_{i}" for i in range(n)],
                               spec.command_names, spec.image_shape if args.image else None)
        start = int(writer.info["total_episodes"])
        source, device = make_source(args.by, env)

        def report(written: int, episode) -> None:
            if episode is None:
                print("  episode discarded, recording it again", flush=True)
            else:
                print(f"  episode {start + written - 1}: {len(episode)} steps at {episode.achieved_rate_hz:.1f} Hz, "
                      f"{int(episode.interventions.sum())} human steps, success={episode.success}", flush=True)

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("always", RuntimeWarning)
                record_dataset(env, source, args.episodes, writer.add, seed=args.seed + start,
                               task=args.task_text or args.task, on_episode=report,
                               keep_on_failure=args.keep_on_unplug)
        except KeyboardInterrupt:
            kept = int(writer.info["total_episodes"])
            print(f"interrupted: {kept} episodes are saved in {Path(args.out)}; run the same command to add more")
            return 130
        print(f"recorded {args.episodes} episodes into {args.out} ({writer.info['total_episodes']} in total)")
        return 0
    finally:
        if device is not None:
            device.close()
        env.close()
