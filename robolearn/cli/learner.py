"""`robolearn learner <task> --listen HOST:PORT`: run SAC's updates for an actor that connects over the link.

Examples:
    ROBOLEARN_LINK_KEY=$(cat link.key) robolearn learner ArmReach --config configs/sac_main.yaml --listen 0.0.0.0:50051
    robolearn actor ArmReach --config configs/sac_main.yaml --connect gpu-box:50051 --key-file link.key
"""

from __future__ import annotations

import argparse
import time

from robolearn.learners.sac import SAC
from robolearn.link.learner import LearnerServer
from robolearn.link.sac_adapter import SacLinkLearner
from robolearn.link.session import identity, parse_address, read_key, tls_context
from robolearn.training import load_config, make_env


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task", help="task id or short name; must match the actor's")
    parser.add_argument("--config", help="SAC config YAML; must match the actor's (checked at the handshake)")
    parser.add_argument("--listen", default="127.0.0.1:50051", help="HOST:PORT to listen on (default %(default)s)")
    parser.add_argument("--key-file", help="shared key, hex (default: $ROBOLEARN_LINK_KEY)")
    parser.add_argument("--publish-every", type=int, default=4, help="update rounds between weight broadcasts")
    parser.add_argument("--utd-cap", type=float, default=1.0, help="at most this many update rounds per transition")
    parser.add_argument("--heartbeat", type=float, default=0.1, help="seconds between heartbeats")
    parser.add_argument("--actor-timeout", type=float, default=2.0, help="seconds of silence before the actor "
                                                                          "is declared lost")
    parser.add_argument("--tls-cert"), parser.add_argument("--tls-key"), parser.add_argument("--tls-ca")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seconds", type=float, default=0.0, help="stop after this long (0: until Ctrl-C)")


def run(args: argparse.Namespace) -> int:
    host, port = parse_address(args.listen)
    config = load_config(SAC, args.config, None)
    env = make_env(args.task)
    try:
        adapter = SacLinkLearner(SAC(env, config, args.device), args.publish_every, args.utd_cap)
        server = LearnerServer(identity(read_key(args.key_file), config, env, args.task), host, port,
                               args.heartbeat, args.actor_timeout,
                               ssl_context=tls_context(True, args.tls_cert, args.tls_key, args.tls_ca))
        print(f"learner listening on {server.address[0]}:{server.address[1]} for task {args.task}", flush=True)
        end = time.monotonic() + args.seconds if args.seconds > 0 else float("inf")
        try:
            server.serve(adapter, until=lambda: time.monotonic() > end)
        finally:
            server.close()
            s = server.stats
            print(f"learner: {s.received} transitions, {s.duplicates} duplicates dropped, {s.gaps} lost, "
                  f"{adapter.sac.updates} update rounds (UTD {adapter.update_to_data:.2f}), "
                  f"{s.weights_sent} weight sets sent", flush=True)
    finally:
        env.close()
    return 0
