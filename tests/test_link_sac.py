"""SAC's update behind the real link: streamed transitions are learned from and its actor's weights arrive."""

import threading

import gymnasium as gym
import numpy as np
import torch

from robolearn.learners.sac import SAC, SACConfig
from robolearn.link.actor import ActorLink, control_loop
from robolearn.link.handshake import Identity
from robolearn.link.learner import LearnerServer
from robolearn.link.sac_adapter import SacActorPolicy, SacLinkLearner

TINY = SACConfig(critic_ensemble=2, hidden_sizes=[32, 32], batch_size=16, utd=2, learning_starts=20,
                 eval_every=10**9, demos="none")
IDENTITY = Identity(b"sac-link-test-key-0123456789", "tiny", "pendulum", "Pendulum-v1")


def pendulum():
    return gym.wrappers.RescaleAction(gym.make("Pendulum-v1"), -1.0, 1.0)


def test_sac_learns_from_streamed_transitions_and_the_actor_runs_its_weights():
    learner_sac = SAC(pendulum(), TINY, "cpu")
    adapter = SacLinkLearner(learner_sac, publish_every=2, max_rounds_per_transition=0.5)
    server = LearnerServer(IDENTITY, heartbeat_s=0.05, actor_timeout_s=1.0)
    stop = threading.Event()
    serving = threading.Thread(target=server.serve, args=(adapter, stop.is_set), daemon=True)
    serving.start()

    env = pendulum()
    policy = SacActorPolicy(3, 1, TINY)
    initial = {k: v.clone() for k, v in policy.net.state_dict().items()}
    link = ActorLink(IDENTITY, *server.address, timeout_s=1.0)
    state = {"obs": env.reset(seed=0)[0]}

    def step():
        action = policy(state["obs"])
        next_obs, reward, terminated, truncated, _ = env.step(action)
        link.send_transition(obs=state["obs"].astype(np.float32), action=action.astype(np.float32),
                             reward=np.float32(reward), next_obs=next_obs.astype(np.float32),
                             terminated=np.bool_(terminated), truncated=np.bool_(truncated))
        state["obs"] = env.reset()[0] if terminated or truncated else next_obs

    try:
        report = control_loop(step, 0.005, 200, link, apply_weights=lambda version, w: policy.load(w))
        assert server.wait_connected(1)
        # let the learner drain what is in flight
        for _ in range(200):
            if adapter.transitions == 200:
                break
            threading.Event().wait(0.02)
    finally:
        stop.set()
        serving.join(5)
        link.close()
        server.close()
    assert adapter.transitions == 200 and server.stats.duplicates == 0
    assert learner_sac.updates > 0
    assert 0.4 <= adapter.update_to_data <= 0.5  # the cap: half a round per transition after learning_starts
    assert report.weight_swaps, "no weights reached the actor"
    changed = [k for k in initial if not torch.equal(initial[k], policy.net.state_dict()[k])]
    assert changed, "the actor still runs its initial weights"
