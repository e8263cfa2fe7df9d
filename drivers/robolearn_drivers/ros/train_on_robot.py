"""Train a learner on a robot through ROS: RosRobot + the task's RobotEnv + a robolearn learner.

Started by train.launch.py next to a driver (or sim) node in the same namespace. Parameters (from YAML):
robot_model, task, algo, config_file, steps, run_dir, seed, resume, demos (a dataset to train sac/lipbc from, as
`robolearn train --demos`), async_actor (true: the robot's control
loop runs in its own actor process, the learner here, over the loopback link), intervene (sac: a teleop device
with which a human takes over steps, HIL-SERL, as `robolearn train --intervene`; under ros2 launch, which has
no terminal, `joy[:TOPIC]` reads sensor_msgs/Joy from robolearn-keyboard-joy run in a terminal of its own, or
from joy_node), label_reward, and learner_address
(HOST:PORT of a `robolearn learner --listen` on another machine, e.g. a GPU box: then this node is only the robot's
actor, with the shared key from key_file or $ROBOLEARN_LINK_KEY). The checkpoint records the task id, so
`robolearn export <run_dir>/checkpoint.pt` works on it directly. `init_from` (a checkpoint, e.g. trained in
sim) starts a new run from it: fine-tuning on the robot, printing what is kept and what is reset. Ctrl-C stops
the robot and keeps the last checkpoint the learner wrote.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

from robolearn_drivers.ros.task_node import read_parameters, ros_env, task_and_model

DEFAULTS = {"robot_model": "", "task": "", "algo": "avg", "config_file": "", "init_from": "", "steps": 10_000,
            "run_dir": "runs/on_robot", "seed": 0, "device": "auto", "resume": False, "async_actor": False,
            "demos": "", "intervene": "", "label_reward": False, "learner_address": "", "key_file": ""}


def act_for_remote_learner(params: dict, namespace: str) -> None:
    """The robot as the actor of a learner on another machine: policy inference at the control rate here,
    updates there. Raises RuntimeError when the robot had to stop early (lost link, refused handshake)."""
    from robolearn.learners.base import learner_class
    from robolearn.link.acting import run_actor
    from robolearn.link.session import parse_address, read_key
    from robolearn.teleop.overseers import check_overseen
    from robolearn.training import load_config

    entry, model = task_and_model(params)
    learner_cls = learner_class(str(params["algo"]))
    check_overseen(learner_cls, str(params["intervene"]), bool(params["label_reward"]), apart=True)
    config = load_config(learner_cls, str(params["config_file"]) or None, int(params["seed"]))
    host, port = parse_address(str(params["learner_address"]))
    key = read_key(str(params["key_file"]) or None)
    env = ros_env(model, namespace, entry.id)
    try:
        report = run_actor(env, entry.id, str(params["algo"]), config, host, port, key, steps=int(params["steps"]))
    finally:
        env.close()
    if report.stopped_because:
        raise RuntimeError(f"the robot was stopped: {report.stopped_because}")


def train(params: dict, namespace: str) -> Path:
    """One run in `run_dir` through the library's run start (folder lock, seeding, resume checks); a run
    folder that already holds a checkpoint is resumed only when the `resume` parameter says so."""
    from robolearn.learners.base import learner_class
    from robolearn.teleop.overseers import check_overseen, overseen
    from robolearn.training import load_config, open_run, start_or_resume, train_started, with_demonstrations

    entry, model = task_and_model(params)
    learner_cls = learner_class(str(params["algo"]))
    config_file = str(params["config_file"]) or None
    init_from = str(params["init_from"]) or None
    config = load_config(learner_cls, config_file, int(params["seed"]), init_from)
    run_dir = Path(str(params["run_dir"]))
    steps = int(params["steps"])
    intervene, label_reward = str(params["intervene"]), bool(params["label_reward"])
    check_overseen(learner_cls, intervene, label_reward, apart=bool(params["async_actor"]))
    if params["async_actor"]:  # the robot is the actor process's alone; the learner needs only the spaces
        from robolearn.training import make_env

        env = make_env(entry.id)
    else:
        env = ros_env(model, namespace, entry.id)
    demos = str(params["demos"])
    try:
        if demos:
            config = with_demonstrations(learner_cls, config, demos, env)
        with open_run(run_dir), overseen(env, intervene, label_reward, human_inputs(namespace)) as train_env:
            started = start_or_resume(learner_cls, train_env, run_dir, steps=steps, config=config,
                                      resume=bool(params["resume"]), config_given=config_file is not None,
                                      seed_given=True, device=str(params["device"]),
                                      fields_given=[learner_cls.demos_field] if demos else (),
                                      init_from=init_from)
            print(f"train_on_robot: {started.message}")
            hint = "relaunch with the parameter resume:=true"
            if started.learner is not None and params["async_actor"]:
                from robolearn.link.local import train_async

                train_async(started, steps, run_dir, task=entry.id, resume_hint=hint,
                            env_factory=functools.partial(ros_env, model, namespace, entry.id))
            elif started.learner is not None:
                train_started(started, steps, run_dir, resume_hint=hint)
        return started.checkpoint
    finally:
        env.close()


def human_inputs(namespace: str) -> dict:
    """The teleop inputs a node can read besides robolearn's own devices: `joy[:TOPIC]`, sensor_msgs/Joy from
    robolearn-keyboard-joy in a terminal of its own (ros2 launch gives the node none), joy_node or spacenav."""
    from robolearn_drivers.ros.joy_teleop import DEFAULT_TOPIC, JoyTeleop

    return {"joy": lambda topic, action_size: JoyTeleop(action_size, topic or DEFAULT_TOPIC, namespace)}


def main(args: list[str] | None = None) -> int:
    params, namespace = read_parameters("train_on_robot", DEFAULTS, args)
    try:
        if params["learner_address"]:
            act_for_remote_learner(params, namespace)
            print("train_on_robot: the remote learner has the run; this actor is done")
            return 0
        checkpoint = train(params, namespace)
    except KeyboardInterrupt as exc:
        print(f"train_on_robot: the robot was stopped; {exc or 'interrupted'}", file=sys.stderr)
        return 130
    except (ValueError, RuntimeError, OSError, ArithmeticError) as exc:
        print(f"train_on_robot: error: {exc}", file=sys.stderr)
        return 1
    print(f"train_on_robot: checkpoint {checkpoint}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
