"""The API every learner shares: config, device, the one training loop, evaluate, checkpoint/resume, logging.

A learner is built from a gymnasium env, a config dataclass and a device. `train(total_steps)` is the one
loop every algorithm runs (collect, update, log, evaluate, checkpoint, stop on Ctrl-C or divergence); an
algorithm fills its hooks (`training_step`, `training_metrics`, ...) and holds nothing else of the loop.
`train` may be called repeatedly; `save(path)` writes everything needed to continue bit-for-bit (networks, optimisers,
normalisers, buffers, RNG states, step counters) atomically; `Learner.load(path, env)` restores it.
`policy()` returns the deterministic torch module that export turns into ONNX.
"""

from __future__ import annotations

import abc
import contextlib
import dataclasses
import math
import os
import random
import warnings
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterator, Mapping, TypeVar

import numpy as np
import torch

from robolearn.files import read_yaml
from robolearn.learners.checkpoint import (  # noqa: F401  (re-exported: the learners' one API)
    CHECKPOINT_NAME, CheckpointError, env_options, load_checkpoint, non_finite_tensors, require_keys,
    save_checkpoint)
from robolearn.learners.compute_budget import ComputeBudget, control_period_of
from robolearn.learners.run import GracefulStop, RunLogger, StopRequested, crossed, evaluate_policy, progress_bar

class ConfigError(ValueError):
    """A learner config has an unknown field, a wrong type or a value out of range."""


C = TypeVar("C", bound="LearnerConfig")


@dataclasses.dataclass
class LearnerConfig:
    """Base for learner configs. Subclasses add fields and override `validate` for ranges."""

    # Fields a config may no longer set, and what to do instead (a removed option is refused, never ignored).
    removed_fields: ClassVar[dict[str, str]] = {}

    seed: int = 0
    checkpoint_every: int = 10_000  # env steps between checkpoints when a run folder is given
    log_every: int = 1_000
    torch_threads: int = 1  # one thread is fastest for small nets on a loaded CPU; raise it on a robot

    def validate(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"{field.name} = {value}: must be a finite number (an infinite or NaN "
                                  "rate or scale makes every weight NaN)")
        if self.checkpoint_every <= 0 or self.log_every <= 0:
            raise ConfigError("checkpoint_every and log_every must be > 0")
        if self.torch_threads <= 0:
            raise ConfigError("torch_threads must be > 0")

    @classmethod
    def from_dict(cls: type[C], data: Mapping[str, Any] | None, source: str = "config") -> C:
        data = dict(data or {})
        removed = sorted(set(data) & set(cls.removed_fields))
        if removed:
            raise ConfigError(f"{source}: " + "; ".join(f"{name} was removed: {cls.removed_fields[name]}"
                                                       for name in removed))
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise ConfigError(f"{source}: unknown field(s) {unknown} for {cls.__name__}; known: {sorted(fields)}")
        defaults = cls()
        kwargs = {}
        for name, value in data.items():
            default = getattr(defaults, name)
            kwargs[name] = _coerce(value, default, f"{source}: {name}")
        config = cls(**kwargs)
        try:
            config.validate()
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None
        return config

    @classmethod
    def from_yaml(cls: type[C], path: str | os.PathLike) -> C:
        data = read_yaml(path, ConfigError, f"config file {path} does not exist") or {}
        if not isinstance(data, Mapping):
            raise ConfigError(f"{path}: expected a mapping of field: value")
        return cls.from_dict(data, str(path))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _coerce(value: Any, default: Any, where: str) -> Any:
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true/false, got {value!r}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if isinstance(default, float):
        if isinstance(value, str):
            # PyYAML (YAML 1.1) reads exponents without a dot, e.g. 3e-4, as strings.
            try:
                value = float(value)
            except ValueError:
                raise ConfigError(f"{where}: expected a number, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"{where}: {value} is not a finite number")
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    if isinstance(default, (tuple, list)):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return type(default)(value)
    return value


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """`auto` picks CUDA when present; `cuda`/`cuda:N` fail clearly when it is not."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise ConfigError(f"device {device!r} is not valid: use cpu, cuda, cuda:N or auto") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} requested but this torch build sees no CUDA GPU; use --device cpu")
    return dev


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's global RNGs: once, where a run starts (robolearn.training.start_run,
    or yourself before training a learner in your own code). Learners never set global RNG or thread state."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@contextlib.contextmanager
def seeded_initialisation(seed: int) -> Iterator[None]:
    """Draw a learner's initial weights from `seed` alone, leaving the caller's global torch RNG as it was:
    the same config gives the same initial networks wherever the learner is built."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def rng_state() -> dict:
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }


def set_rng_state(state: Mapping[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class Learner(abc.ABC):
    """Common shape of every learner. Subclasses register themselves by `algo` name."""

    algo: ClassVar[str] = ""
    config_class: ClassVar[type[LearnerConfig]] = LearnerConfig
    # The config field naming a demonstrations file or dataset (`robolearn train --demos`); None: learns without.
    demos_field: ClassVar[str | None] = None
    # Whether the learner trains on steps a human took over (info["intervention"]): `train --intervene`.
    takes_interventions: ClassVar[bool] = False
    registry: ClassVar[dict[str, type["Learner"]]] = {}
    env_steps: int = 0  # the one step counter; learners advance it as they act

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.algo:
            Learner.registry[cls.algo] = cls

    def __init__(self, env, config: LearnerConfig | None = None, device: str | torch.device = "auto") -> None:
        self.config = config if config is not None else self.config_class()
        if not isinstance(self.config, self.config_class):
            raise ConfigError(f"{type(self).__name__} takes a {self.config_class.__name__}, "
                              f"got {type(self.config).__name__}")
        self.config.validate()
        self.env = env
        self.device = resolve_device(device)
        self.check_spaces(env.observation_space, env.action_space)
        # Acting + updating per env step, against the robot's control period (logged as time/learner_ms_*).
        self.compute_budget = ComputeBudget(control_period_of(env), self.algo)
        self._evaluation_env = None
        self._evaluation_env_made = False  # made at most once: a failure is not retried every evaluation
        # What whoever drives the loop saves with the learner's state (plain data; e.g. the link's position
        # in the actor's transition stream), so a restart resumes both from one consistent checkpoint.
        self.checkpoint_extras: dict[str, Any] = {}

    @abc.abstractmethod
    def check_spaces(self, observation_space, action_space) -> None:
        """Raise ConfigError if this learner cannot handle these spaces."""

    # ------------------------------------------------------------------------ the one training loop
    def train(self, total_steps: int, run_dir: str | os.PathLike | None = None, progress: bool = True,
              step: Callable[[], dict[str, float]] | None = None) -> dict:
        """Train until `total_steps` steps in total (resuming counts; see `steps_done`); returns a summary.

        `step` replaces `training_step` when the data comes from elsewhere (robolearn.link: an actor in another
        process); it may return without advancing `steps_done` while it waits.

        Every learner runs this loop: `training_step` (the algorithm) until the total, with logging every
        `log_every` steps, evaluation every `eval_every`, a checkpoint every `checkpoint_every` and at the end.
        Ctrl-C is held until the step in progress is done, then the checkpoint is written and StopRequested
        (a KeyboardInterrupt) raised; a divergence (FloatingPointError) writes nothing, so the checkpoint on
        disk stays the last finite one.
        """
        if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 0:
            raise ValueError(f"total_steps must be a non-negative integer, got {total_steps!r}")
        cfg = self.config
        checkpoint = Path(run_dir) / CHECKPOINT_NAME if run_dir is not None else None
        self.logger = logger = RunLogger(run_dir, resume_step=self.steps_done)
        self.last_eval = None
        eval_every, eval_episodes = getattr(cfg, "eval_every", 0), getattr(cfg, "eval_episodes", 0)
        self.on_train_start()
        bar = progress_bar(total_steps, min(self.steps_done, total_steps), progress, desc=self.algo)
        stop = GracefulStop().install()
        finished = False
        try:
            while self.steps_done < total_steps:
                stop.check()
                before = self.steps_done
                events = step() if step is not None else self.training_step()
                now = self.steps_done
                bar.update(now - before)
                if events:
                    logger.log(now, **events)
                if crossed(before, now, cfg.log_every):
                    logger.log(now, **self.training_metrics())
                if eval_every and eval_episodes and crossed(before, now, eval_every):
                    self.last_eval = self.evaluate(eval_episodes)
                    if self.last_eval is not None:
                        logger.log(now, **{"eval/return": self.last_eval["return_mean"],
                                           "eval/return_std": self.last_eval["return_std"]})
                if checkpoint is not None and crossed(before, now, cfg.checkpoint_every):
                    logger.flush()
                    self.save(checkpoint)
            self.on_train_end()
            finished = True
        except StopRequested:
            finished = True  # between two steps: the state is whole, keep what was learned
            raise
        finally:
            stop.remove()
            bar.close()
            if checkpoint is not None and finished:
                self.save(checkpoint)
            logger.flush()
            if finished:
                logger.plot(*self.learning_curve())
            logger.close()
        return self.training_summary()

    # Hooks of the loop, filled by each algorithm.
    def on_train_start(self) -> None:
        """Before the first step of a `train` call (e.g. collect demonstrations)."""

    @abc.abstractmethod
    def training_step(self) -> dict[str, float]:
        """Advance training by at least one step of `steps_done` (an env step and its update, a rollout, a
        gradient step); return scalars to log at the new step count now (e.g. a finished episode's return)."""

    def training_metrics(self) -> dict[str, float]:
        """Scalars logged every `log_every` steps (losses, rates); raise FloatingPointError if non-finite."""
        return {}

    def on_train_end(self) -> None:
        """After the last step of a `train` call that reached its total."""

    def training_summary(self) -> dict:
        return {"steps": self.steps_done, "eval": self.last_eval}

    def learning_curve(self) -> tuple[str, str]:
        """(metric, title) of learning_curve.png."""
        return "eval/return", f"{self.algo} on {getattr(getattr(self.env, 'spec', None), 'id', 'env')}"

    # ---------------------------------------------------------------------------------- evaluation
    def evaluate(self, episodes: int = 5, env=None, seed: int = 10_000) -> dict | None:
        """Deterministic returns over `episodes` on `env`, by default an evaluation copy of the training env
        (None when the env cannot be re-created)."""
        env = env if env is not None else self.evaluation_env()
        return None if env is None else evaluate_policy(env, self.act, episodes, seed)

    def evaluation_env(self):
        """A separate instance of the training env, made once (the training env is mid-episode)."""
        if not self._evaluation_env_made:
            import gymnasium as gym

            self._evaluation_env_made = True
            spec = getattr(self.env, "spec", None)
            try:
                self._evaluation_env = gym.make(spec) if spec is not None else None
            except Exception as exc:  # an env registered without a factory that can be called again
                warnings.warn(f"no evaluation during training: cannot re-create the env ({exc})", stacklevel=2)
        return self._evaluation_env

    @abc.abstractmethod
    def act(self, observation: Any, deterministic: bool = True) -> np.ndarray:
        """Action in [-1, 1]^n for one observation."""

    @abc.abstractmethod
    def state_dict(self) -> dict:
        """Everything needed to resume exactly."""

    @abc.abstractmethod
    def load_state_dict(self, state: Mapping[str, Any]) -> None: ...

    @abc.abstractmethod
    def policy(self) -> torch.nn.Module:
        """The deterministic policy as a module mapping raw observations to actions in [-1, 1]^n
        (observation normalisation included), for export."""

    def save(self, path: str | os.PathLike) -> str:
        """Write the checkpoint; refuses non-finite weights so the file on disk is always the last finite one."""
        state = self.state_dict()
        bad = non_finite_tensors(state)
        if bad:
            raise FloatingPointError(f"weights became non-finite ({', '.join(bad[:3])}) at step {self.steps_done}; "
                                     f"not saved over {path}")
        return save_checkpoint(path, {
            "algo": self.algo,
            "config": self.config.to_dict(),
            "observation_space": _space_signature(self.env.observation_space),
            "action_space": _space_signature(self.env.action_space),
            "env_id": getattr(getattr(self.env, "spec", None), "id", None),
            "env_options": env_options(self.env),
            "steps": self.steps_done,
            "state": state,
            "rng": rng_state(),
            "extras": self.checkpoint_extras,
        })

    @property
    def steps_done(self) -> int:
        """Progress in the unit of `train(total_steps)`: env steps (imitation learners: gradient steps)."""
        return int(self.env_steps)

    @classmethod
    def load(cls, path: str | os.PathLike, env, device: str | torch.device = "auto") -> "Learner":
        data, learner_cls = _checked_checkpoint(path, env, None if cls is Learner else cls)
        config = learner_cls.config_class.from_dict(data["config"], f"{path} config")
        learner = learner_cls(env, config, device)
        learner.load_state_dict(data["state"])
        learner.checkpoint_extras = dict(data.get("extras") or {})
        set_rng_state(data["rng"])
        return learner

    # --------------------------------------------------------------------------------- fine-tuning
    def init_from(self, path: str | os.PathLike) -> "FineTuneStart":
        """Start this fresh learner from another run's checkpoint of the same algo and spaces (fine-tuning a
        sim policy on a robot): what transfers to the new dynamics is kept, the rest starts fresh, and the
        returned FineTuneStart names both. Counters restart at 0: this is a new run."""
        if self.steps_done:
            raise ConfigError(f"init_from: this {self.algo} learner has already trained {self.steps_done} steps; "
                              "start from a checkpoint only before training")
        data, _ = _checked_checkpoint(path, self.env, type(self))
        try:
            kept, reset = self.load_for_fine_tuning(data["state"])
        except (RuntimeError, KeyError) as exc:  # a network of another shape: torch names the tensor
            raise CheckpointError(f"{path}: its networks do not fit this config ({str(exc).splitlines()[0]}); "
                                  "use the checkpoint's own config (drop --config) or one with the same network "
                                  "sizes") from None
        return FineTuneStart(Path(path), int(data.get("steps") or 0), tuple(kept), tuple(reset))

    def load_for_fine_tuning(self, state: Mapping[str, Any]) -> tuple[list[str], list[str]]:
        """Take from `state` (a `state_dict` of another run) what transfers; return (kept, reset) as short
        descriptions, each with the reason. Learners that support fine-tuning override this."""
        raise ConfigError(f"{self.algo} cannot start from a checkpoint (--init-from); "
                          f"supported by: {', '.join(a for a in KNOWN_ALGOS if _fine_tunes(learner_class(a)))}")


@dataclasses.dataclass(frozen=True)
class FineTuneStart:
    """What `Learner.init_from` took from a checkpoint and what it started afresh, for the user to read."""

    source: Path
    source_steps: int
    kept: tuple[str, ...]
    reset: tuple[str, ...]

    def describe(self) -> str:
        lines = [f"fine-tuning from {self.source} (trained {self.source_steps} steps)"]
        lines += [f"  kept:  {item}" for item in self.kept]
        lines += [f"  reset: {item}" for item in self.reset]
        return "\n".join(lines)


def _fine_tunes(learner_cls: type[Learner]) -> bool:
    return learner_cls.load_for_fine_tuning is not Learner.load_for_fine_tuning


def _checked_checkpoint(path: str | os.PathLike, env, expected: type[Learner] | None) -> tuple[dict, type[Learner]]:
    """The checkpoint's data and learner class, after checking it is finite, of `expected` (None: any) and
    made for `env`'s spaces."""
    data = load_checkpoint(path)
    require_keys(data, ("algo", "config", "observation_space", "action_space", "state", "rng"), path)
    bad = non_finite_tensors(data["state"])
    if bad:
        raise CheckpointError(
            f"{path} holds non-finite weights ({', '.join(bad[:3])}{', ...' if len(bad) > 3 else ''}): "
            "training diverged before it was saved. Use an earlier checkpoint, or retrain with a smaller "
            "learning rate")
    algo = data.get("algo")
    try:
        learner_cls = learner_class(str(algo))
    except ConfigError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    if expected is not None and learner_cls is not expected:
        raise CheckpointError(f"{path} holds a {algo!r} learner, not {expected.algo!r}")
    for key, space in (("observation_space", env.observation_space), ("action_space", env.action_space)):
        if data[key] != _space_signature(space):
            raise CheckpointError(f"{path}: checkpoint {key} {data[key]} does not match the env's "
                                  f"{_space_signature(space)}")
    return data, learner_cls


KNOWN_ALGOS = ("sac", "avg", "fpg", "lipbc")


def learner_class(algo: str) -> type[Learner]:
    """The learner registered as `algo`, importing robolearn.learners.<algo> first if needed."""
    if algo not in Learner.registry and algo in KNOWN_ALGOS:
        import importlib

        importlib.import_module(f"robolearn.learners.{algo}")
    if algo not in Learner.registry:
        known = ", ".join(sorted(set(KNOWN_ALGOS) | set(Learner.registry)))
        raise ConfigError(f"unknown algo {algo!r}; known: {known}")
    return Learner.registry[algo]


def _space_signature(space) -> dict:
    import gymnasium as gym

    if isinstance(space, gym.spaces.Dict):
        return {k: _space_signature(v) for k, v in space.spaces.items()}
    if isinstance(space, gym.spaces.Box):
        return {"shape": list(space.shape), "dtype": str(space.dtype)}
    return {"type": type(space).__name__}
