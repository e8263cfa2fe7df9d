"""A learner process for tests/test_link.py: a tiny linear regressor behind a real LearnerServer.

Run as a script (a separate process); prints `PORT <n>` once listening, the final stats as JSON on exit.
`--update-s` makes every update take that long, standing in for a slow GPU step.
"""

import argparse
import json
import sys
import threading
import time

import numpy as np

from robolearn.link.handshake import Identity
from robolearn.link.learner import LearnerServer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--key", required=True)
    parser.add_argument("--config-hash", default="cfg")
    parser.add_argument("--update-s", type=float, default=0.0)
    parser.add_argument("--heartbeat-s", type=float, default=0.05)
    parser.add_argument("--actor-timeout-s", type=float, default=1.0)
    args = parser.parse_args()
    server = LearnerServer(Identity(bytes.fromhex(args.key), args.config_hash, "pendulum", "swingup"),
                           heartbeat_s=args.heartbeat_s, actor_timeout_s=args.actor_timeout_s)
    print(f"PORT {server.address[1]}", flush=True)
    weights = {"w": np.zeros((3, 1), np.float32)}

    def update(batch):
        time.sleep(args.update_s)
        residual = batch["obs"] @ weights["w"] - batch["target"]
        weights["w"] -= 0.1 * batch["obs"].T @ residual / len(residual)
        return weights

    stdin_closed = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stdin_closed.set()), daemon=True).start()
    server.serve(update, until=stdin_closed.is_set)
    server.close()
    stats = server.stats
    print(json.dumps({"received": stats.received, "duplicates": stats.duplicates, "gaps": stats.gaps,
                      "weights_sent": stats.weights_sent, "refused": stats.refused}), flush=True)


if __name__ == "__main__":
    main()
