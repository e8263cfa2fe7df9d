"""AVG, Action Value Gradient (Vasan et al., NeurIPS 2024, arXiv 2411.15370): incremental deep RL.

One env step, one update, batch size 1, no replay buffer and no target network, so it runs on a robot's
own computer at the control rate. A reparameterised tanh-Gaussian actor climbs the gradient of one
critic with a fixed entropy weight eta. Three stabilisers make batch-1 updates work: running observation
normalisation, L2 normalisation of the penultimate features of both networks, and TD errors divided by a
return-based scale (robolearn.learners.td_scaler).

Per step, with the action A = tanh(u) and its log-probability l sampled at S before the env step:

    critic:  delta = (R + (1 - terminated) * gamma * [Q(S', A') - eta log pi(A'|S')] - Q(S, sg A)) / sigma
             L_Q = delta^2,  A' ~ pi(.|S') drawn without gradient
    actor:   L_pi = eta * l - Q(S, A)   (the executed sample; its gradient reaches the actor through Q)

Both losses are taken at the parameters from before this step's update. Here they are summed into one
backward pass: the actor's Q(S, A) runs through a detached view of the critic's weights, so the actor
loss puts no gradient on the critic and the critic loss none on the actor (its action is detached).
One fused Adam with a parameter group per network then steps both, which is the reference's
"step actor, zero critic grads, step critic" with fewer kernel launches.

On a RobotEnv whose safety layer changed the command, the critic's S-A input is the action the robot
executed (info["applied_action"]), so it learns the value of what really happened; the actor's gradient
still flows through its own sample.

Learning rates and eta are task-dependent: use `AVGConfig.from_preset(name)` (PRESETS) rather than
the dataclass defaults, which are the reference's MuJoCo (Ant/HalfCheetah/Humanoid) values.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from typing import Any, Mapping, Sequence

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from robolearn.learners.base import ConfigError, Learner, LearnerConfig, seeded_initialisation
from robolearn.learners.distributions import sample_tanh_gaussian
from robolearn.learners.normalizers import RunningMeanStd
from robolearn.learners.networks import make_adam
from robolearn.learners.run import finite_or_raise
from robolearn.learners.td_scaler import TDScaler

FEATURE_NORM_EPS = 1e-6

# Values from the reference implementation's README (gauthamvasan/avg) for its benchmark families, plus
# robolearn's own tasks (tuned here with seeded runs: see configs/avg_*.yaml and bench/bench_avg.py).
PRESETS: dict[str, dict[str, float]] = {
    "mujoco_default": dict(actor_lr=6.3e-3, critic_lr=8.7e-3, entropy_coef=0.07, gamma=0.99),  # Ant, Cheetah
    "hopper_walker": dict(actor_lr=1.1e-5, critic_lr=7.7e-5, entropy_coef=0.3, gamma=0.99),
    "reacher": dict(actor_lr=3e-6, critic_lr=4.9e-3, entropy_coef=0.05, gamma=0.97),  # dm_control reacher_hard
    "dog": dict(actor_lr=6e-6, critic_lr=8e-5, entropy_coef=0.009, gamma=0.95),  # dog walk / trot / stand
    "dog_run": dict(actor_lr=1.8e-5, critic_lr=4.8e-5, entropy_coef=0.007, gamma=0.97),
    "finger_spin": dict(actor_lr=3.8e-4, critic_lr=8.7e-5, entropy_coef=0.006, gamma=0.95, beta1=0.9),
    "pendulum_balance": dict(actor_lr=3e-4, critic_lr=8e-3, entropy_coef=0.03, gamma=0.97),
    "arm_reach": dict(actor_lr=3e-4, critic_lr=8e-3, entropy_coef=0.03, gamma=0.97),
}


@dataclasses.dataclass
class AVGConfig(LearnerConfig):
    actor_lr: float = 6.3e-3
    critic_lr: float = 8.7e-3
    entropy_coef: float = 0.07  # eta, fixed (the reference calls it alpha_lr)
    gamma: float = 0.99
    beta1: float = 0.0  # Adam's first-moment decay; 0 except where a preset says otherwise
    hidden_size: int = 256
    normalize_observations: bool = True
    penultimate_normalization: bool = True
    scale_td: bool = True
    carry_return_over_truncation: bool = False  # reference quirk, see TDScaler
    eval_every: int = 5_000  # env steps between deterministic evaluations; 0 = never
    eval_episodes: int = 5

    def validate(self) -> None:
        super().validate()
        for name in ("actor_lr", "critic_lr"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise ConfigError(f"{name} must be in (0, 1), got {getattr(self, name)}")
        if self.entropy_coef < 0.0:
            raise ConfigError(f"entropy_coef must be >= 0, got {self.entropy_coef}")
        if not 0.0 <= self.gamma <= 1.0:
            raise ConfigError(f"gamma must be in [0, 1], got {self.gamma}")
        if not 0.0 <= self.beta1 < 1.0:
            raise ConfigError(f"beta1 must be in [0, 1), got {self.beta1}")
        if self.hidden_size <= 0:
            raise ConfigError(f"hidden_size must be > 0, got {self.hidden_size}")
        if self.eval_every < 0 or self.eval_episodes <= 0:
            raise ConfigError("eval_every must be >= 0 (0 disables) and eval_episodes > 0")

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> "AVGConfig":
        """The preset's values, then `overrides` (any AVGConfig field), validated."""
        if name not in PRESETS:
            raise ConfigError(f"unknown AVG preset {name!r}; known: {sorted(PRESETS)}")
        return cls.from_dict({**PRESETS[name], **overrides}, f"AVG preset {name!r}")


class NormalizedMLP(nn.Module):
    """in -> hidden -> LeakyReLU -> hidden -> LeakyReLU -> L2-normalise -> out.

    Orthogonal weights (gain 1), zero biases. `forward` optionally takes the six weight tensors to use
    instead of its own, which is how the actor's loss sees a gradient-free view of the critic.
    """

    def __init__(self, in_dim: int, out_dim: int, hidden: int, normalize_features: bool = True) -> None:
        super().__init__()
        self.hidden1 = nn.Linear(in_dim, hidden)
        self.hidden2 = nn.Linear(hidden, hidden)
        self.head = nn.Linear(hidden, out_dim)
        self.normalize_features = normalize_features
        for layer in (self.hidden1, self.hidden2, self.head):
            nn.init.orthogonal_(layer.weight)
            nn.init.zeros_(layer.bias)

    def weights(self) -> tuple[torch.Tensor, ...]:
        return (self.hidden1.weight, self.hidden1.bias, self.hidden2.weight, self.hidden2.bias,
                self.head.weight, self.head.bias)

    def features(self, x: torch.Tensor, weights: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        """Penultimate features phi (unit L2 norm per row when `normalize_features`)."""
        w1, b1, w2, b2 = (weights or self.weights())[:4]
        h = F.leaky_relu(F.linear(x, w1, b1))
        h = F.leaky_relu(F.linear(h, w2, b2))
        return F.normalize(h, dim=-1, eps=FEATURE_NORM_EPS) if self.normalize_features else h

    def forward(self, x: torch.Tensor, weights: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        w = weights or self.weights()
        return F.linear(self.features(x, w), w[4], w[5])


class AVGPolicy(nn.Module):
    """Deterministic export policy: raw features [B, obs_dim] -> tanh(actor mean) in [-1, 1]^n.

    The observation normaliser is a frozen copy, so ONNX export bakes it into the graph.
    """

    def __init__(self, normalizer: nn.Module, actor: NormalizedMLP, action_dim: int) -> None:
        super().__init__()
        self.normalizer = normalizer
        self.actor = actor
        self.action_dim = action_dim

    def forward(self, observation: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.actor(self.normalizer(observation))[..., : self.action_dim])


class AVG(Learner):
    algo = "avg"
    config_class = AVGConfig
    config: AVGConfig

    def __init__(self, env, config: AVGConfig | None = None, device: str | torch.device = "auto") -> None:
        super().__init__(env, config, device)
        cfg = self.config
        # The learner's own stream for action noise: resumable, and independent of other torch users.
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(cfg.seed)
        self.obs_dim = int(env.observation_space.shape[0])
        self.action_dim = int(env.action_space.shape[0])
        with seeded_initialisation(cfg.seed):
            self.actor = NormalizedMLP(self.obs_dim, 2 * self.action_dim, cfg.hidden_size,
                                       cfg.penultimate_normalization).to(self.device)
            self.critic = NormalizedMLP(self.obs_dim + self.action_dim, 1, cfg.hidden_size,
                                        cfg.penultimate_normalization).to(self.device)
        # Views share storage with the critic's parameters, so they follow every in-place optimiser step
        # (and load_state_dict's copy) without being rebuilt.
        self._critic_no_grad = tuple(w.detach() for w in self.critic.weights())
        self.optimizer = make_adam([
            {"params": list(self.actor.parameters()), "lr": cfg.actor_lr},
            {"params": list(self.critic.parameters()), "lr": cfg.critic_lr},
        ], cfg.actor_lr, betas=(float(cfg.beta1), 0.999))
        self.obs_rms = RunningMeanStd((self.obs_dim,))
        self.td_scaler = TDScaler(cfg.gamma, cfg.carry_return_over_truncation)
        self.env_steps = 0
        self.episodes = 0
        self.episode_return = 0.0
        self.episode_length = 0
        self._obs: torch.Tensor | None = None  # normalised current observation; None = reset due
        self.last_losses = {"actor_loss": float("nan"), "critic_loss": float("nan")}

    # ---- spaces and observations -------------------------------------------------------------------

    def check_spaces(self, observation_space, action_space) -> None:
        if not isinstance(observation_space, gym.spaces.Box) or len(observation_space.shape) != 1:
            raise ConfigError(
                f"AVG takes flat feature vectors (a 1-D Box), got {observation_space}; image or dict "
                f"observations are not supported: build the env with image=False or use the SAC learner")
        if not np.issubdtype(observation_space.dtype, np.floating):
            raise ConfigError(f"AVG needs float observations, got dtype {observation_space.dtype} "
                              f"(uint8 images are not supported)")
        if not isinstance(action_space, gym.spaces.Box) or len(action_space.shape) != 1:
            raise ConfigError(f"AVG needs a continuous 1-D Box action space, got {action_space}")
        if not (np.allclose(action_space.low, -1.0) and np.allclose(action_space.high, 1.0)):
            raise ConfigError(
                f"AVG acts in [-1, 1]^n but the action space is [{action_space.low}, {action_space.high}]: "
                f"wrap the env with gymnasium.wrappers.RescaleAction(env, -1.0, 1.0)")

    def _observation_tensor(self, observation: Any, update_normalizer: bool) -> torch.Tensor:
        obs = np.asarray(observation, dtype=np.float64)
        if obs.shape != (self.obs_dim,):
            raise ValueError(f"observation has shape {obs.shape}, expected ({self.obs_dim},)")
        if self.config.normalize_observations:
            if update_normalizer:
                self.obs_rms.update(obs)
            obs = self.obs_rms.normalize(obs)
        return torch.from_numpy(obs.astype(np.float32)).to(self.device).unsqueeze(0)

    def _sample(self, obs: torch.Tensor, deterministic: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_std = self.actor(obs).chunk(2, dim=-1)
        return sample_tanh_gaussian(mean, log_std, deterministic, self.generator)

    # ---- the algorithm --------------------------------------------------------------------------------

    def update(self, obs: torch.Tensor, action: torch.Tensor, log_prob: torch.Tensor, reward: float,
               terminated: bool, truncated: bool, next_obs: torch.Tensor,
               applied_action: torch.Tensor | None = None) -> dict[str, Any]:
        """One AVG update from one transition. `action` and `log_prob` are the sample taken at `obs` (with
        its graph) that was sent; obs tensors are normalised, shaped [1, obs_dim]. `applied_action` is what
        the robot executed after the safety layer, when that differs: the critic learns the value of what
        really happened, while the actor's gradient still flows through its own sample."""
        eta, gamma = self.config.entropy_coef, self.config.gamma
        self.td_scaler.push(reward - eta * log_prob.item(), terminated, truncated)
        sigma = self.td_scaler.sigma if self.config.scale_td else 1.0

        with torch.no_grad():
            next_action, next_log_prob = self._sample(next_obs)
        # One critic pass for Q(S, sg A), which the critic learns, and Q(S', A'), the detached target.
        executed = action.detach() if applied_action is None else applied_action
        critic_in = torch.cat((torch.cat((obs, executed), -1), torch.cat((next_obs, next_action), -1)))
        q, q_next = self.critic(critic_in).view(2)
        bootstrap = 0.0 if terminated else gamma
        target = reward + bootstrap * (q_next.detach() - eta * next_log_prob.squeeze(0))
        critic_loss = ((target - q) / sigma).square()
        actor_loss = eta * log_prob.squeeze(0) - self.critic(torch.cat((obs, action), -1),
                                                             self._critic_no_grad).squeeze()
        self.optimizer.zero_grad(set_to_none=True)
        (actor_loss + critic_loss).backward()
        self.optimizer.step()
        return {"actor_loss": actor_loss.detach(), "critic_loss": critic_loss.detach(), "sigma": sigma}

    def _applied_action(self, info: Mapping[str, Any], sent: np.ndarray) -> torch.Tensor | None:
        """RobotEnv reports the safety-filtered command in policy space; None when it equals what was sent."""
        applied = info.get("applied_action")
        if applied is None:
            return None
        applied = np.asarray(applied, dtype=np.float32)
        if applied.shape != sent.shape or not np.isfinite(applied).all() or np.abs(applied - sent).max() <= 1e-6:
            return None
        return torch.from_numpy(applied).to(self.device).unsqueeze(0)

    def _episode_seed(self) -> int:
        # Per-episode reset seeds make a resumed run replay the same episodes as an uninterrupted one.
        return int(np.random.SeedSequence([self.config.seed, self.episodes]).generate_state(1)[0])

    def _start_episode(self) -> None:
        observation, _ = self.env.reset(seed=self._episode_seed())
        self._obs = self._observation_tensor(observation, update_normalizer=True)
        self.episode_return, self.episode_length = 0.0, 0

    def step(self) -> tuple[bool, dict[str, Any]]:
        """One env step and one update. Returns (episode ended, losses)."""
        if self._obs is None:
            self._start_episode()
        obs = self._obs
        started = time.perf_counter()
        action, log_prob = self._sample(obs)
        env_action = action.detach().cpu().numpy()[0]
        if not np.all(np.isfinite(env_action)):
            raise FloatingPointError(
                f"AVG produced a non-finite action at step {self.env_steps}; nothing was sent to the env. The "
                f"networks diverged: lower actor_lr/critic_lr or resume from the last checkpoint")
        acted = time.perf_counter()
        next_observation, reward, terminated, truncated, info = self.env.step(env_action)
        observed = time.perf_counter()
        reward = self._finite_reward(reward, "env returned")
        next_obs = self._observation_tensor(next_observation, update_normalizer=True)
        losses = self.update(obs, action, log_prob, reward, bool(terminated), bool(truncated), next_obs,
                             self._applied_action(info, env_action))
        self.compute_budget.add((acted - started) + (time.perf_counter() - observed))
        return self._count_step(reward, terminated, truncated, next_obs), losses

    def _finite_reward(self, reward: Any, source: str) -> float:
        reward = float(reward)
        if not np.isfinite(reward):
            raise FloatingPointError(f"{source} reward {reward} at step {self.env_steps}: fix the task's reward")
        return reward

    def _count_step(self, reward: float, terminated: bool, truncated: bool, next_obs: torch.Tensor) -> bool:
        """The step's bookkeeping, shared by the in-process and the streamed step. Returns whether the episode
        ended."""
        self.env_steps += 1
        self.episode_return += reward
        self.episode_length += 1
        ended = bool(terminated or truncated)
        if ended:
            self.episodes += 1
        # None after an episode: reset lazily, so a checkpoint taken now lies on an episode boundary.
        self._obs = None if ended else next_obs
        return ended

    # ---- the training loop's hooks (base.py) --------------------------------------------------------

    def on_train_start(self) -> None:
        self._tic, self._tic_steps = time.perf_counter(), self.env_steps
        self.episode_returns: list[float] = []

    def training_step(self) -> dict[str, float]:
        return self._events(*self.step())

    def learn_from_transition(self, observation: Any, action: np.ndarray, reward: float, next_observation: Any,
                              terminated: bool, truncated: bool) -> dict[str, float]:
        """One AVG update from a transition an actor collected in another process (robolearn.link), then the
        same bookkeeping as `training_step`. The critic learns the value of the executed `action`; the actor's
        gradient flows through a fresh sample at `observation` from the current weights (the actor drew its
        sample with older weights, and its graph does not cross processes). Each observation feeds the
        normaliser once, as in `step`."""
        starts_episode = self._obs is None  # here: the previous streamed transition ended an episode
        if starts_episode:
            self.episode_return, self.episode_length = 0.0, 0
        obs = self._observation_tensor(observation, update_normalizer=starts_episode)
        reward = self._finite_reward(reward, "the actor sent")
        next_obs = self._observation_tensor(next_observation, update_normalizer=True)
        sample, log_prob = self._sample(obs)
        executed = torch.as_tensor(np.asarray(action, np.float32), device=self.device).reshape(1, -1)
        losses = self.update(obs, sample, log_prob, reward, bool(terminated), bool(truncated), next_obs, executed)
        return self._events(self._count_step(reward, terminated, truncated, next_obs), losses)

    def _events(self, ended: bool, losses: Mapping[str, Any]) -> dict[str, float]:
        self._record_losses(losses)  # every step: a divergence stops the run where it starts
        self._td_sigma = float(losses["sigma"])
        if not ended:
            return {}
        self.episode_returns.append(self.episode_return)
        return {"train/episode_return": self.episode_return, "train/episode_length": self.episode_length}

    def training_metrics(self) -> dict[str, float]:
        toc = time.perf_counter()
        rate = (self.env_steps - self._tic_steps) / max(toc - self._tic, 1e-9)
        self._tic, self._tic_steps = toc, self.env_steps
        return {**{f"train/{k}": v for k, v in self.last_losses.items()}, "train/td_sigma": self._td_sigma,
                "time/steps_per_second": rate, **self.compute_budget.summary()}

    def training_summary(self) -> dict:
        return {"env_steps": self.env_steps, "episodes": self.episodes, "episode_returns": self.episode_returns,
                "eval": self.last_eval, **self.last_losses}

    def _record_losses(self, losses: Mapping[str, Any]) -> None:
        self.last_losses = {k: finite_or_raise(k, float(losses[k])) for k in ("actor_loss", "critic_loss")}

    def act(self, observation: Any, deterministic: bool = True) -> np.ndarray:
        obs = self._observation_tensor(observation, update_normalizer=False)
        with torch.no_grad():
            action, _ = self._sample(obs, deterministic)
        return action[0].cpu().numpy()

    def policy(self) -> nn.Module:
        normalizer = self.obs_rms.torch_module() if self.config.normalize_observations else nn.Identity()
        return AVGPolicy(normalizer, copy.deepcopy(self.actor).cpu(), self.action_dim).eval()

    def state_dict(self) -> dict:
        return {
            "actor": self.actor.state_dict(),
            "critic": self.critic.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "obs_rms": self.obs_rms.state_dict(),
            "td_scaler": self.td_scaler.state_dict(),
            "env_steps": self.env_steps,
            "episodes": self.episodes,
            "episode_return": self.episode_return,
            "episode_length": self.episode_length,
            "mid_episode": self._obs is not None,
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.obs_rms.load_state_dict(state["obs_rms"])
        self.td_scaler.load_state_dict(state["td_scaler"])
        self.generator.set_state(state["generator"])
        self.env_steps = int(state["env_steps"])
        self.episodes = int(state["episodes"])
        self.episode_return = float(state["episode_return"])
        self.episode_length = int(state["episode_length"])
        self._obs = None
        if state["mid_episode"]:
            # The env's internal state is not in the checkpoint: the interrupted episode ends here, like a
            # truncation, and training resumes at a fresh episode.
            self.td_scaler.drop_episode()
            self.episodes += 1

    def load_for_fine_tuning(self, state: Mapping[str, Any]) -> tuple[list[str], list[str]]:
        """Networks and the statistics their inputs and TD errors are scaled by carry over; the optimiser and
        counters start afresh."""
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        self.obs_rms.load_state_dict(state["obs_rms"])
        self.td_scaler.load_state_dict(state["td_scaler"])
        self.td_scaler.drop_episode()  # the source run's unfinished episode is not this run's
        kept = ["actor and critic weights (the policy and its values)",
                f"TD-error scale statistics (sigma = {self.td_scaler.sigma:.4g}: same task, same reward scale)"]
        if self.config.normalize_observations:
            kept.insert(1, "observation normaliser (the trained weights expect inputs scaled by these statistics; "
                           "it keeps adapting to the new robot)")
        reset = ["optimiser moments (Adam restarts on the new data)",
                 "step and episode counters, action-noise generator (a new run, seeded by this config)"]
        return kept, reset
