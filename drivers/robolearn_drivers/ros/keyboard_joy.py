"""`robolearn-keyboard-joy`: the terminal keyboard as a sensor_msgs/Joy publisher, so a human can take over a
robot whose training node runs under `ros2 launch` (which has no terminal to read), as teleop_twist_keyboard
does for Twist. Run it in a terminal of its own, in the robot's namespace:

    robolearn-keyboard-joy --ros-args -r __ns:=/arm -p axes:=6

The keys are `robolearn teleop`'s (robolearn/teleop/keyboard.py): q/a, w/s, ... push axis 0, 1, ... towards
+1/-1 while held; Enter marks success (button 0), Backspace failure (button 1), x discards (button 3).
Messages go out at `rate_hz` (default 20, joy_node's autorepeat rate) whether or not a key is held, so the
reader can tell a silent input from an idle one. Ctrl-C ends it and restores the terminal.
"""

from __future__ import annotations

import sys
import time

import rclpy
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import Joy

from robolearn.teleop.base import DeviceUnplugged
from robolearn.teleop.keyboard import TerminalKeyboard
from robolearn_drivers.ros import qos
from robolearn_drivers.ros.joy_teleop import BUTTON_EVENTS, DEFAULT_TOPIC

BUTTONS = {event: index for index, event in BUTTON_EVENTS.items()}


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=sys.argv if args is None else args, signal_handler_options=SignalHandlerOptions.NO)
    node = rclpy.create_node("keyboard_joy")
    try:
        axes = int(node.declare_parameter("axes", 6).value)
        rate_hz = float(node.declare_parameter("rate_hz", 20.0).value)
        topic = str(node.declare_parameter("topic", DEFAULT_TOPIC).value)
        if rate_hz <= 0:
            raise ValueError(f"rate_hz must be > 0, got {rate_hz}")
        publisher = node.create_publisher(Joy, topic, qos.TELEOP_PUB)
        keyboard = TerminalKeyboard(axes)
    except (ValueError, OSError) as exc:
        print(f"keyboard_joy: error: {exc}", file=sys.stderr)
        node.destroy_node()
        rclpy.try_shutdown()
        return 1
    # The terminal is raw now: a newline alone does not return the carriage.
    sys.stderr.write(f"keyboard_joy: publishing {axes} axes on {publisher.topic_name} at {rate_hz:g} Hz; "
                     f"q/a, w/s, ... move, Enter success, Backspace failure, x discard, Ctrl-C quits\r\n")
    try:
        while True:
            reading = keyboard.read()
            buttons = [0] * (max(BUTTONS.values()) + 1)
            if reading.event is not None:
                buttons[BUTTONS[reading.event]] = 1
            message = Joy(axes=[float(v) for v in reading.action], buttons=buttons)
            message.header.stamp = node.get_clock().now().to_msg()
            publisher.publish(message)
            time.sleep(1.0 / rate_hz)
    except KeyboardInterrupt:
        return 0
    except DeviceUnplugged as exc:  # the terminal closed: the silence tells the reader to stop the robot
        print(f"keyboard_joy: {exc}", file=sys.stderr)
        return 1
    finally:
        keyboard.close()
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    raise SystemExit(main())
