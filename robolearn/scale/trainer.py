"""N simulated workers (Ray actors) feeding one SAC learner through the link's transition stream.

The learner runs the one training loop, `Learner.train` (logging, evaluation, checkpoints, Ctrl-C,
divergence), unchanged: only where its steps come from differs. Each of its steps takes the next chunk a
worker finished, checks the frame (the link's schema and per-worker sequence numbers), hands it to the
link's SAC adapter (one update round per transition, the UTD cap and weight publishing as over the link)
and gives that worker its next chunk at once, so the workers collect while the learner updates. Each
worker has exactly one chunk in flight: that bounds the transitions waiting for the learner (back-pressure)
and the policy lag (at most two chunks behind the newest weights).

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
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from robolearn.learners.checkpoint import CHECKPOINT_NAME
from robolearn.learners.sac import SAC
from robolearn.link.learner import LearnerStats, TransitionSequence
from robolearn.link.sac_adapter import SacLinkLearner, actor_weights
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
    episode_returns: list[float] = field(default_factory=list)
    seconds: float = 0.0


class RayTrainer:
    """Trains `sac` from `workers` Ray actors running `task`; Ray must be started (`cluster.start_ray`)."""

    def __init__(self, sac: SAC, task: str, workers: int, steps_per_call: int = 16, publish_every: int = 4,
                 utd_cap: float = 1.0, on_worker_loss: OnWorkerLoss | str = OnWorkerLoss.CONTINUE,
                 start_timeout_s: float = 120.0) -> None:
        ray = require_ray()
        if not ray.is_initialized():
            raise RuntimeError("Ray is not started: call robolearn.scale.cluster.start_ray() first")
        if workers < 1 or steps_per_call < 1:
            raise ValueError(f"need workers >= 1 and steps_per_call >= 1, got {workers} and {steps_per_call}")
        try:
            self.on_worker_loss = OnWorkerLoss(on_worker_loss)
        except ValueError:
            raise ValueError(f"on_worker_loss must be one of {[p.value for p in OnWorkerLoss]}, "
                             f"got {on_worker_loss!r}") from None
        self._ray, self.sac, self.steps_per_call = ray, sac, steps_per_call
        self.stats = ScaleStats()
        self.adapter = SacLinkLearner(sac, publish_every, utd_cap)
        self._in_flight: dict = {}  # ObjectRef -> (worker index, steps)
        self._total = 0
        self._claimed = 0  # env steps learned from or in flight: the run never collects more than it needs
        remote_worker = ray.remote(num_cpus=1, max_restarts=0)(SimWorker)
        self.workers = {i: remote_worker.remote(i, task, sac.config) for i in range(workers)}
        self._wait_started(start_timeout_s)
        self._sequences = {i: TransitionSequence(self.stats.stream) for i in self.workers}
        self._sent_version = dict.fromkeys(self.workers, 0)
        self._version = 0
        self._weights_ref = None
        self._publish(actor_weights(sac))  # workers start from the learner's actor, not their own draw

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
        """`Learner.train(total_steps, run_dir)` with the steps collected by the workers; the summary
        gains a `scale` entry (throughput, stream accounting, lost workers)."""
        self._total = total_steps
        self._claimed = self.sac.env_steps + sum(steps for _, steps in self._in_flight.values())
        started = time.perf_counter()
        try:
            with self._steps_from_workers():
                summary = self.sac.train(total_steps, run_dir, progress=progress)
        except WorkerLost as exc:
            if run_dir is None:
                raise
            checkpoint = Path(run_dir) / CHECKPOINT_NAME
            self.sac.save(checkpoint)  # a loss is seen before its chunk is used: the learner's state is whole
            raise WorkerLost(f"{exc}; {checkpoint} holds the run up to step {self.sac.steps_done}") from None
        finally:
            self.stats.seconds += time.perf_counter() - started
        return {**summary, "scale": self.summary()}

    @contextlib.contextmanager
    def _steps_from_workers(self) -> Iterator[None]:
        # The instance attribute shadows SAC.training_step for the length of the run, so the one loop in
        # Learner.train drives the workers; removing it restores the in-process step.
        self.sac.training_step = self.training_step
        try:
            yield
        finally:
            del self.sac.training_step

    def training_step(self) -> dict[str, float]:
        """The learner's step: feed one finished chunk of one worker; returns the last finished episode's return."""
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
            new_weights = self.adapter(batch)
            if new_weights is not None:
                self._publish(new_weights)
        self.sac.episodes += len(returns)
        self.stats.episode_returns += returns
        return {"train/episode_return": returns[-1]} if returns else {}

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
            random_actions = self.sac.env_steps < self.sac.config.random_steps
            ref = worker.collect.remote(steps, self._version, send, random_actions)
            self._sent_version[index] = self._version
            self._in_flight[ref] = (index, steps)

    def _publish(self, weights: dict) -> None:
        self._weights_ref = self._ray.put(weights)
        self._version += 1
        self.stats.weight_versions += 1

    def _lose(self, index: int, exc: BaseException) -> None:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        line = f"worker {index} lost at learner step {self.sac.env_steps}: {type(exc).__name__}: {reason}"
        self.stats.lost.append(line)
        worker = self.workers.pop(index)
        with contextlib.suppress(Exception):
            self._ray.kill(worker)
        if self.on_worker_loss is OnWorkerLoss.STOP:
            log.error("%s; stopping (on_worker_loss=stop)", line)
            raise WorkerLost(f"{line}; stopped as configured (on_worker_loss=stop)")
        log.warning("%s; continuing with %d worker(s)", line, len(self.workers))

    # ------------------------------------------------------------------------------------ reporting
    def summary(self) -> dict:
        s = self.stats
        steps = s.stream.received
        return {"workers": len(self.workers), "lost": list(s.lost), "received": steps,
                "steps_by_worker": {i: seq.next_seq for i, seq in self._sequences.items()},
                "duplicates": s.stream.duplicates, "gaps": s.stream.gaps, "chunks": s.chunks,
                "weight_versions": s.weight_versions, "update_to_data": round(self.adapter.update_to_data, 3),
                "env_steps_per_s": round(steps / s.seconds, 1) if s.seconds else None}

    def close(self) -> None:
        """Stop every worker (what is in flight is dropped)."""
        for worker in self.workers.values():
            with contextlib.suppress(Exception):
                self._ray.kill(worker)
        self.workers.clear()
        self._in_flight.clear()

