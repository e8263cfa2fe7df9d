"""`robolearn train --async` on one machine: the actor in a child process (control loop at the task's rate,
policy inference only), the learner in this one (updates, logging, evaluation, checkpoints), over the same
authenticated link a robot and a GPU machine would use, on loopback with a fresh random key.

The child learns everything it needs from a plain-data `ActorSpec`; it stops the robot and ends when the
learner says goodbye or goes silent (`on_loss=stop`).
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
from pathlib import Path
from typing import Any, Callable

from robolearn.link.acting import act, actor_policy, control_rate_hz, report_line
from robolearn.link.actor import ActorLink
from robolearn.link.learner import LearnerServer
from robolearn.link.session import identity
from robolearn.link.training import LinkTraining, link_learner, resume_position
from robolearn.training import Started, train_started


@dataclasses.dataclass(frozen=True)
class ActorSpec:
    task: str
    algo: str
    config: dict
    port: int
    key: bytes
    image: bool = False
    reward_classifier: str | None = None
    rate_hz: float | None = None
    timeout_s: float = 2.0
    # A picklable callable building the actor's env (e.g. a RosRobot env on the robot); None: make_env(task)
    env_factory: Callable[[], Any] | None = None
    report_path: str | None = None  # where the actor writes its loop's tick lateness (JSON), for benchmarks


def run_actor_process(spec: ActorSpec) -> None:
    """The child's main: build the env and policy, act until the learner is done."""
    import torch

    from robolearn.learners.base import learner_class
    from robolearn.training import make_env

    torch.set_num_threads(1)  # inference of a small net; leave the other cores to the learner
    config = learner_class(spec.algo).config_class.from_dict(spec.config, "actor config")
    env = spec.env_factory() if spec.env_factory else make_env(spec.task, spec.image, spec.reward_classifier)
    link = ActorLink(identity(spec.key, config, env, spec.task), "127.0.0.1", spec.port, on_loss="stop",
                     timeout_s=spec.timeout_s)
    try:
        rate = control_rate_hz(env, spec.rate_hz)
        report = act(env, actor_policy(spec.algo, env, config), link, rate, ticks=2**62, seed=config.seed)
        print(report_line(report, rate, link), flush=True)
        if spec.report_path:
            Path(spec.report_path).write_text(json.dumps({"period_s": report.period_s, "missed": report.missed,
                                                          "lateness_s": report.lateness_s}))
    finally:
        link.close()
        env.close()


def train_async(started: Started, steps: int, run_dir: str | os.PathLike, *, task: str, resume_hint: str,
                image: bool = False, reward_classifier: str | None = None, rate_hz: float | None = None,
                utd_cap: float | None = 1.0, publish_every: int = 4, progress: bool = False,
                env_factory: Callable[[], Any] | None = None, actor_report: str | None = None) -> dict:
    """Train `started.learner` to `steps` with its data from an actor process; Learner.train's summary plus
    the link's figures (measured update-to-data ratio, duplicates, gaps) under "link". The learner's own env
    only gives the spaces (and evaluation copies); the actor's env is `env_factory()` or the task's."""
    learner = started.learner
    if learner is None:
        raise ValueError("nothing to train: the run is already past the requested steps")
    key = os.urandom(32)
    adapter = link_learner(learner)
    server = LearnerServer(identity(key, learner.config, learner.env, task), "127.0.0.1", 0, heartbeat_s=0.05,
                           actor_timeout_s=2.0, resume=resume_position(learner))
    spec = ActorSpec(task, learner.algo, learner.config.to_dict(), server.address[1], key, image, reward_classifier,
                     rate_hz, env_factory=env_factory, report_path=actor_report)
    child = multiprocessing.get_context("spawn").Process(target=run_actor_process, args=(spec,),
                                                         name="robolearn-actor", daemon=True)
    child.start()
    training = LinkTraining(adapter, server, publish_every, utd_cap, actor_alive=child.is_alive)
    try:
        summary = train_started(started, steps, Path(run_dir), resume_hint=resume_hint, progress=progress,
                                step=training.step)
    finally:
        server.close()  # says goodbye: the actor stops its robot and exits
        child.join(10)
        if child.is_alive():
            child.terminate()
            child.join(5)
    return {**summary, "link": training.summary()}
