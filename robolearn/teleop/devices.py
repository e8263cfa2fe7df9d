"""Open a teleop device by the name users type: keyboard, gamepad[:PATH], spacemouse[:PATH]."""

from __future__ import annotations

from pathlib import Path

from robolearn.teleop.base import TeleopDevice

DEVICE_NAMES = ("keyboard", "gamepad", "spacemouse")


def open_device(name: str, action_size: int) -> TeleopDevice:
    """`keyboard` (this terminal), `gamepad:/dev/input/eventN`, `spacemouse:/dev/input/eventN` (the first
    matching /dev/input/by-id node when no path is given)."""
    kind, _, path = name.partition(":")
    if kind == "keyboard":
        from robolearn.teleop.keyboard import TerminalKeyboard

        return TerminalKeyboard(action_size)
    if kind in ("gamepad", "spacemouse"):
        from robolearn.teleop import gamepad

        node = path or _find_node(kind)
        if kind == "gamepad":
            return gamepad.EvdevGamepad(action_size, path=node)
        return gamepad.EvdevGamepad(action_size, path=node, axes=gamepad.SPACEMOUSE_AXES, axis_range=(-350, 350))
    raise ValueError(f"unknown teleop device {name!r}: choose one of {list(DEVICE_NAMES)} "
                     f"(gamepad and spacemouse take :/dev/input/eventN)")


def _find_node(kind: str) -> str:
    pattern = "*event-joystick" if kind == "gamepad" else "*3Dconnexion*event*"
    nodes = sorted(Path("/dev/input/by-id").glob(pattern)) if Path("/dev/input/by-id").is_dir() else []
    if not nodes:
        raise ValueError(f"no {kind} found under /dev/input/by-id: plug it in or give {kind}:/dev/input/eventN "
                         f"(and make sure you may read it: the 'input' group)")
    return str(nodes[0])
