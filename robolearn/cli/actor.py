"""`robolearn actor <task> --connect HOST:PORT`: run the policy at the task's control rate, stream its
transitions to a learner and swap in the weights it sends. With `--on-loss stop` the robot is stopped
(the env closed, which stops its actuators) when the learner goes silent; with `continue` it keeps acting
with its last weights and reconnects when the learner is back (a restarted learner gets resent what its
checkpoint lacks).

Example:
    robolearn actor ArmReach --config configs/sac_main.yaml --connect gpu-box:50051 --key-file link.key --steps 20000
"""

from __future__ import annotations

import argparse

from robolearn.cli import robot_target
from robolearn.learners.base import learner_class
from robolearn.link.acting import run_actor
from robolearn.link.session import parse_address, read_key, tls_context
from robolearn.link.training import LINK_ALGOS
from robolearn.training import load_config, make_env


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task", help="task id or short name; must match the learner's")
    parser.add_argument("--algo", default="sac", choices=LINK_ALGOS, help="learner's algorithm (default sac)")
    parser.add_argument("--config", help="config YAML; must match the learner's")
    parser.add_argument("--seed", type=int, help="overrides the config's seed (must match the learner's)")
    parser.add_argument("--image", action="store_true", help="state + camera frames (SAC from pixels)")
    parser.add_argument("--connect", required=True, help="learner HOST:PORT")
    parser.add_argument("--key-file", help="shared key, hex (default: $ROBOLEARN_LINK_KEY)")
    parser.add_argument("--steps", type=int, default=10_000, help="control ticks to run")
    parser.add_argument("--rate", type=float, help="control rate in Hz (default: the task's)")
    parser.add_argument("--on-loss", choices=["continue", "stop"], default="stop",
                        help="when the learner goes silent: keep acting with the last weights, or stop the robot")
    parser.add_argument("--timeout", type=float, default=1.0, help="seconds of learner silence that mean a lost link")
    parser.add_argument("--flush-timeout", type=float, default=30.0, help="after the last tick, seconds to wait for "
                                                                          "a learner to take what is still buffered")
    parser.add_argument("--tls-ca"), parser.add_argument("--tls-cert"), parser.add_argument("--tls-key")
    robot_target.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    host, port = parse_address(args.connect)
    config = load_config(learner_class(args.algo), args.config, args.seed)
    env = robot_target.task_env(args, args.task, args.image) if args.port else make_env(args.task, args.image)
    try:
        report = run_actor(env, args.task, args.algo, config, host, port, read_key(args.key_file),
                           steps=args.steps, rate_hz=args.rate, on_loss=args.on_loss, timeout_s=args.timeout,
                           flush_timeout_s=args.flush_timeout,
                           ssl_context=tls_context(False, args.tls_cert, args.tls_key, args.tls_ca))
        return 1 if report.stopped_because else 0
    finally:
        env.close()
