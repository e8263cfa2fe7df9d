"""SAC and AVG behind the real link: streamed transitions are learned from through Learner.train's own loop, the
actor runs the weights that come back, and SAC from pixels sends its camera frames within the frame cap."""

import threading

import gymnasium as gym
import numpy as np
import pytest
import torch

from robolearn.learners.avg import AVG, AVGConfig
from robolearn.learners.sac import SAC, SACConfig
from robolearn.link.acting import act, actor_policy
from robolearn.link.actor import ActorLink
from robolearn.link.handshake import Identity
from robolearn.link.learner import LearnerServer
from robolearn.link.training import LinkTraining, link_learner

TINY = SACConfig(critic_ensemble=2, hidden_sizes=[32, 32], batch_size=16, utd=2, learning_starts=20,
                 eval_every=10**9, demos="none")
TINY_AVG = AVGConfig.from_preset("pendulum_balance", hidden_size=32, eval_every=0)
IDENTITY = Identity(b"sac-link-test-key-0123456789", "tiny", "pendulum", "Pendulum-v1")


def pendulum():
    return gym.wrappers.RescaleAction(gym.make("Pendulum-v1"), -1.0, 1.0)


def train_over_link(learner, actor_env, config, algo, ticks, utd_cap, rate_hz=200.0):
    """Learner.train fed by the link in a thread; the actor's control loop here. Returns (training, report, policy)."""
    server = LearnerServer(IDENTITY, heartbeat_s=0.05, actor_timeout_s=1.0)
    training = LinkTraining(link_learner(learner), server, publish_every=2, utd_cap=utd_cap)
    failures = []

    def learn():
        try:
            learner.train(ticks, progress=False, step=training.step)
        except BaseException as exc:  # surfaced in the test's thread
            failures.append(exc)

    learning = threading.Thread(target=learn, daemon=True)
    learning.start()
    policy = actor_policy(algo, actor_env, config)
    initial = {k: v.clone() for k, v in policy.net.state_dict().items()}
    link = ActorLink(IDENTITY, *server.address, timeout_s=1.0)
    try:
        report = act(actor_env, policy, link, rate_hz, ticks, first_weights_s=10)
        learning.join(60)
    finally:
        link.close()
        server.close()
    assert not failures, failures
    assert not learning.is_alive(), "the learner never got all the transitions"
    moved = [k for k in initial if not torch.equal(initial[k], policy.net.state_dict()[k])]
    return training, report, moved, policy


def test_sac_learns_from_streamed_transitions_and_the_actor_runs_its_weights():
    sac = SAC(pendulum(), TINY, "cpu")
    training, report, moved, _ = train_over_link(sac, pendulum(), TINY, "sac", 200, utd_cap=0.5)
    assert training.transitions == 200 == sac.env_steps and training.server.stats.duplicates == 0
    assert sac.updates > 0
    # measured, and never above the cap: half a round per transition received once learning started
    assert 0 < training.rounds <= 0.5 * training.eligible <= 0.5 * (200 - TINY.learning_starts)
    assert training.update_to_data == training.rounds / training.eligible
    assert report.weight_swaps, "no weights reached the actor"
    assert moved, "the actor still runs its initial weights"


def test_avg_updates_once_per_streamed_transition_and_the_actor_swaps_in_its_weights():
    avg = AVG(pendulum(), TINY_AVG, "cpu")
    before = {k: v.clone() for k, v in avg.actor.state_dict().items()}
    training, report, moved, _ = train_over_link(avg, pendulum(), TINY_AVG, "avg", 150, utd_cap=None)
    assert avg.env_steps == 150 and training.adapter.updates == 150  # incremental: exactly one update each
    assert any(not torch.equal(before[k], v) for k, v in avg.actor.state_dict().items())
    assert np.isfinite(avg.last_losses["critic_loss"])
    assert report.weight_swaps and moved
    assert avg.obs_rms.count > 150  # every observation fed the normaliser, as in-process training does


@pytest.mark.slow
def test_avg_over_the_link_learns_the_pendulum_balance_like_in_process():
    """Two seeds over the link against the same seeds in-process on the balance task: the link may cost
    some return (the actor's weights lag), not the learning."""
    from robolearn.training import make_env

    returns = {"link": [], "local": []}
    for seed in (0, 1):
        config = AVGConfig.from_preset("pendulum_balance", seed=seed, eval_every=0)
        avg = AVG(make_env("robolearn/PendulumBalance-v0"), config, "cpu")
        train_over_link(avg, make_env("robolearn/PendulumBalance-v0"), config, "avg", 3000, None, rate_hz=1000)
        returns["link"].append(avg.evaluate(3)["return_mean"])
        local = AVG(make_env("robolearn/PendulumBalance-v0"), config, "cpu")
        local.train(3000, progress=False)
        returns["local"].append(local.evaluate(3)["return_mean"])
    untrained = AVG(make_env("robolearn/PendulumBalance-v0"), AVGConfig.from_preset("pendulum_balance"), "cpu")
    baseline = untrained.evaluate(3)["return_mean"]
    assert np.mean(returns["link"]) > baseline + 0.5 * (np.mean(returns["local"]) - baseline), (returns, baseline)


def test_sac_from_pixels_sends_frames_under_the_cap_and_the_actor_gets_the_encoder():
    from robolearn.training import make_env

    config = SACConfig(critic_ensemble=2, hidden_sizes=[32, 32], batch_size=8, utd=1, learning_starts=10,
                       eval_every=10**9, demos="none", image_feature_dim=8, buffer_size=200)  # 2 x 84x84x3 frames a step
    sac = SAC(make_env("robolearn/PendulumBalance-v0", image=True), config, "cpu")
    actor_env = make_env("robolearn/PendulumBalance-v0", image=True)
    before = {k: v.clone() for k, v in sac.critic.encoder.state_dict().items()}
    training, report, moved, policy = train_over_link(sac, actor_env, config, "sac", 100, utd_cap=1.0, rate_hz=50)
    assert sac.env_steps == 100 and sac.updates > 0
    assert sac.online.images[:100].any()  # the frames arrived whole
    assert any(not torch.equal(before[k], v) for k, v in sac.critic.encoder.state_dict().items())
    assert report.weight_swaps and moved
    # the actor's encoder is the learner's as of the last weights it swapped in (it moved off its own init)
    assert any(not torch.equal(before[k], v) for k, v in policy.encoder.state_dict().items())
