"""Lipschitz-constrained behaviour cloning (Al Makdah, Krishnan, Pasqualetti, arXiv 2103.16629).

    minimise (1/N) sum_i ||pi(x_i) - u_i||^2   subject to   lip(pi) <= alpha

with lip measured from the raw policy features to the policy action in the l2 norm. The constraint is
hard: the network (robolearn.learners.lipschitz.LipschitzMLP) is projected back onto the constraint set
after every optimiser step, and `certificate()` reports the certified upper bound (product of exact
layer norms, normalisation included) next to an empirical lower bound. alpha is the user's knob: small
alpha buys robustness to bounded observation errors at the cost of nominal imitation accuracy.

Demonstrations come from the task's scripted expert (`collect_demonstrations`) or from a .npz of
recorded robot data (`Transitions.save`). One training step is one gradient step.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
from pathlib import Path
from typing import Any, Mapping

import gymnasium as gym
import numpy as np
import torch

from robolearn.data import Transitions, collect_demonstrations
from robolearn.data.demos import demonstrations_for
from robolearn.files import write_atomically
from robolearn.learners.base import ConfigError, Learner, LearnerConfig, seeded_initialisation
from robolearn.learners.lipschitz import ACTIVATIONS, NORM, PROJECTIONS, LipschitzMLP, empirical_lower_bound
from robolearn.learners.networks import make_adam
from robolearn.learners.run import finite_or_raise
from robolearn.tasks.base import task_of

CERTIFICATE_INPUT = "policy features (raw, before normalisation)"
CERTIFICATE_OUTPUT = "policy action in [-1, 1] (before the task maps it to a robot command)"


@dataclasses.dataclass
class LipBCConfig(LearnerConfig):
    alpha: float = 2.0  # the certified bound on lip(policy), in the l2 norm features -> action
    hidden_sizes: tuple = (64, 64)
    activation: str = "groupsort"
    projection: str = "clip"  # "clip" singular values or "rescale" the matrix (both exact, both hard)
    learning_rate: float = 3e-3
    batch_size: int = 256
    demonstrations: str = ""  # a transitions .npz or a LeRobot v3 dataset folder; empty: the task's scripted expert
    demo_episodes: int = 20
    normalize_observations: bool = True  # fixed from the demonstrations, folded into the bound
    min_feature_std: float = 1e-6  # features varying less than this are ignored (see set_normalizer)
    eval_every: int = 0  # gradient steps between closed-loop evaluations; 0: only at the end
    eval_episodes: int = 5  # 0 disables closed-loop evaluation
    bound_starts: int = 256  # gradient-ascent starts for the empirical lower bound
    bound_steps: int = 100
    checkpoint_every: int = 1_000  # gradient steps
    log_every: int = 100

    def validate(self) -> None:
        super().validate()
        if isinstance(self.alpha, bool) or not isinstance(self.alpha, (int, float)) or not (
                math.isfinite(self.alpha) and self.alpha > 0):
            raise ConfigError(f"alpha must be a finite number > 0 (the Lipschitz bound of the policy), "
                              f"got {self.alpha!r}")
        if not self.hidden_sizes or any(isinstance(h, bool) or not isinstance(h, int) or h <= 0
                                        for h in self.hidden_sizes):
            raise ConfigError(f"hidden_sizes must be a non-empty list of positive integers, got "
                              f"{list(self.hidden_sizes)!r}")
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f"activation {self.activation!r} is not a known 1-Lipschitz activation; "
                              f"choose one of {list(ACTIVATIONS)}")
        if self.activation == "groupsort" and any(h % 2 for h in self.hidden_sizes):
            raise ConfigError(f"groupsort sorts pairs of units: hidden_sizes must be even, got "
                              f"{list(self.hidden_sizes)}")
        if self.projection not in PROJECTIONS:
            raise ConfigError(f"projection {self.projection!r} is unknown; choose one of {list(PROJECTIONS)}")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ConfigError(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.min_feature_std < 0 or not math.isfinite(self.min_feature_std):
            raise ConfigError(f"min_feature_std must be >= 0, got {self.min_feature_std}")
        for name in ("batch_size", "demo_episodes", "bound_starts"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("eval_every", "eval_episodes", "bound_steps"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")


class LipBCLearner(Learner):
    """Behaviour cloning with a hard Lipschitz constraint and a certificate.

    `demonstrations` may be given here; otherwise the first `train` call loads `config.demonstrations`
    or collects `config.demo_episodes` episodes from the env's scripted expert. They are stored in the
    checkpoint so that a resumed run sees exactly the same data.
    """

    algo = "lipbc"
    config_class = LipBCConfig
    demos_field = "demonstrations"
    config: LipBCConfig

    def __init__(self, env, config: LipBCConfig | None = None, device: str | torch.device = "auto",
                 demonstrations: Transitions | None = None) -> None:
        super().__init__(env, config, device)
        cfg = self.config
        self.obs_dim = int(env.observation_space.shape[0])
        self.act_dim = int(env.action_space.shape[0])
        with seeded_initialisation(cfg.seed):
            self.net = LipschitzMLP(self.obs_dim, self.act_dim, cfg.hidden_sizes, cfg.alpha, cfg.activation,
                                    cfg.projection)
        self.net.to(self.device)
        self.net.project_()  # the constraint holds from the first step, not just after training
        self.optimiser = make_adam(self.net.parameters(), cfg.learning_rate, fused=False)
        self.batch_generator = torch.Generator().manual_seed(cfg.seed)
        self.steps = 0
        self.demo_obs: torch.Tensor | None = None
        self.demo_act: torch.Tensor | None = None
        self._certificate: dict | None = None
        if demonstrations is not None:
            self.set_demonstrations(demonstrations)

    # ------------------------------------------------------------------------------ learner API
    @property
    def steps_done(self) -> int:
        return self.steps  # gradient steps: imitation takes no env steps

    def check_spaces(self, observation_space, action_space) -> None:
        if not isinstance(observation_space, gym.spaces.Box) or len(observation_space.shape) != 1:
            raise ConfigError(f"lipbc certifies a map from a flat feature vector; got observation space "
                              f"{observation_space} (image observations are not supported: use image=False)")
        if not isinstance(action_space, gym.spaces.Box) or len(action_space.shape) != 1:
            raise ConfigError(f"lipbc needs a flat Box action space, got {action_space}")
        if not (np.all(action_space.low == -1.0) and np.all(action_space.high == 1.0)):
            raise ConfigError(f"lipbc outputs actions in [-1, 1]; the env's action space is "
                              f"[{action_space.low}, {action_space.high}]")

    def set_demonstrations(self, demonstrations: Transitions) -> None:
        """Check the data against the env, fix the normaliser from it, and re-project."""
        if self.steps > 0:
            raise RuntimeError("demonstrations are fixed once training has started (the normaliser and "
                               "resume depend on them); build a new learner for new data")
        obs, act = validate_demonstrations(demonstrations, self.obs_dim, self.act_dim)
        if self.config.normalize_observations:
            self.net.set_normalizer(obs.mean(0), obs.std(0), self.config.min_feature_std)
            self.net.project_()
        self.demo_obs = torch.as_tensor(obs, dtype=torch.float32, device=self.device)
        self.demo_act = torch.as_tensor(act, dtype=torch.float32, device=self.device)
        self._certificate = None

    # ------------------------------------------------------------- the training loop's hooks (base.py)
    def on_train_start(self) -> None:
        self._ensure_demonstrations()
        self._loss = float("nan")
        self._evaluated_at = -1

    def training_step(self) -> dict[str, float]:
        """One projected gradient step on a minibatch of demonstrations; checked every step, so a divergence
        stops the run where it starts."""
        self._loss = finite_or_raise("imitation loss", float(self._update()))
        self.steps += 1
        return {}

    def training_metrics(self) -> dict[str, float]:
        return {"train/loss": self._loss, "certificate/upper_bound": self.net.upper_bound()}

    def on_train_end(self) -> None:
        if self.steps > 0:
            self._loss = finite_or_raise("imitation loss", self.imitation_loss())
        self._certificate_of_call = certificate = self.certificate()
        self.logger.log(self.steps, **{"certificate/upper_bound": certificate["upper_bound"],
                                       "certificate/lower_bound": certificate["lower_bound"]})
        if self.config.eval_episodes and self._evaluated_at != self.steps:
            self.last_eval = self.evaluate(self.config.eval_episodes)
            self.logger.log(self.steps, **{"eval/return": self.last_eval["return_mean"]})

    def training_summary(self) -> dict:
        return {"steps": self.steps, "loss": self._loss, "certificate": self._certificate_of_call,
                "eval": self.last_eval}

    def learning_curve(self) -> tuple[str, str]:
        # Without periodic evaluation the imitation loss is the learning curve worth drawing.
        return ("eval/return" if self.config.eval_every else "train/loss"), f"lipbc alpha={self.config.alpha}"

    def evaluation_env(self):
        return self.env  # imitation never steps the env while training: it can be evaluated on directly

    def evaluate(self, episodes: int = 5, env=None, seed: int = 10_000) -> dict | None:
        self._evaluated_at = self.steps
        return super().evaluate(episodes, env, seed)

    def act(self, observation: Any, deterministic: bool = True) -> np.ndarray:
        x = np.asarray(observation, dtype=np.float32)
        if x.shape[-1:] != (self.obs_dim,) or x.ndim > 2:
            raise ValueError(f"observation has shape {x.shape}, expected ({self.obs_dim},) or (batch, {self.obs_dim})")
        with torch.no_grad():
            return self.net(torch.as_tensor(x, device=self.device)).cpu().numpy()

    def policy(self) -> torch.nn.Module:
        """A frozen CPU copy of the certified map features -> action in [-1, 1] (normaliser inside)."""
        net = copy.deepcopy(self.net).cpu().eval()
        for p in net.parameters():
            p.requires_grad_(False)
        return net

    def imitation_loss(self) -> float:
        """Mean squared error over all demonstrations of the (clamped) policy output."""
        self._require_demonstrations()
        with torch.no_grad():
            return float(torch.mean((self.net(self.demo_obs) - self.demo_act) ** 2))

    # ---------------------------------------------------------------------------- certificate
    def certificate(self) -> dict:
        """{alpha, upper_bound, lower_bound, norm="l2", ...}: lower_bound <= lip(policy) <= upper_bound <= alpha
        (up to float32 rounding of the weights, relative ~1e-6)."""
        if self._certificate is None:
            cfg = self.config
            self._certificate = {
                "alpha": cfg.alpha,
                "upper_bound": self.net.upper_bound(),
                "lower_bound": empirical_lower_bound(self.net, self._bound_starts(), cfg.bound_steps,
                                                     seed=cfg.seed),
                "norm": NORM,
                "input": CERTIFICATE_INPUT,
                "output": CERTIFICATE_OUTPUT,
                "layer_norms": self.net.layer_norms(),
                "lower_bound_method": f"gradient ascent on difference quotients and ||J(x)||_2 from "
                                      f"{cfg.bound_starts} starts, {cfg.bound_steps} steps",
                "gradient_steps": self.steps,
            }
        return dict(self._certificate)

    def _bound_starts(self) -> torch.Tensor:
        gen = torch.Generator().manual_seed(self.config.seed + 1)
        n = self.config.bound_starts
        if self.demo_obs is None:
            return torch.randn(n, self.obs_dim, generator=gen)
        data = self.demo_obs.cpu()
        rows = data[torch.randint(len(data), (n,), generator=gen)]
        # Half the starts at demonstrated states, half jittered around them: the constant is a sup over
        # all inputs, and the steepest region need not be where the expert went.
        jitter = torch.randn(rows.shape, generator=gen) * data.std(0).clamp_min(1e-3)
        rows[n // 2:] += jitter[n // 2:]
        return rows

    # ------------------------------------------------------------------------- checkpointing
    def save(self, path: str | os.PathLike) -> str:
        """Checkpoint plus `<name>.certificate.json` beside it (export copies it into the ONNX metadata)."""
        certificate = self.certificate()
        sha = super().save(path)
        path = Path(path)
        sidecar = certificate_path(path)
        write_atomically(sidecar, json.dumps({**certificate, "checkpoint": path.name, "checkpoint_sha256": sha},
                                             indent=2))
        return sha

    def state_dict(self) -> dict:
        return {
            "net": self.net.state_dict(),
            "optimiser": self.optimiser.state_dict(),
            "batch_generator": self.batch_generator.get_state(),
            "steps": self.steps,
            "demo_obs": None if self.demo_obs is None else self.demo_obs.cpu().numpy(),
            "demo_act": None if self.demo_act is None else self.demo_act.cpu().numpy(),
            "certificate": self._certificate,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.optimiser.load_state_dict(state["optimiser"])
        self.batch_generator.set_state(state["batch_generator"])
        self.steps = int(state["steps"])
        if state["demo_obs"] is not None:
            self.demo_obs = torch.as_tensor(state["demo_obs"], device=self.device)
            self.demo_act = torch.as_tensor(state["demo_act"], device=self.device)
        self._certificate = state.get("certificate")
        if self.net.upper_bound() > self.config.alpha * (1 + 1e-5):
            raise ValueError(f"checkpoint weights have Lipschitz bound {self.net.upper_bound():.6g} > alpha "
                             f"{self.config.alpha}: the file was modified or is not a lipbc checkpoint")

    # -------------------------------------------------------------------------------- internals
    def _update(self) -> torch.Tensor:
        n = len(self.demo_obs)
        idx = torch.randint(n, (min(self.config.batch_size, n),), generator=self.batch_generator)
        idx = idx.to(self.device)
        out = self.net.pre_clamp(self.demo_obs[idx])
        # Straight-through clamp: the loss sees the clamped action (saturated expert actions are met
        # exactly), while the gradient still pulls outputs that overshoot a non-saturated target back in.
        out = out + (out.clamp(-1.0, 1.0) - out).detach()
        loss = torch.mean((out - self.demo_act[idx]) ** 2)
        self.optimiser.zero_grad(set_to_none=True)
        loss.backward()
        self.optimiser.step()
        self.net.project_()
        self._certificate = None
        return loss.detach()

    def _ensure_demonstrations(self) -> None:
        if self.demo_obs is not None:
            return
        cfg = self.config
        if cfg.demonstrations:
            self.set_demonstrations(demonstrations_for(cfg.demonstrations, self.env))
            return
        remedy = "pass demonstrations=Transitions(...) or set `demonstrations: path.npz` in the config"
        task = task_of(self.env)
        if task is None or not task.has_expert:
            what = (f"{type(self.env.unwrapped).__name__} is not a robolearn task env, so it has no scripted expert"
                    if task is None
                    else f"task {task.name!r} has no scripted expert")
            raise ConfigError(f"lipbc needs demonstrations: {what}; {remedy}")
        self.set_demonstrations(collect_demonstrations(self.env, cfg.demo_episodes, seed=cfg.seed))

    def _require_demonstrations(self) -> None:
        if self.demo_obs is None:
            raise RuntimeError("no demonstrations yet: call train() or set_demonstrations() first")


def validate_demonstrations(demos: Transitions, obs_dim: int, act_dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(observations, actions) as float64 arrays, or a ValueError saying what is wrong with the data."""
    if not isinstance(demos, Transitions):
        raise TypeError(f"demonstrations must be robolearn.data.Transitions, got {type(demos).__name__}")
    if len(demos) == 0:
        raise ValueError("demonstrations are empty: record or collect at least one episode")
    obs = np.asarray(demos.observations, dtype=np.float64)
    act = np.asarray(demos.actions, dtype=np.float64)
    if obs.ndim != 2 or obs.shape[1] != obs_dim:
        raise ValueError(f"demonstration observations have shape {obs.shape}, the env's features are "
                         f"(N, {obs_dim}): were they recorded for another task or robot?")
    if act.ndim != 2 or act.shape[1] != act_dim:
        raise ValueError(f"demonstration actions have shape {act.shape}, the env takes (N, {act_dim}) actions")
    if not (np.all(np.isfinite(obs)) and np.all(np.isfinite(act))):
        raise ValueError("demonstrations contain NaN/inf: drop the broken episodes before training")
    if np.max(np.abs(act)) > 1.0 + 1e-6:
        raise ValueError(f"demonstration actions reach {np.max(np.abs(act)):.3g}, outside the policy space "
                         f"[-1, 1]: store actions via task.command_to_action, not raw robot commands")
    return obs, act


def certificate_path(checkpoint: str | os.PathLike) -> Path:
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(checkpoint.stem + ".certificate.json")
