"""The one training loop, for every learner: Ctrl-C stops at a step boundary with a checkpoint of that step;
a divergence stops at the step where it appears and leaves the last finite checkpoint untouched."""

from __future__ import annotations

import os
import signal

import gymnasium as gym
import pytest

import robolearn  # noqa: F401  (registers the robolearn/ ids)
from robolearn.learners.base import Learner, learner_class
from robolearn.learners.checkpoint import CHECKPOINT_NAME, checkpoint_metadata
from robolearn.learners.run import StopRequested

# Small, fast settings per learner, with a checkpoint every few steps of its own unit.
LEARNERS = {
    "sac": ("robolearn/PendulumBalance-v0", {"critic_ensemble": 2, "hidden_sizes": [16, 16], "batch_size": 8,
                                             "learning_starts": 8, "demo_episodes": 0, "eval_episodes": 0,
                                             "checkpoint_every": 10, "log_every": 5}),
    "avg": ("robolearn/PendulumBalance-v0", {"hidden_size": 16, "eval_every": 0, "checkpoint_every": 10,
                                             "log_every": 5}),
    "fpg": ("robolearn/CarFigureEight-v0", {"checkpoint_every": 10, "log_every": 5}),
    "lipbc": ("robolearn/PendulumBalance-v0", {"hidden_sizes": [16, 16], "demo_episodes": 1, "eval_episodes": 0,
                                               "checkpoint_every": 10, "log_every": 5}),
}


def make(algo: str) -> Learner:
    env_id, config = LEARNERS[algo]
    cls = learner_class(algo)
    return cls(gym.make(env_id), cls.config_class.from_dict(config), "cpu")


@pytest.mark.parametrize("algo", sorted(LEARNERS))
def test_ctrl_c_finishes_the_step_then_saves_that_step(algo, tmp_path):
    learner = make(algo)
    step = learner.training_step
    calls = []

    def interrupted_during_the_third_step():
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGINT)  # arrives in the middle of the step
        return step()

    learner.training_step = interrupted_during_the_third_step
    with pytest.raises(StopRequested):
        learner.train(10**6, run_dir=tmp_path, progress=False)
    assert len(calls) == 3  # the step in progress finished; no further step began
    assert checkpoint_metadata(tmp_path / CHECKPOINT_NAME)["steps"] == learner.steps_done > 0
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Ctrl-C behaves normally again


@pytest.mark.parametrize("algo", sorted(LEARNERS))
def test_a_divergence_stops_there_and_keeps_the_last_finite_checkpoint(algo, tmp_path):
    learner = make(algo)
    step = learner.training_step

    def diverging_after_the_first_checkpoint():
        if learner.steps_done >= 10:
            raise FloatingPointError("critic_loss became nan: training diverged")
        return step()

    learner.training_step = diverging_after_the_first_checkpoint
    with pytest.raises(FloatingPointError, match="diverged"):
        learner.train(10**6, run_dir=tmp_path, progress=False)
    saved = checkpoint_metadata(tmp_path / CHECKPOINT_NAME)["steps"]
    assert 10 <= saved <= learner.steps_done  # the periodic checkpoint, not a save of the diverged state
