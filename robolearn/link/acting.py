"""The actor's side of actor/learner training: the policy at the control rate on the robot (or sim), its
transitions streamed to the learner, new weights swapped in between two ticks, and the robot stopped (the env
closed, which stops the actuators through the safety layer) when the link is lost under `on_loss=stop`.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import gymnasium as gym
import numpy as np

from robolearn.learners.base import ConfigError, LearnerConfig
from robolearn.learners.compute_budget import control_period_of
from robolearn.link.actor import ActorLink, LoopReport, control_loop
from robolearn.link.transitions import transition_arrays

DEFAULT_RATE_HZ = 30.0  # for gymnasium envs that do not say


def actor_policy(algo: str, env: gym.Env, config: LearnerConfig, explore: bool = True) -> Callable[[Any], np.ndarray]:
    """The actor-side policy (CPU inference, weights loaded with `.load`) for a learner over the link."""
    if algo == "sac":
        from robolearn.link.sac_adapter import SacActorPolicy

        return SacActorPolicy(env.observation_space, env.action_space, config, explore, config.seed)
    if algo == "avg":
        from robolearn.link.avg_adapter import AvgActorPolicy

        return AvgActorPolicy(env.observation_space, env.action_space, config, explore, config.seed)
    raise ConfigError(f"--algo {algo} cannot run over the actor/learner link; use sac or avg")


def control_rate_hz(env: gym.Env, rate_hz: float | None = None) -> float:
    """`rate_hz` if given, else the robot's control rate (30 Hz for envs without a robot)."""
    if rate_hz is not None:
        if not rate_hz > 0:
            raise ConfigError(f"--rate must be > 0 Hz, got {rate_hz}")
        return float(rate_hz)
    period = control_period_of(env)
    return 1.0 / period if period else DEFAULT_RATE_HZ


def act(env: gym.Env, policy, link: ActorLink, rate_hz: float, ticks: int, seed: int = 0,
        first_weights_s: float = 30.0) -> LoopReport:
    """Run `ticks` control ticks (or until the link is lost under `stop`). Nothing moves before the learner's
    first weights arrived, so a restarted or resumed learner's policy is the one that acts."""
    end = time.monotonic() + first_weights_s
    first = link.take_weights()
    while first is None and time.monotonic() < end and link.refused is None:
        time.sleep(0.01)
        first = link.take_weights()
    if first is None:
        raise ConnectionError(link.refused or f"no weights from the learner within {first_weights_s:.0f} s")
    policy.load(first[1])
    state = {"obs": env.reset(seed=seed)[0]}

    def step() -> None:
        obs = state["obs"]
        action = policy(obs)
        next_obs, reward, terminated, truncated, info = env.step(action)
        applied = info.get("applied_action", action)  # what the robot did after safety is what is learned
        link.send_transition(**transition_arrays(obs, applied, reward, next_obs, terminated, truncated))
        state["obs"] = env.reset()[0] if terminated or truncated else next_obs

    def stop_robot(reason: str) -> None:
        env.close()  # closing the env stops the robot's actuators through its safety layer
        print(f"robolearn actor: robot stopped: {reason}", flush=True)

    return control_loop(step, 1.0 / rate_hz, ticks, link, lambda version, weights: policy.load(weights), stop_robot)


def run_actor(env: gym.Env, task: str, algo: str, config: LearnerConfig, host: str, port: int, key: bytes, *,
              steps: int, rate_hz: float | None = None, on_loss: str = "stop", timeout_s: float = 1.0,
              flush_timeout_s: float = 30.0, ssl_context: Any = None) -> LoopReport:
    """The whole actor of a remote learner on `env` (the sim, the real robot, or RosRobot): connect, refuse to
    move until the learner accepted this actor, act `steps` ticks, deliver what is still buffered, and print
    the loop's figures. `report.stopped_because` says why it stopped early (None: it ran all its ticks)."""
    from robolearn.link.session import identity

    rate = control_rate_hz(env, rate_hz)
    policy = actor_policy(algo, env, config)
    link = ActorLink(identity(key, config, env, task), host, port, on_loss=on_loss, timeout_s=timeout_s,
                     ssl_context=ssl_context)
    try:
        if not link.wait_ready(5 * timeout_s):  # nothing moves before the learner has accepted us
            raise ConnectionError(link.refused or f"cannot reach a learner at {host}:{port} within "
                                  f"{5 * timeout_s:.0f} s: start `robolearn learner` there first, or check the address")
        report = act(env, policy, link, rate, steps, seed=config.seed)
        if not report.stopped_because and not link.flush(flush_timeout_s):
            print(f"actor: {link.pending} transitions not delivered: no learner took them within "
                  f"{flush_timeout_s:.0f} s", flush=True)
    finally:
        link.close()
    print(report_line(report, rate, link), flush=True)
    return report


def report_line(report: LoopReport, rate_hz: float, link: ActorLink) -> str:
    return (f"actor: {len(report.lateness_s)} ticks at {rate_hz:.0f} Hz, p99 lateness "
            f"{report.p99_lateness_s() * 1e3:.1f} ms, {report.missed} missed, weights version {link.weights_version}, "
            f"{link.dropped} transitions dropped, {link.resent} resent")
