"""Record episodes on a robot through ROS: RosRobot + the task's RobotEnv + `robolearn record`'s own setup.

Started by record.launch.py next to a driver (or sim) node in the same namespace. Parameters (from YAML):
robot_model, task, by (expert | gamepad:PATH | spacemouse:PATH | leader:PORT:CALIBRATION.yaml | policy.onnx;
a keyboard needs a terminal, which a launched node does not have), episodes, out, seed, keep_on_unplug.
Episodes are flushed one by one into a LeRobot v3 dataset with the same features as `robolearn record` in the
sim; Ctrl-C stops the robot and keeps the finished episodes, and relaunching resumes the dataset.
"""

from __future__ import annotations

import sys

from robolearn_drivers.ros.task_node import read_parameters, ros_env, task_and_model

DEFAULTS = {"robot_model": "", "task": "", "by": "expert", "episodes": 10, "out": "", "seed": 0,
            "keep_on_unplug": False}


def record(params: dict, namespace: str) -> int:
    """Record `episodes` kept episodes into `out`; returns the dataset's episode count."""
    from robolearn.data.recording import dataset_writer, record_episodes

    entry, model = task_and_model(params)
    out, episodes = str(params["out"]), int(params["episodes"])
    if not out:
        raise ValueError("set the parameter out:=<dataset folder> (created, or resumed when it exists)")
    if episodes <= 0:
        raise ValueError(f"episodes must be > 0, got {episodes}")
    env = ros_env(model, namespace, entry.id)
    try:
        writer = dataset_writer(out, env)
        record_episodes(env, writer, str(params["by"]), episodes, seed=int(params["seed"]), task=entry.id,
                        keep_on_failure=bool(params["keep_on_unplug"]), prefix="record_on_robot: ")
        return int(writer.info["total_episodes"])
    finally:
        env.close()


def main(args: list[str] | None = None) -> int:
    params, namespace = read_parameters("record_on_robot", DEFAULTS, args)
    try:
        total = record(params, namespace)
    except KeyboardInterrupt:
        print(f"record_on_robot: the robot was stopped; the finished episodes are saved in {params['out']}",
              file=sys.stderr)
        return 130
    except (ValueError, RuntimeError, OSError) as exc:
        print(f"record_on_robot: error: {exc}", file=sys.stderr)
        return 1
    print(f"record_on_robot: {total} episodes in {params['out']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
