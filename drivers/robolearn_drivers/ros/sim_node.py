"""The sim node: the same DriverNode with use_sim defaulting to true, so the PyBullet robot sits behind exactly
the topics, services and parameters of the hardware driver."""

from __future__ import annotations

from robolearn_drivers.ros.driver_node import DriverNode
from robolearn_drivers.ros.node_main import run_node


def main(args: list[str] | None = None) -> int:
    return run_node(lambda: DriverNode("sim_driver", use_sim_default=True), args)


if __name__ == "__main__":
    raise SystemExit(main())
