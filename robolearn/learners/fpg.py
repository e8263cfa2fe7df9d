"""Feedback policy gradients (Westenbroek, Levy, Fridovich-Keil, CoRL 2023) on the shared learner API.

The policy is a tracking controller designed on an approximate model, whose setpoints and gains a small
network corrects (zero at start: the nominal controller). Each update uses exactly one real rollout,
run deterministically (no exploration noise); the gradient is the ghost-rollout estimate in
`robolearn.learners.ghost` (model Jacobians along the measured trajectory, over sliding windows).

The model, controller, state extraction and cost of each supported task live in
`robolearn.control.problems` (car figure-eight, pendulum balance). Train with

    robolearn train robolearn/CarFigureEight-v0 --algo fpg --config configs/fpg_car.yaml --steps 15000

`policy()` is the whole feedback policy (features -> state -> controller + corrections -> command ->
action in [-1, 1]) as one torch module, exportable to ONNX.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from robolearn.control.problems import FeedbackProblem, ProblemOptions, affine_unscale, problem_for
from robolearn.learners.base import ConfigError, Learner, LearnerConfig
from robolearn.learners.ghost import MeasuredRollout, ghost_loss
from robolearn.learners.networks import make_adam
from robolearn.learners.run import RunLogger, finite_or_raise
from robolearn.models.base import ModelError
from robolearn.tasks.base import Task

OPTIMIZERS = ("sgd", "adam")


@dataclasses.dataclass
class FpgConfig(LearnerConfig):
    learning_rate: float = 1e-3
    optimizer: str = "sgd"  # plain gradient descent as in the paper; "adam" is less sensitive to lr
    window: int = 30  # ghost-rollout window, control steps
    window_stride: int = 1  # a window starts every `window_stride` steps
    skip: int = 0  # steps at the start of each rollout that no window starts in (start-up transient)
    model_scale: float = 1.0  # bound on every network correction (setpoints in task units, gains)
    model_param_scale: float = 1.0  # multiply the model's mismatch_params (car: input gains, pendulum: mass); 0.5 = the paper's mismatch
    hidden: tuple = (64, 64)
    speed_time_constant: float = 0.0  # car only: s from speed command to speed; 0 = one control period
    max_grad_norm: float = 0.0  # 0 = no clipping
    log_every: int = 1  # env steps between log lines: logs fall at rollout ends, so 1 logs every rollout
    checkpoint_every: int = 2_000  # env steps between checkpoints (at the next rollout end) with a run folder

    def validate(self) -> None:
        super().validate()
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"fpg: optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if not self.learning_rate > 0:
            raise ConfigError(f"fpg: learning_rate must be > 0, got {self.learning_rate}")
        if self.window <= 0 or self.window_stride <= 0 or self.skip < 0:
            raise ConfigError(f"fpg: need window > 0, window_stride > 0, skip >= 0 (got {self.window}, "
                              f"{self.window_stride}, {self.skip})")
        if (self.model_scale < 0 or not self.model_param_scale > 0 or self.max_grad_norm < 0
                or self.speed_time_constant < 0):
            raise ConfigError("fpg: model_scale >= 0, model_param_scale > 0, max_grad_norm >= 0 and "
                              "speed_time_constant >= 0 required")
        if not self.hidden or any(int(h) <= 0 for h in self.hidden):
            raise ConfigError(f"fpg: hidden must list positive layer widths, got {self.hidden}")


class ExportedFeedbackPolicy(nn.Module):
    """Task features (B, obs_dim) -> actions in [-1, 1] (B, act_dim): state extraction, controller, network
    corrections, command mapping and action scaling in one traceable graph."""

    def __init__(self, problem: FeedbackProblem, policy: nn.Module) -> None:
        super().__init__()
        self.problem = problem
        self.policy = policy
        self.register_buffer("low", torch.as_tensor(problem.spec.command_low, dtype=torch.float64))
        self.register_buffer("high", torch.as_tensor(problem.spec.command_high, dtype=torch.float64))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        # Computes in the module's own dtype (float64 in training; export may cast the module to float32).
        x, t = self.problem.state_and_time(features.to(self.low.dtype))
        command = self.problem.command(x, self.policy(x, t))
        return affine_unscale(command, self.low, self.high).to(features.dtype)


class FpgLearner(Learner):
    """One deterministic rollout, one ghost-gradient step. `total_steps` counts env steps."""

    algo = "fpg"
    config_class = FpgConfig

    def __init__(self, env, config: FpgConfig | None = None, device: str | torch.device = "auto") -> None:
        # The estimator runs small float64 graphs one window batch at a time: the CPU is the right place.
        super().__init__(env, config, "cpu" if device == "auto" else device)
        base = env.unwrapped
        task, robot = getattr(base, "task", None), getattr(base, "robot", None)
        if not isinstance(task, Task) or robot is None:
            raise ConfigError("fpg needs a robolearn RobotEnv (a Robot plus a Task), e.g. "
                              "gymnasium.make('robolearn/CarFigureEight-v0')")
        cfg: FpgConfig = self.config  # type: ignore[assignment]
        options = ProblemOptions(cfg.model_param_scale, cfg.model_scale, tuple(int(h) for h in cfg.hidden),
                                 cfg.speed_time_constant)
        torch.manual_seed(cfg.seed)
        self.problem = problem_for(task, robot.spec, options)
        if type(task).action_to_command is not Task.action_to_command:
            raise ConfigError(f"fpg: task {task.name!r} maps actions to commands its own way; fpg needs the "
                              f"default affine scaling onto the command limits")
        self.feedback_policy = self.problem.build_policy(options)
        self.exported = ExportedFeedbackPolicy(self.problem, self.feedback_policy)
        params = self.feedback_policy.parameters()
        self.optimizer = (torch.optim.SGD(params, lr=cfg.learning_rate) if cfg.optimizer == "sgd"
                          else make_adam(params, cfg.learning_rate, fused=False))
        self.steps = 0
        self.updates = 0
        self.episodes = 0
        self.history: list[dict] = []  # per-rollout stats and update metrics of this process
        self.logger = RunLogger(None)

    @property
    def env_steps(self) -> int:
        return self.steps

    def check_spaces(self, observation_space, action_space) -> None:
        if not isinstance(observation_space, gym.spaces.Box) or len(observation_space.shape) != 1:
            raise ConfigError(f"fpg needs flat vector observations, got {observation_space}")
        if not isinstance(action_space, gym.spaces.Box):
            raise ConfigError(f"fpg needs a Box action space, got {action_space}")

    # ------------------------------------------------------------------------------------- acting
    def act(self, observation: Any, deterministic: bool = True) -> np.ndarray:
        with torch.no_grad():
            obs = torch.as_tensor(np.asarray(observation, dtype=np.float64)).unsqueeze(0)
            return self.exported(obs).squeeze(0).numpy()

    def policy(self) -> nn.Module:
        return self.exported

    # ----------------------------------------------------------------------------------- training
    def collect_rollout(self, seed: int | None = None) -> tuple[MeasuredRollout, dict]:
        """Run the current policy for one episode; return it in model coordinates plus episode stats."""
        obs, _ = self.env.reset(seed=seed)
        features, commands, total_reward, safety_stops = [obs], [], 0.0, 0
        done = False
        while not done:
            obs, reward, terminated, truncated, info = self.env.step(self.act(obs))
            commands.append(np.asarray(info["applied_command"], dtype=np.float64))
            features.append(obs)
            total_reward += float(reward)
            safety_stops += int(bool(info.get("safety_stopped", False)))
            done = terminated or truncated
        f = torch.as_tensor(np.asarray(features, dtype=np.float64))
        c = torch.as_tensor(np.asarray(commands))
        # A safety stop with nothing to hold sends no command (NaN): the data ends there.
        finite = torch.isfinite(c).all(-1) & torch.isfinite(f[1:]).all(-1) & torch.isfinite(f[:-1]).all(-1)
        usable = int(finite.long().cumprod(0).sum())
        x, t = self.problem.state_and_time(f[: usable + 1])
        u = self.problem.model_input(x[:-1], c[:usable])
        with torch.no_grad():
            cost = float(self.problem.cost(x[:-1], u, t[:-1]).mean()) if usable else float("nan")
        stats = {"episode_return": total_reward, "episode_length": len(commands), "tracking_cost": cost,
                 "safety_stops": safety_stops, "usable_steps": usable}
        return MeasuredRollout(x, u, t), stats

    def update(self, rollout: MeasuredRollout) -> dict:
        """One gradient step from one measured rollout."""
        cfg: FpgConfig = self.config  # type: ignore[assignment]
        window = min(cfg.window, len(rollout) - cfg.skip)
        if window < 1:
            return {"skipped": 1.0}
        self.optimizer.zero_grad(set_to_none=True)
        result = ghost_loss(self.problem.model, self.feedback_policy, rollout, self.problem.cost, window,
                            cfg.window_stride, cfg.skip)
        loss = result.loss / result.windows  # per window, so the step size does not grow with rollout length
        loss.backward()
        params = [p for p in self.feedback_policy.parameters() if p.grad is not None]
        grad_norm = float(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params])))
        finite_or_raise("fpg gradient norm", grad_norm)
        if cfg.max_grad_norm > 0:
            nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
        self.optimizer.step()
        self.updates += 1
        return {"ghost_loss": finite_or_raise("fpg ghost loss", float(loss.detach())), "grad_norm": grad_norm,
                "windows": float(result.windows), "input_mismatch": result.input_mismatch}

    # ------------------------------------------------------------- the training loop's hooks (base.py)
    def on_train_start(self) -> None:
        self._first_of_call = len(self.history)
        self._logged_at = -1

    def training_step(self) -> dict[str, float]:
        """One rollout on the robot, then one update from it."""
        try:
            rollout, stats = self.collect_rollout(seed=self.config.seed + self.episodes)
        except ModelError as exc:
            raise ModelError(f"fpg: rollout {self.episodes} does not fit the model: {exc}") from exc
        self.episodes += 1
        self.steps += stats["episode_length"]
        self.history.append({**stats, **self.update(rollout)})
        return {}

    def training_metrics(self) -> dict[str, float]:
        self._logged_at = self.steps
        return {f"train/{k}": v for k, v in self.history[-1].items()}

    def on_train_end(self) -> None:
        if self.history[self._first_of_call:] and self._logged_at != self.steps:  # the last rollout, always
            self.logger.log(self.steps, **self.training_metrics())

    def training_summary(self) -> dict:
        costs = [h["tracking_cost"] for h in self.history[self._first_of_call:]]
        return {"steps": self.steps, "updates": self.updates, "episodes": self.episodes,
                "first_tracking_cost": costs[0] if costs else None, "last_tracking_cost": costs[-1] if costs else None}

    def learning_curve(self) -> tuple[str, str]:
        return "train/tracking_cost", "fpg: tracking cost per rollout"

    # --------------------------------------------------------------------------------- checkpoint
    def state_dict(self) -> dict:
        return {"policy": self.feedback_policy.state_dict(), "optimizer": self.optimizer.state_dict(),
                "steps": self.steps, "updates": self.updates, "episodes": self.episodes}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.feedback_policy.load_state_dict(state["policy"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.steps, self.updates, self.episodes = int(state["steps"]), int(state["updates"]), int(state["episodes"])
