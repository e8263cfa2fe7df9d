"""The learner's side of actor/learner training: `Learner.train`'s loop (logging, evaluation, checkpoints,
Ctrl-C) with its step fed by the link instead of an env.

Each step takes whatever transitions have arrived, then runs one update round when the cap allows: the
learner updates as fast as its hardware goes, and the update-to-data ratio (rounds per transition since
learning started) is a measured figure, bounded by `utd_cap` when given (1.0 reproduces in-process
training's one round per env step). Weights go to the actor every `publish_every` rounds and to every newly
connected actor at once. The stream position handed to the learner is saved in its checkpoint, so a learner
restarted from it asks the actor for exactly what it lacks.
"""

from __future__ import annotations

import time
from typing import Protocol

import numpy as np

from robolearn.learners.base import ConfigError, Learner
from robolearn.link.learner import LearnerServer, StreamPosition
from robolearn.link.weights import Weights

LINK_ALGOS = ("sac", "avg")
EXTRAS_KEY = "link"


class LinkAdapter(Protocol):
    learner: Learner
    updates: int

    def ingest(self, batch: dict[str, np.ndarray]) -> dict[str, float]: ...
    def ready(self) -> bool: ...
    def update(self) -> None: ...
    def actor_weights(self) -> Weights: ...


def link_learner(learner: Learner) -> LinkAdapter:
    """The learner side of the link for this learner's algorithm."""
    if learner.algo == "sac":
        from robolearn.link.sac_adapter import SacLinkLearner

        if getattr(learner.config, "asymmetric_critic", False):
            raise ConfigError("asymmetric_critic does not train over the actor/learner link (--async, --workers, "
                              "robolearn learner): streamed transitions carry no privileged state; set "
                              "asymmetric_critic: false or train in-process")

        return SacLinkLearner(learner)
    if learner.algo == "avg":
        from robolearn.link.avg_adapter import AvgLinkLearner

        return AvgLinkLearner(learner)
    raise ConfigError(f"--algo {learner.algo} cannot train over the actor/learner link; use one of {LINK_ALGOS}")


def resume_position(learner: Learner) -> StreamPosition | None:
    """Where the learner's checkpoint says the actor's stream stands (None for a learner that never linked)."""
    saved = learner.checkpoint_extras.get(EXTRAS_KEY)
    return StreamPosition(bytes(saved["stream"]), int(saved["next_seq"])) if saved else None


class LinkTraining:
    def __init__(self, adapter: LinkAdapter, server: LearnerServer, publish_every: int = 4,
                 utd_cap: float | None = 1.0, actor_alive=lambda: True):
        if publish_every < 1:
            raise ConfigError(f"publish_every must be >= 1, got {publish_every}")
        if utd_cap is not None and utd_cap <= 0:
            raise ConfigError(f"the update-to-data cap must be > 0 (or none), got {utd_cap}")
        self.adapter, self.server, self.publish_every, self.utd_cap = adapter, server, publish_every, utd_cap
        self.actor_alive = actor_alive
        self.transitions = 0  # received by this learner process
        self.eligible = 0  # of those, received once updates could run
        self._updates_at_start = adapter.updates
        self._published_at = adapter.updates
        self._connections_served = 0
        self._started = time.monotonic()

    @property
    def rounds(self) -> int:
        return self.adapter.updates - self._updates_at_start

    @property
    def update_to_data(self) -> float:
        """Measured update rounds per transition received since updates could run (learning_starts)."""
        return self.rounds / max(self.eligible, 1)

    def _may_update(self) -> bool:
        if not self.adapter.ready():
            return False
        return self.utd_cap is None or self.rounds + 1 <= self.utd_cap * self.eligible

    def step(self) -> dict[str, float]:
        """One step of Learner.train: take arrived transitions, update once if allowed, publish when due."""
        events: dict[str, float] = {}
        batch = self.server.get_transitions(0.0 if self._may_update() else 0.05)
        if batch is None and not self.actor_alive():
            raise RuntimeError(f"the actor stopped at learner step {self.adapter.learner.steps_done} and no "
                               "transitions are left; see the actor's output above")
        while batch is not None:  # everything that arrived during the last update, so the learner never lags
            ready, before = self.adapter.ready(), self.adapter.updates
            events.update(self.adapter.ingest(batch))
            count = len(batch["reward"])
            self.transitions += count
            self.eligible += count if ready or self.adapter.updates > before else 0  # AVG learns in ingest
            position = self.server.consumed
            self.adapter.learner.checkpoint_extras[EXTRAS_KEY] = {"stream": position.stream,
                                                                  "next_seq": position.next_seq}
            batch = self.server.get_transitions(0.0)
        if self._may_update():
            self.adapter.update()
        if self.server.stats.connections != self._connections_served and self.server.connected:
            if self.server.publish(self.adapter.actor_weights()) is not None:  # a new actor: current weights now
                self._connections_served = self.server.stats.connections
                self._published_at = self.adapter.updates
        elif self.adapter.updates - self._published_at >= self.publish_every:
            self.server.publish(self.adapter.actor_weights())
            self._published_at = self.adapter.updates
        return events

    def summary(self) -> dict:
        s = self.server.stats
        return {"transitions": self.transitions, "update_rounds": self.rounds,
                "update_to_data": round(self.update_to_data, 3), "duplicates": s.duplicates, "gaps": s.gaps,
                "weights_sent": s.weights_sent, "seconds": round(time.monotonic() - self._started, 1)}
