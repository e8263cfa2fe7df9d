"""Starting Ray: locally by default, or a cluster at an address, with the same calls above it."""

from __future__ import annotations

import logging
import os
from types import ModuleType

INSTALL_HINT = "pip install 'robolearn[ray]'"


def require_ray() -> ModuleType:
    """The `ray` module, or an ImportError that says how to add it."""
    try:
        import ray
    except ModuleNotFoundError as exc:
        if exc.name != "ray":
            raise
        raise ImportError(f"scaling out (--workers, --seeds, --sweep) needs Ray, which this install lacks: "
                          f"{INSTALL_HINT}") from None
    return ray


def start_ray(address: str | None = None, num_cpus: int | None = None) -> ModuleType:
    """Connect to the cluster at `address`, or start a local Ray limited to `num_cpus` CPUs.

    Local Ray binds to 127.0.0.1 only, starts no dashboard and sends no usage statistics, so a local run
    talks to nothing beyond loopback. A cluster address (`ray://host:10001` or `host:6379`) runs the same
    workers there; robolearn must be installed on every node. Calling it again reuses the running Ray.
    """
    ray = require_ray()
    if ray.is_initialized():
        return ray
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # Ray would otherwise report usage over the internet
    if num_cpus is not None and num_cpus < 1:
        raise ValueError(f"Ray needs at least 1 CPU, got num_cpus={num_cpus}")
    if address:
        try:
            ray.init(address=address, logging_level=logging.WARNING)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ConnectionError(f"cannot join the Ray cluster at {address!r}: {exc}. Check --ray-address "
                                  "(ray://HOST:10001, or HOST:6379 on a node of the cluster) and that `ray start "
                                  "--head` runs there") from None
    else:
        ray.init(num_cpus=num_cpus, include_dashboard=False, _node_ip_address="127.0.0.1",
                 logging_level=logging.WARNING)
    return ray
