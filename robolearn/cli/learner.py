"""`robolearn learner <task> --listen HOST:PORT`: the learner side of actor/learner training (SAC or AVG) for
an actor that connects over the link; the same run folder, logs, evaluation and checkpoints as `robolearn
train`. Restarted with `--resume`, it continues from its checkpoint and the actor (which reconnects by itself)
resends what the checkpoint lacks: no transition is learned twice.

Examples:
    ROBOLEARN_LINK_KEY=$(cat link.key) robolearn learner ArmReach --config configs/sac_main.yaml \\
        --listen 0.0.0.0:50051 --steps 20000 --run-dir runs/reach-link
    robolearn actor ArmReach --config configs/sac_main.yaml --connect gpu-box:50051 --key-file link.key
"""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path

from robolearn.learners.base import learner_class
from robolearn.link.learner import LearnerServer
from robolearn.link.session import identity, parse_address, read_key, tls_context
from robolearn.link.training import LINK_ALGOS, LinkTraining, link_learner, resume_position
from robolearn.training import load_config, make_env, open_run, start_or_resume, train_started


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task", help="task id or short name; must match the actor's")
    parser.add_argument("--algo", default="sac", choices=LINK_ALGOS, help="learner (default sac); same on the actor")
    parser.add_argument("--config", help="config YAML; must match the actor's (checked at the handshake)")
    parser.add_argument("--seed", type=int, help="overrides the config's seed (the actor needs the same)")
    parser.add_argument("--image", action="store_true", help="state + camera frames (SAC from pixels)")
    parser.add_argument("--listen", default="127.0.0.1:50051", help="HOST:PORT to listen on (default %(default)s)")
    parser.add_argument("--key-file", help="shared key, hex (default: $ROBOLEARN_LINK_KEY)")
    parser.add_argument("--steps", type=int, default=50_000, help="total transitions to learn from, resumed included")
    parser.add_argument("--run-dir", help="run folder (default runs/<task>-<algo>-seed<S>)")
    parser.add_argument("--resume", action="store_true", help="continue from the run folder's checkpoint")
    parser.add_argument("--publish-every", type=int, default=4, help="update rounds between weight broadcasts")
    parser.add_argument("--utd-cap", type=float, default=1.0,
                        help="at most this many update rounds per transition (0: as many as the hardware allows)")
    parser.add_argument("--heartbeat", type=float, default=0.1, help="seconds between heartbeats")
    parser.add_argument("--actor-timeout", type=float, default=2.0, help="seconds of silence before the actor "
                                                                          "is declared lost")
    parser.add_argument("--tls-cert"), parser.add_argument("--tls-key"), parser.add_argument("--tls-ca")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    host, port = parse_address(args.listen)
    key = read_key(args.key_file)
    learner_cls = learner_class(args.algo)
    env = make_env(args.task, args.image)
    try:
        config = load_config(learner_cls, args.config, args.seed)
        run_dir = Path(args.run_dir or f"runs/{args.task.replace('/', '_')}-{args.algo}-seed{config.seed}")
        with open_run(run_dir):
            started = start_or_resume(learner_cls, env, run_dir, steps=args.steps, config=config, resume=args.resume,
                                      config_given=args.config is not None, seed_given=args.seed is not None,
                                      device=args.device)
            print(started.message, flush=True)
            if started.learner is None:
                return 0
            adapter = link_learner(started.learner)
            server = LearnerServer(identity(key, started.learner.config, env, args.task), host, port,
                                   args.heartbeat, args.actor_timeout, resume=resume_position(started.learner),
                                   ssl_context=tls_context(True, args.tls_cert, args.tls_key, args.tls_ca))
            print(f"learner listening on {server.address[0]}:{server.address[1]} for task {args.task}", flush=True)
            training = LinkTraining(adapter, server, args.publish_every, args.utd_cap or None)
            hint = shlex.join(["robolearn", "learner", args.task, "--algo", args.algo, "--listen", args.listen,
                               "--steps", str(args.steps), "--run-dir", str(run_dir), "--resume"])
            try:
                summary = train_started(started, args.steps, run_dir, resume_hint=hint,
                                        progress=not args.no_progress, step=training.step)
            finally:
                server.close()
                print("learner: " + json.dumps(training.summary()), flush=True)
        print(json.dumps({k: v for k, v in summary.items() if k not in ("eval", "episode_returns")}, default=str))
        print(f"checkpoint: {started.checkpoint}")
    finally:
        env.close()
    return 0
