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

from robolearn.cli import robot_target
from robolearn.data.recording import SOURCE_NAMES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task", help="task by id or short name, e.g. ArmReach")
    parser.add_argument("--by", required=True, metavar="SOURCE", help=SOURCE_NAMES)
    parser.add_argument("--episodes", type=int, required=True, help="episodes to keep (discarded ones are redone)")
    parser.add_argument("--out", required=True, help="dataset folder (created, or resumed when it exists)")
    parser.add_argument("--image", action="store_true", help="record the camera (as mp4 video)")
    parser.add_argument("--keep-on-unplug", action="store_true",
                        help="keep an episode's steps when the teleop device fails mid-episode (default: discard)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first episode (default 0)")
    parser.add_argument("--task-text", default=None,
                        help="the task's description stored with each episode (default: the task's name)")
    robot_target.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from robolearn.data.recording import dataset_writer, record_episodes

    if args.episodes <= 0:
        raise ValueError(f"--episodes must be > 0, got {args.episodes}")
    env = robot_target.task_env(args, args.task, args.image)
    try:
        writer = dataset_writer(args.out, env, args.image)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("always", RuntimeWarning)
                record_episodes(env, writer, args.by, args.episodes, seed=args.seed,
                                task=args.task_text or args.task, keep_on_failure=args.keep_on_unplug)
        except KeyboardInterrupt:
            kept = int(writer.info["total_episodes"])
            print(f"interrupted: {kept} episodes are saved in {Path(args.out)}; run the same command to add more")
            return 130
        print(f"recorded {args.episodes} episodes into {args.out} ({writer.info['total_episodes']} in total)")
        return 0
    finally:
        env.close()
