"""`robolearn actor <task> --connect HOST:PORT`: run the policy at the task's control rate, stream its
transitions to a learner and swap in the weights it sends. With `--on-loss stop` the robot is stopped
(the env closed, which stops its actuators) when the learner goes silent.

Example:
    robolearn actor ArmReach --config configs/sac_main.yaml --connect gpu-box:50051 --key-file link.key --steps 20000
"""

from __future__ import annotations

import argparse

import numpy as np

from robolearn.learners.compute_budget import control_period_of
from robolearn.learners.sac import SAC
from robolearn.link.actor import ActorLink, control_loop
from robolearn.link.sac_adapter import SacActorPolicy
from robolearn.link.session import identity, parse_address, read_key, tls_context
from robolearn.training import load_config, make_env


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task", help="task id or short name; must match the learner's")
    parser.add_argument("--config", help="SAC config YAML; must match the learner's")
    parser.add_argument("--connect", required=True, help="learner HOST:PORT")
    parser.add_argument("--key-file", help="shared key, hex (default: $ROBOLEARN_LINK_KEY)")
    parser.add_argument("--steps", type=int, default=10_000, help="control ticks to run")
    parser.add_argument("--rate", type=float, help="control rate in Hz (default: the task's)")
    parser.add_argument("--on-loss", choices=["continue", "stop"], default="stop",
                        help="when the learner goes silent: keep acting with the last weights, or stop the robot")
    parser.add_argument("--timeout", type=float, default=1.0, help="seconds of learner silence that mean a lost link")
    parser.add_argument("--tls-ca"), parser.add_argument("--tls-cert"), parser.add_argument("--tls-key")


def run(args: argparse.Namespace) -> int:
    host, port = parse_address(args.connect)
    config = load_config(SAC, args.config, None)
    env = make_env(args.task)
    try:
        if not hasattr(env.observation_space, "shape") or env.observation_space.shape is None:
            raise ValueError(f"{args.task}: the actor runs state observations only (no --image yet)")
        rate = args.rate or 1.0 / (control_period_of(env) or 1.0 / 30.0)
        policy = SacActorPolicy(env.observation_space.shape[0], env.action_space.shape[0], config)
        link = ActorLink(identity(read_key(args.key_file), config, env, args.task), host, port,
                         on_loss=args.on_loss, timeout_s=args.timeout,
                         ssl_context=tls_context(False, args.tls_cert, args.tls_key, args.tls_ca))
        if not link.wait_ready(5 * args.timeout):  # nothing moves before the learner has accepted us
            link.close()
            raise ValueError(link.refused or f"cannot reach a learner at {host}:{port} within {5 * args.timeout:.0f} s: "
                             "start `robolearn learner` there first, or check --connect")
        obs = [env.reset(seed=config.seed)[0]]

        def step() -> None:
            action = policy(obs[0])
            next_obs, reward, terminated, truncated, info = env.step(action)
            applied = np.asarray(info.get("applied_action", action), np.float32)
            link.send_transition(obs=np.asarray(obs[0], np.float32), action=applied, reward=np.float32(reward),
                                 next_obs=np.asarray(next_obs, np.float32), terminated=np.bool_(terminated),
                                 truncated=np.bool_(truncated))
            obs[0] = env.reset()[0] if terminated or truncated else next_obs

        def stop_robot(reason: str) -> None:
            env.close()  # closing the env stops the robot's actuators through its safety layer
            print(f"robolearn actor: robot stopped: {reason}", flush=True)

        try:
            report = control_loop(step, 1.0 / rate, args.steps, link, lambda v, w: policy.load(w), stop_robot)
        finally:
            link.close()
        print(f"actor: {len(report.lateness_s)} ticks at {rate:.0f} Hz, p99 lateness "
              f"{report.p99_lateness_s() * 1e3:.1f} ms, {report.missed} missed, weights version "
              f"{link.weights_version}, {link.dropped} transitions dropped", flush=True)
        return 1 if report.stopped_because else 0
    finally:
        env.close()
