"""The one training loop under faults a real run meets, for every learner (test_learner_loop.py covers the
loop's own contract with a patched step): SIGINT in the middle of an optimiser step saves a checkpoint that
resumes with the same weights and metrics in step order; NaN written into every trained network at each place
within an update stops the run before any action of the diverged policy reaches the env, keeping the last
finite checkpoint; a non-finite learner is never saved; building a learner leaves global RNG and thread state
alone.

Faults come through the learner's own optimisers (step post-hooks), so the test needs no other knowledge of a
learner's internals.
"""

from __future__ import annotations

import os
import signal

import gymnasium as gym
import numpy as np
import pytest
import torch

import robolearn  # noqa: F401  (registers the robolearn/ ids)
from robolearn.learners.base import CHECKPOINT_NAME, Learner, learner_class, seed_everything
from robolearn.learners.checkpoint import CheckpointError, checkpoint_metadata
from robolearn.learners.run import StopRequested

torch.set_num_threads(1)

EPISODE = 40
# Small enough for a 2-core machine, large enough that every learner updates before the fault.
CONFIGS = {
    "sac": dict(hidden_sizes=[32, 32], critic_ensemble=2, batch_size=16, learning_starts=20, random_steps=20,
                buffer_size=1000, eval_every=10**9, demos="none", checkpoint_every=EPISODE, log_every=EPISODE),
    "avg": dict(hidden_size=32, eval_every=0, checkpoint_every=EPISODE, log_every=EPISODE),
    "fpg": dict(checkpoint_every=EPISODE, log_every=1, window=10),
    "lipbc": dict(hidden_sizes=[16, 16], batch_size=32, demo_episodes=2, eval_episodes=0, bound_starts=8,
                  bound_steps=5, checkpoint_every=EPISODE, log_every=EPISODE),
}
TOTAL = 6 * EPISODE


class ActionsSeen(gym.Wrapper):
    """Records whether any non-finite action reached the env (on a robot: a command to the motors)."""

    non_finite = 0

    def step(self, action):
        ActionsSeen.non_finite += int(not np.isfinite(np.asarray(action, dtype=np.float64)).all())
        return self.env.step(action)


def make_env() -> gym.Env:
    return ActionsSeen(gym.make("robolearn/PendulumBalance-v0", max_episode_steps=EPISODE))


def make_learner(algo: str) -> Learner:
    cls = learner_class(algo)
    return cls(make_env(), cls.config_class.from_dict(CONFIGS[algo]), "cpu")


class AfterOptimizerSteps:
    """Calls `fault(optimizer)` once, right after the `n`-th step of any of the learner's optimisers (not
    those of helpers such as LipBC's Lipschitz lower-bound search)."""

    def __init__(self, learner: Learner, n: int, fault) -> None:
        self.n, self.fault, self.steps, self.fired_at = n, fault, 0, None
        self.optimizers = [v for v in vars(learner).values() if isinstance(v, torch.optim.Optimizer)]
        assert self.optimizers, f"{type(learner).__name__} keeps no optimiser attribute"

    def __enter__(self):
        self._handles = [opt.register_step_post_hook(self._hook) for opt in self.optimizers]
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()

    def _hook(self, optimizer, args, kwargs) -> None:
        self.steps += 1
        if self.steps == self.n:
            self.fired_at = self.steps
            self.fault(optimizer)


def sigint(optimizer) -> None:
    os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C in the terminal does


def nan_weights(optimizer) -> None:
    with torch.no_grad():
        for group in optimizer.param_groups:
            for p in group["params"]:
                p.fill_(float("nan"))


def parameters(learner: Learner) -> list[torch.Tensor]:
    module = learner.policy()
    return [p.detach().clone() for p in module.parameters()] + [b.detach().clone() for b in module.buffers()]


@pytest.fixture(autouse=True)
def restore_sigint():
    previous = signal.getsignal(signal.SIGINT)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.parametrize("algo", sorted(CONFIGS))
def test_ctrl_c_saves_a_checkpoint_that_resumes(algo, tmp_path):
    learner = make_learner(algo)
    learner.train(EPISODE, run_dir=tmp_path, progress=False)  # optimisers warmed up, first checkpoint written
    with AfterOptimizerSteps(learner, 3, sigint), pytest.raises(KeyboardInterrupt) as caught:
        learner.train(TOTAL, run_dir=tmp_path, progress=False)
    assert isinstance(caught.value, StopRequested), "a held Ctrl-C ends the step first, then stops"
    stopped_at = learner.steps_done
    assert EPISODE < stopped_at < TOTAL
    checkpoint = tmp_path / CHECKPOINT_NAME
    assert checkpoint_metadata(checkpoint)["steps"] == stopped_at, "the checkpoint holds where it stopped"
    assert signal.getsignal(signal.SIGINT) is not None and not list(tmp_path.glob(".*.tmp"))

    resumed = Learner.load(checkpoint, make_env(), device="cpu")
    assert resumed.steps_done == stopped_at
    for saved, live in zip(parameters(resumed), parameters(learner)):
        torch.testing.assert_close(saved, live, rtol=0, atol=0, equal_nan=False)
    resumed.train(stopped_at + EPISODE, run_dir=tmp_path, progress=False)
    assert resumed.steps_done >= stopped_at + EPISODE
    steps = [int(row.split(",")[0]) for row in (tmp_path / "metrics.csv").read_text().splitlines()[1:]]
    assert steps == sorted(steps), "metrics never go back in steps across the interruption"


@pytest.mark.parametrize("nth", [3, 4, 5])  # consecutive optimiser steps: each place within an update
@pytest.mark.parametrize("algo", sorted(CONFIGS))
def test_divergence_stops_at_its_update_and_keeps_the_last_finite_checkpoint(algo, nth, tmp_path):
    learner = make_learner(algo)
    learner.train(EPISODE, run_dir=tmp_path, progress=False)
    checkpoint = tmp_path / CHECKPOINT_NAME
    steps_at = {}
    ActionsSeen.non_finite = 0

    def poison(optimizer) -> None:
        steps_at["fault"] = learner.steps_done
        for each in fault.optimizers:  # every network the learner trains, policy included
            nan_weights(each)

    with AfterOptimizerSteps(learner, nth, poison) as fault, pytest.raises(FloatingPointError) as caught:
        learner.train(TOTAL, run_dir=tmp_path, progress=False)
    assert fault.fired_at is not None, "the learner took too few optimiser steps for the test"
    assert "diverged" in str(caught.value) or "non-finite" in str(caught.value)
    # Stopped at the update where the weights went bad (AVG counts that step after its update), before a
    # single action of the diverged policy reached the env.
    assert steps_at["fault"] <= learner.steps_done <= steps_at["fault"] + 1
    assert ActionsSeen.non_finite == 0
    kept = checkpoint_metadata(checkpoint)["steps"]
    assert EPISODE <= kept <= steps_at["fault"]
    restored = Learner.load(checkpoint, make_env(), device="cpu")  # finite: loads
    assert all(torch.isfinite(p).all() for p in parameters(restored))
    assert np.isfinite(restored.act(make_env().reset(seed=0)[0])).all()


@pytest.mark.parametrize("algo", sorted(CONFIGS))
def test_a_non_finite_learner_is_never_saved(algo, tmp_path):
    learner = make_learner(algo)
    learner.train(EPISODE, run_dir=tmp_path, progress=False)
    checkpoint = tmp_path / CHECKPOINT_NAME
    good = checkpoint.read_bytes()
    trained = [v for v in vars(learner).values() if isinstance(v, torch.nn.Module) and next(v.parameters(), None) is not None]
    with torch.no_grad():
        next(trained[0].parameters()).fill_(float("inf"))
    with pytest.raises((FloatingPointError, CheckpointError)):
        learner.save(checkpoint)
    assert checkpoint.read_bytes() == good



def learner_weights(learner: Learner) -> list[torch.Tensor]:
    modules = [v for v in vars(learner).values() if isinstance(v, torch.nn.Module)]
    return [p.detach().clone() for m in modules for p in m.parameters()]


@pytest.mark.parametrize("algo", sorted(CONFIGS))
def test_building_a_learner_leaves_global_rng_and_thread_state_alone(algo):
    # Seeds and threads are set once, where a run starts (robolearn.training.start_run), never by a learner;
    # its initial weights come from its config's seed alone.
    import random

    cls = learner_class(algo)
    weights = []
    for run_seed, config_seed in ((1, 7), (2, 7), (1, 8)):
        torch.set_num_threads(1)
        seed_everything(run_seed)
        torch_rng, numpy_rng, python_rng = torch.get_rng_state(), np.random.get_state(), random.getstate()
        learner = cls(make_env(), cls.config_class.from_dict({**CONFIGS[algo], "seed": config_seed}), "cpu")
        assert torch.get_num_threads() == 1
        assert torch.equal(torch.get_rng_state(), torch_rng), "building the learner moved torch's global RNG"
        assert random.getstate() == python_rng and np.array_equal(np.random.get_state()[1], numpy_rng[1])
        weights.append(learner_weights(learner))
    same_config, other_run, other_config = weights
    assert same_config and all(torch.equal(x, y) for x, y in zip(same_config, other_run))
    assert not all(torch.equal(x, z) for x, z in zip(same_config, other_config))
