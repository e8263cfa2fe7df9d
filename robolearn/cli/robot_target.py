"""`--port` (with `--calibration`, `--limits`, `--camera`): run a command's task on the real robot instead of
its simulation. The task, its observation and its episodes are the same (robolearn.envs.registry.make_robot_env),
and every command still passes the robot's safety layer; only the Robot behind the env changes."""

from __future__ import annotations

import argparse

import gymnasium as gym


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("on the real robot (default: the simulation)")
    group.add_argument("--port", help="serial port of the robot, e.g. /dev/ttyACM0: drive the real robot")
    group.add_argument("--calibration", help="the arm's motor calibration file (`robolearn calibrate motors`)")
    group.add_argument("--limits", help="safety limits file (default calibration/<robot>/limits.yaml)")
    group.add_argument("--camera", help="camera device index or path (with --image on the real robot)")


def task_env(args: argparse.Namespace, task: str, image: bool = False) -> gym.Env:
    """The task's env: on the real robot when `--port` is given, else in simulation."""
    from robolearn.envs.registry import make_env

    if not args.port:
        extra = [f"--{name}" for name in ("calibration", "limits", "camera") if getattr(args, name)]
        if extra:
            raise ValueError(f"{' and '.join(extra)} describe the real robot: add --port PORT to drive it "
                             "(without --port the task runs in simulation)")
        return make_env(task, image=True) if image else make_env(task)
    from robolearn.envs.registry import make_robot_env
    from robolearn.hardware.factory import make_hardware_robot
    from robolearn.tasks.registry import task_entry

    camera = None
    if image:
        if not args.camera:
            raise ValueError("--image on the real robot needs --camera DEVICE (an index such as 0, or a path)")
        from robolearn.hardware.camera import OpenCVCamera

        camera = OpenCVCamera(int(args.camera) if args.camera.isdigit() else args.camera)
    elif args.camera:
        raise ValueError("--camera is read only with --image: add --image, or drop --camera")
    robot = make_hardware_robot(task_entry(task).robot, args.port, args.calibration, limits=args.limits,
                                camera=camera)
    return make_robot_env(task, robot, image=image)
