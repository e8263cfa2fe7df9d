"""Runs one node until SIGINT/SIGTERM, then lets it stop its actuators while ROS still works.

rclpy's own signal handler shuts the context down before user code runs, so a node could no longer
publish its final stop command; we install our own handlers and shut ROS down ourselves afterwards.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Callable

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions


def run_node(make_node: Callable[[], Node], args: list[str] | None = None) -> int:
    """Spin the node made by `make_node`; on exit call its `on_shutdown()` (if any) before ROS goes down."""
    rclpy.init(args=sys.argv if args is None else args, signal_handler_options=SignalHandlerOptions.NO)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    node = None
    try:
        node = make_node()
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        while not stop.is_set() and rclpy.ok():
            executor.spin_once(timeout_sec=0.05)
    finally:
        if node is not None:
            on_shutdown = getattr(node, "on_shutdown", None)
            if on_shutdown is not None:
                on_shutdown()
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
