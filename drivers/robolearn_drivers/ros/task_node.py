"""What the task nodes on the robot (train_on_robot, record_on_robot) share: their parameters, the task and
robot they name, and the task's RobotEnv on the robot behind ROS topics (RosRobot)."""

from __future__ import annotations

import sys
from typing import Any, Mapping

import rclpy
from rclpy.signals import SignalHandlerOptions


def read_parameters(node_name: str, defaults: Mapping[str, Any], args: list[str] | None) -> tuple[dict, str]:
    """The node's parameters and namespace, read by a short-lived node (RosRobot runs its own)."""
    rclpy.init(args=sys.argv if args is None else args, signal_handler_options=SignalHandlerOptions.NO)
    try:
        node = rclpy.create_node(node_name)
        values = {name: node.declare_parameter(name, default).value for name, default in defaults.items()}
        namespace = node.get_namespace()
        node.destroy_node()
    finally:
        rclpy.try_shutdown()
    return values, namespace


def task_and_model(params: Mapping[str, Any]):
    """The task entry of the `task` parameter and the robot model, refusing a `robot_model` the task is not
    written for."""
    from robolearn.tasks.registry import task_entry

    entry = task_entry(str(params["task"]))
    model = str(params["robot_model"]) or entry.robot
    if model != entry.robot:
        raise ValueError(f"task {entry.id} is written for {entry.robot}, not robot_model={model!r}")
    return entry, model


def ros_env(model: str, namespace: str, task_id: str):
    """The task's RobotEnv on the robot behind ROS topics (RosRobot); picklable by name for an actor process."""
    from robolearn.envs.registry import make_robot_env
    from robolearn_drivers.ros.ros_robot import RosRobot

    return make_robot_env(task_id, RosRobot.for_model(model, namespace=namespace))
