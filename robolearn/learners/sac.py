"""SAC with the SERL / RLPD recipe: a LayerNorm critic ensemble (one batched module), targets from the
min of 2 randomly chosen target members, actor trained on the ensemble mean, several critic updates per
actor update, and batches split between online data and demonstrations. Image observations go through a
conv encoder that only the critic trains (the actor sees stop-gradient features), with random-shift
augmentation, trainable end to end or frozen from a weights file.

With `critic_ensemble=2, layer_norm=False, utd=1, actor_q="min", backup_entropy=True`, no demos and
target entropy -|A| it is the SAC of Stable-Baselines3 (configs/sac_sb3.yaml), for benchmarking.
"""

from __future__ import annotations

import copy
import dataclasses
import time
import warnings
from typing import Any, ClassVar, Mapping

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from robolearn.data.demos import demonstrations_for
from robolearn.data.transitions import Transitions, collect_demonstrations
from robolearn.envs.privileged import NoPrivilegedState, WithPrivilegedState
from robolearn.learners.base import ConfigError, Learner, LearnerConfig, seeded_initialisation
from robolearn.learners.distributions import sample_tanh_gaussian
from robolearn.learners.encoders import ConvEncoder, load_encoder_weights
from robolearn.learners.networks import ACTIVATIONS, EnsembleMLP, make_adam, mlp, polyak_update
from robolearn.learners.replay import Batch, ReplayBuffer, sample_mixed
from robolearn.learners.run import INTERVENTION_RATE, finite_or_raise
from robolearn.tasks.base import task_of


@dataclasses.dataclass
class SACConfig(LearnerConfig):
    removed_fields: ClassVar[dict[str, str]] = {
        "manual_gradients": "SAC computes every gradient with autograd now (one gradient path); delete the line"}

    gamma: float = 0.99
    tau: float = 0.005  # Polyak rate of the target critic (all its parameters, encoder included)
    actor_lr: float = 3e-4
    critic_lr: float = 3e-4
    temperature_lr: float = 3e-4
    init_temperature: float = 1e-2
    target_entropy_scale: float = 0.5  # target entropy = -scale * |A|
    critic_ensemble: int = 10
    critic_subsample: int = 2  # target = min over this many distinct random target members
    actor_q: str = "mean"  # how the actor reduces the ensemble: "mean" (SERL) or "min" (SB3)
    backup_entropy: bool = False  # subtract alpha * log pi in the target (SB3 does, SERL does not)
    hidden_sizes: list = dataclasses.field(default_factory=lambda: [256, 256])
    layer_norm: bool = True
    activation: str = "relu"
    batch_size: int = 256
    utd: int = 4  # critic updates per env step; the last one also updates actor and temperature
    buffer_size: int = 200_000
    learning_starts: int = 200  # online transitions before the first update
    random_steps: int = 0  # uniformly random actions at the start (0 on real robots: demos bootstrap instead)
    demos: str = "auto"  # "auto" (task expert if it has one), "expert", "none", a transitions .npz or a LeRobot dataset
    demo_episodes: int = 20
    demo_fraction: float = 0.5  # share of every batch drawn from the demo buffer
    demo_buffer_size: int = 10_000
    # Human takeovers (HIL-SERL): kept in their own buffer, sampled with the demos in the demo share of a batch.
    intervention_buffer_size: int = 10_000
    eval_every: int = 5_000  # env steps between evaluations (needs a re-creatable env)
    eval_episodes: int = 5
    encoder: str = "drq"  # image encoder: "drq" (trained by the critic) or "frozen" (from encoder_weights)
    encoder_weights: str = ""
    image_feature_dim: int = 50
    augment_pad: int = 4  # random-shift augmentation in pixels (0: off)
    fused_adam: bool = True
    # The critic also reads the sim's privileged true state (info["true_state"]); the actor, and so the
    # exported policy, never does. Simulation only: a real robot has no true state.
    asymmetric_critic: bool = False

    def validate(self) -> None:
        super().validate()
        checks = [
            ("gamma", 0.0 < self.gamma <= 1.0, "in (0, 1]"),
            ("tau", 0.0 < self.tau <= 1.0, "in (0, 1]"),
            ("actor_lr", self.actor_lr > 0, "> 0"),
            ("critic_lr", self.critic_lr > 0, "> 0"),
            ("temperature_lr", self.temperature_lr >= 0, ">= 0 (0 keeps the temperature fixed)"),
            ("init_temperature", self.init_temperature > 0, "> 0"),
            ("target_entropy_scale", np.isfinite(self.target_entropy_scale), "finite"),
            ("critic_ensemble", self.critic_ensemble >= 1, ">= 1"),
            ("critic_subsample", 1 <= self.critic_subsample <= self.critic_ensemble, "in [1, critic_ensemble]"),
            ("actor_q", self.actor_q in ("mean", "min"), "'mean' or 'min'"),
            ("hidden_sizes", len(self.hidden_sizes) > 0 and all(isinstance(h, int) and not isinstance(h, bool)
                                                                and h > 0 for h in self.hidden_sizes),
             "a non-empty list of positive integers"),
            ("activation", self.activation in ACTIVATIONS, f"one of {sorted(ACTIVATIONS)}"),
            ("batch_size", self.batch_size >= 1, ">= 1"),
            ("utd", self.utd >= 1, ">= 1"),
            ("buffer_size", self.buffer_size >= 1, ">= 1"),
            ("learning_starts", self.learning_starts >= 1, ">= 1"),
            ("random_steps", self.random_steps >= 0, ">= 0"),
            ("demo_episodes", self.demo_episodes >= 0, ">= 0"),
            ("demo_fraction", 0.0 <= self.demo_fraction < 1.0, "in [0, 1) (online data must be in every batch)"),
            ("demo_buffer_size", self.demo_buffer_size >= 1, ">= 1"),
            ("intervention_buffer_size", self.intervention_buffer_size >= 1, ">= 1"),
            ("eval_every", self.eval_every > 0, "> 0"),
            ("eval_episodes", self.eval_episodes >= 0, ">= 0"),
            ("encoder", self.encoder in ("drq", "frozen"), "'drq' or 'frozen'"),
            ("image_feature_dim", self.image_feature_dim >= 1, ">= 1"),
            ("augment_pad", self.augment_pad >= 0, ">= 0"),
        ]
        for name, ok, expected in checks:
            if not ok:
                raise ConfigError(f"SACConfig.{name} = {getattr(self, name)!r}: must be {expected}")
        # Cross-field rules: each pair below is valid alone and never learns together.
        if self.learning_starts > self.buffer_size:
            raise ConfigError(f"SACConfig.learning_starts = {self.learning_starts} exceeds buffer_size = "
                              f"{self.buffer_size}: the buffer never holds enough data and no update would ever "
                              "run; lower learning_starts or raise buffer_size")
        if self.batch_size > self.buffer_size:
            raise ConfigError(f"SACConfig.batch_size = {self.batch_size} exceeds buffer_size = {self.buffer_size}: "
                              "a batch could never be filled with distinct data; lower batch_size")
        if self.asymmetric_critic and self.demos not in ("auto", "expert", "none"):
            raise ConfigError("SACConfig.asymmetric_critic needs the privileged state of every stored transition, "
                              f"which a demonstrations file ({self.demos}) lacks: use demos: auto or none")
        if self.encoder == "frozen" and not self.encoder_weights:
            raise ConfigError("SACConfig.encoder = 'frozen' needs encoder_weights (a file from "
                              "robolearn.learners.encoders.save_encoder_weights); use encoder: drq to train it")


class Actor(nn.Module):
    """features -> (mean, log_std) of a tanh-Gaussian."""

    def __init__(self, in_dim: int, act_dim: int, config: SACConfig) -> None:
        super().__init__()
        self.net = mlp(in_dim, config.hidden_sizes, 2 * act_dim, config.layer_norm, config.activation)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_std = self.net(features).chunk(2, dim=-1)
        return mean, log_std


class Critic(nn.Module):
    """Optional image encoder + an ensemble of Q-functions: (state, image, action) -> Q [E, B]."""

    def __init__(self, state_dim: int, act_dim: int, config: SACConfig,
                 image_shape: tuple[int, ...] | None) -> None:
        super().__init__()
        self.encoder = ConvEncoder(image_shape, config.image_feature_dim) if image_shape is not None else None
        feature_dim = state_dim + (config.image_feature_dim if image_shape is not None else 0)
        self.q = EnsembleMLP(config.critic_ensemble, feature_dim + act_dim, config.hidden_sizes, 1,
                             config.layer_norm, config.activation)

    def features(self, state: torch.Tensor, images: torch.Tensor | None, augment_pad: int = 0) -> torch.Tensor:
        if self.encoder is None:
            return state
        return torch.cat([state, self.encoder(images, augment_pad)], dim=-1)

    def q_values(self, features: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return self.q(torch.cat([features, actions], dim=-1)).squeeze(-1)


class DeterministicPolicy(nn.Module):
    """Raw observation (state features [B, n], and uint8 images [B, H, W, C] for pixel tasks) -> tanh(mean)."""

    def __init__(self, actor: Actor, encoder: ConvEncoder | None) -> None:
        super().__init__()
        self.actor = actor
        self.encoder = encoder

    def forward(self, state: torch.Tensor, image: torch.Tensor | None = None) -> torch.Tensor:
        if self.encoder is not None:
            if image is None:
                raise ValueError("this policy was trained on images: call it with (state, image)")
            state = torch.cat([state, self.encoder(image)], dim=-1)
        mean, _ = self.actor(state)
        return torch.tanh(mean)


# ------------------------------------------------------------------------------------------------ losses
def critic_loss(q: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared TD error over every ensemble member and transition (q: [members, batch])."""
    return (q - target).pow(2).mean()


def actor_loss(log_prob: torch.Tensor, q: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """E[alpha log pi(a|s) - Q(s, a)] with a ~ pi(s) reparameterised, Q reduced over the ensemble."""
    return (alpha * log_prob - q).mean()


def temperature_loss(log_alpha: torch.Tensor, log_prob: torch.Tensor, target_entropy: float) -> torch.Tensor:
    """-E[log alpha (log pi(a|s) + target entropy)]: raises alpha while the entropy is below its target."""
    return -(log_alpha * (log_prob.detach() + target_entropy)).mean()


class SAC(Learner):
    algo = "sac"
    config_class = SACConfig
    demos_field = "demos"
    takes_interventions = True
    config: SACConfig

    def __init__(self, env, config: SACConfig | None = None, device: str | torch.device = "auto") -> None:
        super().__init__(env, config, device)
        cfg = self.config
        space = env.observation_space
        self.image_shape = tuple(space["image"].shape) if isinstance(space, gym.spaces.Dict) else None
        state_dim = (space["state"] if self.image_shape else space).shape[0]
        self.act_dim = env.action_space.shape[0]
        self.target_entropy = -cfg.target_entropy_scale * self.act_dim
        # With an asymmetric critic the learner steps a view of the env whose observations end with the
        # privileged state: stored transitions hold it, the actor is given the first `state_dim` entries.
        self.state_dim = state_dim
        self.collect_env = env
        if cfg.asymmetric_critic:
            if self.image_shape is not None:
                raise ConfigError("SACConfig.asymmetric_critic works with state observations only, not --image")
            try:
                self.collect_env = WithPrivilegedState(env)
            except NoPrivilegedState as exc:
                raise ConfigError(f"SACConfig.asymmetric_critic: {exc}") from None
        stored_dim = int(self.collect_env.observation_space.shape[0]) if self.image_shape is None else state_dim

        with seeded_initialisation(cfg.seed):
            self.critic = Critic(stored_dim, self.act_dim, cfg, self.image_shape).to(self.device)
            actor_in = state_dim + (cfg.image_feature_dim if self.image_shape else 0)
            self.actor = Actor(actor_in, self.act_dim, cfg).to(self.device)
        if cfg.encoder == "frozen" and self.critic.encoder is not None:
            load_encoder_weights(self.critic.encoder, cfg.encoder_weights)
            self.critic.encoder.requires_grad_(False)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.log_alpha = torch.tensor(np.log(cfg.init_temperature), dtype=torch.float32, device=self.device,
                                      requires_grad=True)
        self.critic_optimizer = make_adam([p for p in self.critic.parameters() if p.requires_grad],
                                          cfg.critic_lr, cfg.fused_adam)
        self.actor_optimizer = make_adam(self.actor.parameters(), cfg.actor_lr, cfg.fused_adam)
        self.alpha_optimizer = make_adam([self.log_alpha], cfg.temperature_lr or 1.0, cfg.fused_adam)
        self._ensemble_params = list(self.critic.q.parameters())
        self._target_pairs = (list(self.critic_target.parameters()), list(self.critic.parameters()))

        self.online = ReplayBuffer(cfg.buffer_size, stored_dim, self.act_dim, self.image_shape)
        self.demo_buffer = ReplayBuffer(cfg.demo_buffer_size, stored_dim, self.act_dim, self.image_shape)
        self.interventions = ReplayBuffer(cfg.intervention_buffer_size, stored_dim, self.act_dim, self.image_shape)
        self.demos_ready = False
        self.rng = np.random.default_rng(cfg.seed)  # replay sampling and random exploration
        self.env_steps = 0
        self.updates = 0
        self.episodes = 0
        self._last_episode_return: float | None = None
        self._obs: Any = None  # current observation of an unfinished episode (not checkpointed)
        self._episode_return = 0.0
        # The last update's tensors behind its logged losses, reduced only when logged (every log_every steps).
        self._last_critic: tuple[torch.Tensor, torch.Tensor] | None = None  # Q [E, B], Q - target [E, B]
        self._last_actor: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None  # log pi, Q(s, a~pi), alpha

    # ----------------------------------------------------------------------------------------- spaces
    def check_spaces(self, observation_space, action_space) -> None:
        if not isinstance(action_space, gym.spaces.Box) or len(action_space.shape) != 1:
            raise ConfigError(f"SAC needs a 1-D Box action space, got {action_space}")
        if not (np.allclose(action_space.low, -1.0) and np.allclose(action_space.high, 1.0)):
            raise ConfigError(f"SAC acts in [-1, 1]; this env's actions span [{action_space.low}, "
                              f"{action_space.high}]: wrap it in gymnasium.wrappers.RescaleAction(env, -1, 1)")
        if isinstance(observation_space, gym.spaces.Dict):
            keys = set(observation_space.spaces)
            if keys != {"state", "image"}:
                raise ConfigError(f"SAC takes Dict observations with keys state and image, got {sorted(keys)}")
            image = observation_space["image"]
            if image.dtype != np.uint8 or len(image.shape) != 3:
                raise ConfigError(f"SAC image observations must be uint8 (H, W, C), got {image.dtype} {image.shape}")
            observation_space = observation_space["state"]
        if not isinstance(observation_space, gym.spaces.Box) or len(observation_space.shape) != 1:
            raise ConfigError(f"SAC needs flat Box observations (or state+image Dict), got {observation_space}")

    # ------------------------------------------------------------------------------------------ acting
    def _obs_tensors(self, observation: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.image_shape is not None:
            state, image = observation["state"], observation["image"]
            image_t = torch.as_tensor(np.asarray(image, np.uint8), device=self.device).reshape(1, *self.image_shape)
        else:
            state, image_t = observation, None
        state_t = torch.as_tensor(np.asarray(state, np.float32), device=self.device).reshape(1, -1)
        if not torch.isfinite(state_t).all():
            raise ValueError(f"observation contains NaN/inf: {state}; refusing to act on it")
        return state_t, image_t

    @torch.no_grad()
    def act(self, observation: Any, deterministic: bool = True) -> np.ndarray:
        state, image = self._obs_tensors(observation)
        mean, log_std = self.actor(self.critic.features(state, image))
        action, _ = sample_tanh_gaussian(mean, log_std, deterministic)
        return action[0].cpu().numpy().astype(np.float32)

    def policy(self) -> nn.Module:
        encoder = copy.deepcopy(self.critic.encoder) if self.critic.encoder is not None else None
        return DeterministicPolicy(copy.deepcopy(self.actor), encoder).cpu().eval()

    def actor_view(self, stored: Any) -> Any:
        """What the actor may see of stored observations (or critic features without images): all of it,
        except the privileged state an asymmetric critic appends."""
        return stored[..., : self.state_dim] if self.collect_env is not self.env else stored

    @property
    def alpha(self) -> float:
        return float(self.log_alpha.detach().exp())

    # ---------------------------------------------------------------------------------------- updates
    def sample_batch(self) -> Batch:
        return sample_mixed(self.online, (self.demo_buffer, self.interventions), self.config.batch_size,
                            self.config.demo_fraction, self.rng, self.device)

    def update(self) -> None:
        """One round at the configured update-to-data ratio: `utd` critic steps on fresh batches, then one
        actor and temperature step on the last batch."""
        for _ in range(self.config.utd):
            batch = self.sample_batch()
            self._critic_step(batch)
        self._actor_step(batch)
        self.updates += 1
        # Checked every update (one scalar sync) so a divergence stops the run where it starts.
        _, error = self._last_critic
        log_prob = self._last_actor[0]
        if not bool(torch.isfinite(error).all() & torch.isfinite(log_prob).all()):
            raise FloatingPointError(f"SAC update {self.updates} at env step {self.env_steps} produced a non-finite "
                                     "TD error or log-probability")

    def target_member_indices(self) -> torch.Tensor | None:
        """Which target members form this update's min (distinct, random); None means all of them."""
        e, k = self.config.critic_ensemble, self.config.critic_subsample
        if k == e:
            return None
        return torch.randperm(e, device=self.device)[:k]

    @torch.no_grad()
    def td_target(self, batch: Batch) -> torch.Tensor:
        """r + gamma (1 - terminated) min_{i in 2 random target members} Q_i(s', a'), a' ~ pi(s').
        Truncated transitions bootstrap: only `terminated` cuts the return."""
        cfg = self.config
        pad = cfg.augment_pad
        next_actor_features = self.critic.features(self.actor_view(batch.next_observations), batch.next_images, pad)
        next_mean, next_log_std = self.actor.net(next_actor_features).chunk(2, dim=-1)
        next_actions, next_log_prob = sample_tanh_gaussian(next_mean, next_log_std)
        target_features = self.critic_target.features(batch.next_observations, batch.next_images, pad)
        next_q = self.critic_target.q.net(torch.cat([target_features, next_actions], dim=-1)).squeeze(-1)
        members = self.target_member_indices()
        next_q = (next_q if members is None else next_q[members]).min(0).values
        if cfg.backup_entropy:
            next_q = next_q - self.log_alpha.exp() * next_log_prob
        return batch.rewards + cfg.gamma * (1.0 - batch.terminated) * next_q

    def _critic_step(self, batch: Batch) -> None:
        cfg = self.config
        target = self.td_target(batch)
        features = self.critic.features(batch.observations, batch.images, cfg.augment_pad)
        q = self.critic.q_values(features, batch.actions)
        self.critic_optimizer.zero_grad(set_to_none=True)
        critic_loss(q, target).backward()
        self.critic_optimizer.step()
        error = q.detach() - target
        polyak_update(*self._target_pairs, cfg.tau)
        self._last_critic = (q.detach(), error)

    def _actor_step(self, batch: Batch) -> None:
        log_prob, q_pi, alpha = self._actor_gradients(batch)
        self.actor_optimizer.step()
        if self.config.temperature_lr > 0:
            self.alpha_optimizer.zero_grad(set_to_none=True)
            temperature_loss(self.log_alpha, log_prob, self.target_entropy).backward()
            self.alpha_optimizer.step()
        self._last_actor = (log_prob, q_pi, alpha)

    def _actor_gradients(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        cfg = self.config
        with torch.no_grad():  # the actor never trains the encoder
            features = self.critic.features(batch.observations, batch.images, cfg.augment_pad)
        mean, log_std = self.actor(self.actor_view(features))
        actions, log_prob = sample_tanh_gaussian(mean, log_std)
        # Frozen critic weights: the backward computes only d/d(action), not unused critic weight grads.
        for p in self._ensemble_params:
            p.requires_grad_(False)
        try:
            q = self.critic.q_values(features, actions)
        finally:
            for p in self._ensemble_params:
                p.requires_grad_(True)
        q = q.mean(0) if cfg.actor_q == "mean" else q.min(0).values
        alpha = self.log_alpha.detach().exp()
        self.actor_optimizer.zero_grad(set_to_none=True)
        actor_loss(log_prob, q, alpha).backward()
        return log_prob.detach(), q.detach(), alpha

    # ------------------------------------------------------------------------------------------- data
    def _prepare_demos(self) -> None:
        if self.demos_ready:
            return
        cfg = self.config
        data: Transitions | None = None
        if cfg.demos not in ("auto", "expert", "none"):
            data = demonstrations_for(cfg.demos, self.env)
            if self.image_shape is not None and data.images is None:
                raise ConfigError(f"demos {cfg.demos} hold no camera frames, and this SAC observes images: "
                                  "record the demonstrations with the camera, or train on state (no --image)")
        elif cfg.demos != "none" and cfg.demo_fraction > 0 and cfg.demo_episodes > 0:
            if _has_expert(self.env):
                data = collect_demonstrations(self.collect_env, cfg.demo_episodes, seed=cfg.seed + 1_000_000)
            elif cfg.demos == "expert":
                raise ConfigError("SACConfig.demos = 'expert' but this env has no scripted expert; give a "
                                  "demonstrations .npz path or set demos: none")
            else:
                warnings.warn("no demonstrations: this env has no scripted expert; training on online data only",
                              stacklevel=3)
        if data is not None:
            if len(data) > self.demo_buffer.capacity:
                self.demo_buffer = ReplayBuffer(len(data), self.online.obs_dim, self.act_dim, self.image_shape)
            self.demo_buffer.add_transitions(data)
        self.demos_ready = True

    def _store(self, obs: Any, action: np.ndarray, reward: float, next_obs: Any, terminated: bool,
               truncated: bool, info: Mapping[str, Any]) -> None:
        # Store what the robot applied after safety, so the critic learns about commands that happened (with a
        # human in the loop, what the human asked for when the env does not report what was applied).
        applied = np.asarray(info.get("applied_action", info.get("executed_action", action)), np.float32)
        if self.image_shape is not None:
            args = (obs["state"], applied, reward, next_obs["state"], terminated, truncated,
                    obs["image"], next_obs["image"])
        else:
            args = (obs, applied, reward, next_obs, terminated, truncated)
        self.online.add(*args)
        if info.get("intervention"):  # human corrections train like demonstrations (HIL-SERL)
            self.interventions.add(*args)

    # ------------------------------------------------------------- the training loop's hooks (base.py)
    def on_train_start(self) -> None:
        self._prepare_demos()

    def training_step(self) -> dict[str, float]:
        """One env step with the exploring policy (uniform random for the first `random_steps`), stored,
        then one round of updates once the buffer holds `learning_starts` transitions."""
        cfg = self.config
        if self._obs is None:
            # Seeded per episode, so a resumed run replays exactly the episodes it would have seen.
            self._obs, _ = self.collect_env.reset(seed=cfg.seed + self.episodes)
            self._episode_return = 0.0
        started = time.perf_counter()
        if self.env_steps < cfg.random_steps:
            action = self.rng.uniform(-1.0, 1.0, self.act_dim).astype(np.float32)
        else:
            action = self.act(self.actor_view(self._obs), deterministic=False)
            if not np.isfinite(action).all():  # weights went bad in the last update: the robot gets nothing
                raise FloatingPointError(f"SAC produced a non-finite action at step {self.env_steps}; nothing was "
                                         "sent to the env. The networks diverged: lower actor_lr/critic_lr or "
                                         "resume from the last checkpoint")
        acted = time.perf_counter()
        next_obs, reward, terminated, truncated, info = self.collect_env.step(action)
        observed = time.perf_counter()
        events = self.record(self._obs, action, float(reward), next_obs, terminated, truncated, info)
        self._obs = None if terminated or truncated else next_obs
        if len(self.online) >= cfg.learning_starts:
            self.update()
        self.compute_budget.add((acted - started) + (time.perf_counter() - observed))
        return events

    def record(self, obs: Any, action: np.ndarray, reward: float, next_obs: Any, terminated: bool, truncated: bool,
               info: Mapping[str, Any] | None = None) -> dict[str, float]:
        """Store one transition and count it as an env step, whether this process's env made it or an actor
        streamed it over robolearn.link; returns the episode's return when it ended there."""
        self._store(obs, action, float(reward), next_obs, terminated, truncated, info or {})
        self._episode_return += float(reward)
        self.env_steps += 1
        if not (terminated or truncated):
            return {}
        self.episodes += 1
        self._last_episode_return, self._episode_return = self._episode_return, 0.0
        events = {"train/episode_return": self._last_episode_return}
        if info and "intervention_rate" in info:  # a human oversaw the episode (InterventionWrapper)
            events[INTERVENTION_RATE] = float(info["intervention_rate"])
        return events

    def training_metrics(self) -> dict[str, float]:
        """The last update's losses, Q and entropy (raising if any became NaN or infinite), the temperature
        and the time per step against the control period."""
        if self._last_actor is None:
            return {}
        q, error = self._last_critic
        log_prob, q_pi, alpha = self._last_actor
        metrics = {"critic_loss": error.pow(2).mean(), "q_mean": q.mean(),
                   "actor_loss": actor_loss(log_prob, q_pi, alpha), "entropy": -log_prob.mean()}
        return {**{f"train/{name}": finite_or_raise(name, float(value)) for name, value in metrics.items()},
                "train/alpha": self.alpha, **self.compute_budget.summary()}

    def training_summary(self) -> dict:
        return {"env_steps": self.env_steps, "updates": self.updates, "episodes": self.episodes,
                "intervention_steps": len(self.interventions),
                "last_episode_return": self._last_episode_return, "eval": self.last_eval}

    # ------------------------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        return {
            "actor": self.actor.state_dict(),
            "critic": self.critic.state_dict(),
            "critic_target": self.critic_target.state_dict(),
            "log_alpha": self.log_alpha.detach().clone(),
            "actor_optimizer": self.actor_optimizer.state_dict(),
            "critic_optimizer": self.critic_optimizer.state_dict(),
            "alpha_optimizer": self.alpha_optimizer.state_dict(),
            "online": self.online.state_dict(),
            "demo_buffer": self.demo_buffer.state_dict(),
            "interventions": self.interventions.state_dict(),
            "demos_ready": self.demos_ready,
            "rng": self.rng.bit_generator.state,
            "counters": {"env_steps": self.env_steps, "updates": self.updates, "episodes": self.episodes},
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        self.critic_target.load_state_dict(state["critic_target"])
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
        self.actor_optimizer.load_state_dict(state["actor_optimizer"])
        self.critic_optimizer.load_state_dict(state["critic_optimizer"])
        self.alpha_optimizer.load_state_dict(state["alpha_optimizer"])
        demo_state = state["demo_buffer"]
        if demo_state["capacity"] != self.demo_buffer.capacity:
            self.demo_buffer = ReplayBuffer(demo_state["capacity"], self.online.obs_dim, self.act_dim,
                                            self.image_shape)
        self.online.load_state_dict(state["online"])
        self.demo_buffer.load_state_dict(demo_state)
        if "interventions" in state:  # checkpoints from before the intervention buffer have none
            self.interventions.load_state_dict(state["interventions"])
        self.demos_ready = bool(state["demos_ready"])
        self.rng.bit_generator.state = state["rng"]
        counters = state["counters"]
        self.env_steps, self.updates, self.episodes = counters["env_steps"], counters["updates"], counters["episodes"]
        self._obs = None  # the env cannot be checkpointed: a resumed run starts a fresh episode

    def load_for_fine_tuning(self, state: Mapping[str, Any]) -> tuple[list[str], list[str]]:
        """Networks and temperature carry over; data gathered under the other dynamics does not."""
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        self.critic_target.load_state_dict(state["critic_target"])
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
        online = int(state["online"]["size"])
        demos = int(state["demo_buffer"]["size"])
        kept = ["actor, critic ensemble and target critic weights (the policy and its values)",
                f"temperature alpha = {self.alpha:.4g} (the exploration the policy was trained with)"]
        reset = [f"online replay buffer ({online} transitions of the source run's dynamics: they would teach "
                 "the critic the old robot)",
                 f"demo buffer ({demos} transitions; refilled from this run's `demos` setting: {self.config.demos})",
                 "optimiser moments (Adam restarts on the new data)",
                 "step, update and episode counters, exploration RNG (a new run, seeded by this config)"]
        return kept, reset


def _has_expert(env) -> bool:
    task = task_of(env)
    return task is not None and task.has_expert
