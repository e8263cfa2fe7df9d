"""A human's input as ROS users already publish it: sensor_msgs/Joy on a topic, read as a teleop device.

`ros2 launch` gives its nodes no terminal, so a keyboard cannot be read by the training node itself. As with
teleop_twist_keyboard, the human runs an input node in a terminal of their own (`robolearn-keyboard-joy`,
or `joy_node` for a gamepad, `spacenav_node` for a SpaceMouse) and `train_on_robot intervene:=joy` reads its
Joy messages here:

- axes[0..n-1] are the task's action entries in [-1, 1] (a dead zone drops resting sticks); the human
  takes over while any of them is non-zero;
- buttons[0] marks success, buttons[1] failure and buttons[3] discards the episode (A, B and Y on the pads
  joy_node reads), each on its press;
- the input is lost when its publisher goes away, or when it falls silent for `silent_s` during a takeover:
  `DeviceUnplugged`, and the training loop stops the robot.

Runs on its own rclpy Context (OwnContextNode, as RosRobot), so it can live next to other ROS code.
"""

from __future__ import annotations

import threading
import time

import numpy as np
from sensor_msgs.msg import Joy

from robolearn.teleop.base import DeviceUnplugged, TeleopDevice, TeleopReading
from robolearn_drivers.ros import qos
from robolearn_drivers.ros.own_context import OwnContextNode

DEFAULT_TOPIC = "joy"
BUTTON_EVENTS = {0: "success", 1: "failure", 3: "discard"}


class JoyTeleop(TeleopDevice):
    def __init__(self, action_size: int, topic: str = DEFAULT_TOPIC, namespace: str = "",
                 dead_zone: float = 0.1, silent_s: float = 0.5, wait_s: float = 10.0) -> None:
        super().__init__(action_size)
        self.dead_zone, self.silent_s = dead_zone, silent_s
        self._lock = threading.Lock()
        self._axes = np.zeros(action_size)
        self._pressed: set[int] = set()
        self._events: list[str] = []
        self._last: float | None = None
        self._active = False
        self._ros = OwnContextNode("joy_teleop", namespace)
        self._subscription = self._ros.node.create_subscription(Joy, topic, self._on_joy, qos.TELEOP)
        self.topic = self._subscription.topic_name
        self._ros.start()
        deadline = time.monotonic() + wait_s
        while self._subscription.get_publisher_count() == 0:
            if time.monotonic() > deadline:
                self.close()
                raise DeviceUnplugged(
                    f"nobody publishes sensor_msgs/Joy on {self.topic} (waited {wait_s:g} s): start "
                    f"`robolearn-keyboard-joy` in a terminal (or joy_node for a gamepad) with that topic")
            time.sleep(0.02)

    def _on_joy(self, msg: Joy) -> None:
        axes = np.zeros(self.action_size)
        given = np.asarray(msg.axes[: self.action_size], dtype=np.float64)
        axes[: given.size] = np.clip(np.nan_to_num(given, nan=0.0), -1.0, 1.0)
        axes[np.abs(axes) < self.dead_zone] = 0.0
        pressed = {i for i, value in enumerate(msg.buttons) if value}
        with self._lock:
            self._events += [BUTTON_EVENTS[i] for i in sorted(pressed - self._pressed) if i in BUTTON_EVENTS]
            self._pressed = pressed
            self._axes = axes
            self._last = time.monotonic()

    def read(self) -> TeleopReading:
        if self._subscription.get_publisher_count() == 0 and self._last is not None:
            raise DeviceUnplugged(f"the teleop input on {self.topic} went away (its publisher stopped)")
        with self._lock:
            if self._active and self._last is not None and time.monotonic() - self._last > self.silent_s:
                raise DeviceUnplugged(f"the teleop input on {self.topic} fell silent for more than "
                                      f"{self.silent_s:g} s during a takeover")
            event = self._events.pop(0) if self._events else None
            action = self._axes.copy()
        self._active = bool(np.any(action != 0.0))
        return TeleopReading(action, self._active, event)

    def close(self) -> None:
        self._ros.close()
