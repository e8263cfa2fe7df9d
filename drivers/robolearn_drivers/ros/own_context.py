"""An rclpy node on a Context of its own, spun by a daemon thread: how a library object (RosRobot, the Joy
teleop reader) lives in any process, next to other ROS code, without calling the process-wide rclpy.init
or taking over its SIGINT (the caller's Ctrl-C stays a KeyboardInterrupt)."""

from __future__ import annotations

import threading

import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions


class OwnContextNode:
    """`node` is ready for publishers and subscriptions; `start()` begins spinning, `close()` ends it all."""

    def __init__(self, name: str, namespace: str = "") -> None:
        self.context: Context | None = Context()
        rclpy.init(context=self.context, signal_handler_options=SignalHandlerOptions.NO)
        self.node: Node = rclpy.create_node(name, namespace=namespace, context=self.context)
        self._executor = SingleThreadedExecutor(context=self.context)
        self._executor.add_node(self.node)
        self._spinning = False
        self._thread = threading.Thread(target=self._spin, name=f"{name}-spin", daemon=True)

    def start(self) -> None:
        self._spinning = True
        self._thread.start()

    def _spin(self) -> None:
        while self._spinning and self.context is not None and self.context.ok():
            self._executor.spin_once(timeout_sec=0.02)

    def close(self) -> None:
        if self.context is None:
            return
        self._spinning = False
        if self._thread.is_alive():
            self._thread.join(5.0)
        self.node.destroy_node()
        self.context.try_shutdown()
        self.context = None
