"""N simulated workers (Ray actors) feeding one learner through the link's transition stream.

The learner runs the one training loop, `Learner.train` (logging, evaluation, checkpoints, Ctrl-C,
divergence), with its step fed by the workers, as the link's learner side feeds it from an actor. Each step
takes the next chunk a worker finished, checks the frame (the link's schema and per-worker sequence
numbers), hands it to the link's adapter for the learner's algorithm (SAC stores it, AVG learns from it),
gives that worker its next chunk at once (so the workers collect while the learner updates) and then runs
update rounds up to `rounds_per_transition` per transition received since learning started.

Unlike a robot, a simulator can wait: each worker has exactly one chunk in flight, so collection follows
the learner, the update-to-data ratio is the one asked for (1.0 is in-process training's one round per env
step), and the policy lag stays under two chunks.

Weights go out through Ray's object store: `ray.put` once per version, and a worker is sent the reference
only when its version is older (one copy per node, zero-copy numpy within a node).

A worker that dies or fails (its process killed, its env raising) is reported in the log and in
`ScaleStats.lost`, its chunk in flight is never counted, and the run goes on with the others
(`on_worker_loss="continue"`) or stops with the checkpoint saved (`"stop"`).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from robolearn.learners.base import ConfigError, Learner
from robolearn.learners.checkpoint import CHECKPOINT_NAME
from robolearn.link.learner import LearnerStats, TransitionSequence
from robolearn.link.training import link_learner
from robolearn.link.wire import decode_frame
from robolearn.scale.cluster import require_ray
from robolearn.scale.worker import SimWorker

log = logging.getLogger(__name__)


class OnWorkerLoss(str, Enum):
    CONTINUE = "continue"  # go on with the workers left (fails only when none is left)
    STOP = "stop"  # save the checkpoint and stop the run


class WorkerLost(RuntimeError):
    """A worker died or failed and the run stopped (as configured, or because no worker was left)."""


@dataclass
class ScaleStats:
    stream: LearnerStats = field(default_factory=LearnerStats)  # received / duplicates / gaps, all workers
    lost: list[str] = field(default_factory=list)  # one line per lost worker: which and why
    chunks: int = 0
    weight_versions: int = 0
    eligible: int = 0  # transitions received once updates could run
    episode_returns: list[float] = field(default_factory=list)
    seconds: float = 0.0


class RayTrainer:
    """Trains `learner` (SAC or AVG) from `workers` Ray actors running `task`; Ray must be started
    (`cluster.start_ray`)."""

    def __init__(self, learner: Learner, task: str, workers: int, steps_per_call: int = 16, publish_every: int = 4,
                 rounds_per_transition: float = 1.0, on_worker_loss: OnWorkerLoss | str = OnWorkerLoss.CONTINUE,
                 start_timeout_s: float = 120.0) -> None:
        ray = require_ray()
        if not ray.is_initialized():
            raise RuntimeError("Ray is not started: call robolearn.scale.cluster.start_ray() first")
        if workers < 1 or steps_per_call < 1 or publish_every < 1:
            raise ConfigError(f"need workers, steps_per_call and publish_every >= 1, got {workers}, "
                              f"{steps_per_call} and {publish_every}")
        if not rounds_per_transition > 0:
            raise ConfigError(f"rounds_per_transition must be > 0 (the workers wait for the learner's rounds), "
                              f"got {rounds_per_transition}")
        try:
            self.on_worker_loss = OnWorkerLoss(on_worker_loss)
        except ValueError:
            raise ConfigError(f"on_worker_loss must be one of {[p.value for p in OnWorkerLoss]}, "
                              f"got {on_worker_loss!r}") from None
        self.adapter = link_learner(learner)  # refuses an algorithm the link cannot feed
        self._ray, self.learner, self.steps_per_call = ray, learner, steps_per_call
        self.publish_every, self.rounds_per_transition = publish_every, rounds_per_transition
        self.stats = ScaleStats()
        self._in_flight: dict = {}  # ObjectRef -> (worker index, steps)
        self._total = 0
        self._claimed = 0  # env steps learned from or in flight: the run never collects more than it needs
        self._checkpoint: Path | None = None
        self._rounds_at_start = self.adapter.updates
        remote_worker = ray.remote(num_cpus=1, max_restarts=0)(SimWorker)
        self.workers = {i: remote_worker.remote(i, task, learner.algo, learner.config) for i in range(workers)}
        self._wait_started(start_timeout_s)
        self._sequences = {i: TransitionSequence(self.stats.stream) for i in self.workers}
        self._sent_version = dict.fromkeys(self.workers, 0)
        self._version = 0
        self._weights_ref = None
        self._publish()  # workers start from the learner's policy, not their own draw
        self._published_at = self.adapter.updates

    def _wait_started(self, timeout_s: float) -> None:
        # An actor Ray has no CPU for waits forever without a word: say so instead.
        ray = self._ray
        pending = {worker.ready.remote(): i for i, worker in self.workers.items()}
        ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=timeout_s)
        try:
            ray.get(ready)
        except ray.exceptions.RayError as exc:
            self.close()
            cause = getattr(exc, "cause", None) or exc
            raise RuntimeError(f"a Ray worker failed to start: {type(cause).__name__}: {cause}") from None
        if len(ready) < len(pending):
            self.close()
            free = ray.available_resources().get("CPU", 0)
            raise RuntimeError(f"only {len(ready)} of {len(pending)} Ray workers started within {timeout_s:.0f} s "
                               f"(the Ray cluster has {free:g} CPUs free, one per worker is needed): lower "
                               "--workers or add CPUs to the cluster")

    # ------------------------------------------------------------------------------------ the run
    def train(self, total_steps: int, run_dir: str | Path | None = None, progress: bool = True) -> dict:
        """`Learner.train(total_steps, run_dir)` with its steps from the workers; the summary gains `scale`."""
        checkpoint = Path(run_dir) / CHECKPOINT_NAME if run_dir is not None else None
        summary = self.learner.train(total_steps, run_dir, progress=progress,
                                     step=self.stepper(total_steps, checkpoint))
        return {**summary, "scale": self.summary()}

    def stepper(self, total_steps: int, checkpoint: Path | None = None) -> Callable[[], dict[str, float]]:
        """The step for `Learner.train(total_steps, step=...)`; under on_worker_loss=stop a lost worker saves
        the learner to `checkpoint` (when given) before the run stops."""
        self._total, self._checkpoint = total_steps, checkpoint
        self._claimed = self.learner.steps_done + sum(steps for _, steps in self._in_flight.values())
        return self.step

    def step(self) -> dict[str, float]:
        """Feed one finished chunk of one worker, then update; returns the last finished episode's return."""
        started = time.perf_counter()
        try:
            return self._step()
        finally:
            self.stats.seconds += time.perf_counter() - started

    def _step(self) -> dict[str, float]:
        self._fill()
        if not self._in_flight:
            raise WorkerLost("no worker left: " + "; ".join(self.stats.lost))
        ready, _ = self._ray.wait(list(self._in_flight), num_returns=1)
        index, steps = self._in_flight.pop(ready[0])
        try:
            frame, returns = self._ray.get(ready[0])
        except self._ray.exceptions.RayError as exc:
            self._claimed -= steps  # never received: another worker collects them
            self._lose(index, exc)
            return {}
        message = decode_frame(frame)
        self._fill()  # that worker collects its next chunk while the learner updates on this one
        batch = self._sequences[index].accept(message)
        self.stats.chunks += 1
        if batch is not None:
            ready_before, updates_before = self.adapter.ready(), self.adapter.updates
            # The adapter's own episode events are left out: chunks of several workers interleave, so only
            # a worker can tell where its episodes start; the returns come from the workers instead.
            self.adapter.ingest(batch)
            if ready_before or self.adapter.updates > updates_before:  # AVG learns inside ingest
                self.stats.eligible += len(batch["reward"])
            while self.adapter.ready() and self._rounds() + 1 <= self.rounds_per_transition * self.stats.eligible:
                self.adapter.update()
            if self.adapter.updates - self._published_at >= self.publish_every:
                self._publish()
                self._published_at = self.adapter.updates
        self.stats.episode_returns += returns
        return {"train/episode_return": returns[-1]} if returns else {}

    def _rounds(self) -> int:
        return self.adapter.updates - self._rounds_at_start

    def _fill(self) -> None:
        """Give every idle worker a chunk, within the steps the run still needs."""
        busy = {index for index, _ in self._in_flight.values()}
        for index, worker in self.workers.items():
            if self._claimed >= self._total:
                return
            if index in busy:
                continue
            steps = min(self.steps_per_call, self._total - self._claimed)
            self._claimed += steps
            send = self._weights_ref if self._sent_version[index] < self._version else None
            random_actions = self.learner.steps_done < getattr(self.learner.config, "random_steps", 0)
            ref = worker.collect.remote(steps, self._version, send, random_actions)
            self._sent_version[index] = self._version
            self._in_flight[ref] = (index, steps)

    def _publish(self) -> None:
        self._weights_ref = self._ray.put(self.adapter.actor_weights())
        self._version += 1
        self.stats.weight_versions += 1

    def _lose(self, index: int, exc: BaseException) -> None:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        line = f"worker {index} lost at learner step {self.learner.steps_done}: {type(exc).__name__}: {reason}"
        self.stats.lost.append(line)
        worker = self.workers.pop(index)
        with contextlib.suppress(Exception):
            self._ray.kill(worker)
        if self.on_worker_loss is OnWorkerLoss.CONTINUE:
            log.warning("%s; continuing with %d worker(s)", line, len(self.workers))
            return
        log.error("%s; stopping (on_worker_loss=stop)", line)
        message = f"{line}; stopped as configured (on_worker_loss=stop)"
        if self._checkpoint is not None:
            # seen before its chunk was used, between two steps: the learner's state is whole
            self.learner.save(self._checkpoint)
            message += f"; {self._checkpoint} holds the run up to step {self.learner.steps_done}"
        raise WorkerLost(message)

    # ------------------------------------------------------------------------------------ reporting
    def summary(self) -> dict:
        s = self.stats
        return {"workers": len(self.workers), "lost": list(s.lost), "received": s.stream.received,
                "steps_by_worker": {i: seq.next_seq for i, seq in self._sequences.items()},
                "duplicates": s.stream.duplicates, "gaps": s.stream.gaps, "chunks": s.chunks,
                "weight_versions": s.weight_versions, "update_rounds": self._rounds(),
                "update_to_data": round(self._rounds() / max(s.eligible, 1), 3),
                "env_steps_per_s": round(s.stream.received / s.seconds, 1) if s.seconds else None}

    def close(self) -> None:
        """Stop every worker (what is in flight is dropped)."""
        for worker in self.workers.values():
            with contextlib.suppress(Exception):
                self._ray.kill(worker)
        self.workers.clear()
        self._in_flight.clear()
