"""`robolearn teleop`: drive a task's robot with a teleop device, through the safety layer, without recording.

Keys: q/a, w/s, e/d, ... move action entries 0, 1, 2, ...; arrows entries 0 and 1; space holds; Enter or
Backspace starts a new episode; Ctrl-C stops the robot and exits.

examples:
  robolearn teleop ArmReach --by keyboard
  robolearn teleop BaseGoal --by gamepad:/dev/input/event5
  robolearn teleop ArmReach --by keyboard --port /dev/ttyACM0 --calibration calibration/so101_arm/arm.yaml
"""

from __future__ import annotations

import argparse

from robolearn.cli import robot_target


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task", help="task by id or short name, e.g. ArmReach")
    parser.add_argument("--by", default="keyboard", help="keyboard | gamepad[:PATH] | spacemouse[:PATH]")
    parser.add_argument("--episodes", type=int, default=0, help="stop after this many episodes (0: until Ctrl-C)")
    robot_target.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from robolearn.data.episodes import record_episode
    from robolearn.teleop import TeleopSource
    from robolearn.teleop.devices import open_device

    env = robot_target.task_env(args, args.task)
    try:
        with open_device(args.by, env.action_space.shape[0]) as device:
            count = 0
            while args.episodes <= 0 or count < args.episodes:
                episode = record_episode(env, TeleopSource(device), seed=count)
                count += 1
                if episode is not None:
                    print(f"episode {count}: {len(episode)} steps, return {float(episode.rewards.sum()):.2f}\r")
    except KeyboardInterrupt:
        print("stopped")
    finally:
        env.close()
    return 0
