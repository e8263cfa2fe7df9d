"""Starting and resuming a training run: the library API under `robolearn train`, `robolearn main` and the
on-robot trainer (drivers' train_on_robot), so none of them calls another's command-line code.

A run lives in one folder (checkpoint, metrics, TensorBoard). `open_run` holds an exclusive lock on it for
the run's lifetime, and `start_or_resume` makes a resume mean what it says: the checkpoint's algo, task,
seed and config must be the ones asked for, or the run is refused with the differing fields listed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import os
import socket
from pathlib import Path
from typing import Any, Callable, Collection, Iterator, Mapping

import gymnasium as gym
import numpy as np
import torch

from robolearn.learners.base import ConfigError, Learner, LearnerConfig, seed_everything
from robolearn.learners.checkpoint import CHECKPOINT_NAME, CheckpointError, checkpoint_metadata, env_options
from robolearn.teleop.base import DeviceUnplugged

LOCK_NAME = ".run.lock"
# Fields that change how a run is observed or saved, not what it learns: a resume may change them.
SAFE_TO_CHANGE = frozenset({"checkpoint_every", "log_every", "eval_every", "eval_episodes", "torch_threads"})


class RunRefused(ValueError):
    """A run cannot start here as asked (folder in use, resume that does not match its checkpoint)."""


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a run after the learner saved its checkpoint; the message says how to continue."""

    def __init__(self, checkpoint: Path, step: int, resume_hint: str) -> None:
        super().__init__(f"interrupted at step {step}; the checkpoint {checkpoint} holds everything up to there. "
                         f"Resume with: {resume_hint}")
        self.checkpoint = checkpoint


class RunDiverged(FloatingPointError):
    """Training produced a NaN or infinity; the last finite checkpoint (None if none was saved) is named."""

    def __init__(self, reason: str, checkpoint: Path) -> None:
        try:
            step = checkpoint_metadata(checkpoint)["steps"]
        except CheckpointError:
            self.checkpoint: Path | None = None
            kept = "No finite checkpoint was saved before it. Lower the learning rate(s) in the config and start again"
        else:
            self.checkpoint = checkpoint
            kept = (f"The last finite checkpoint is {checkpoint} (step {step}); nothing after it was saved. Lower the "
                    "learning rate(s) in the config and start again in another --run-dir, or evaluate that checkpoint")
        super().__init__(f"training diverged: {reason}. {kept}")


def make_env(task: str, image: bool = False, reward_classifier: str | None = None,
             randomize: str | os.PathLike | Mapping[str, Any] | None = None,
             actuator: str | None = None) -> gym.Env:
    """A robolearn task by id or short name, or any gymnasium id; actions rescaled to [-1, 1].

    `randomize` (a perturbation preset of the task's robot, a YAML file or a {perturbation|ranges: ...}
    document) perturbs the sim robot at every reset; `actuator` picks the sim robot's actuator model (e.g.
    sts3215 for the arm; robolearn_sim.actuators). Both reach the env as plain data, so the env's spec (and
    every checkpoint) records them."""
    from robolearn.envs.registry import make_env as make_task_env

    kwargs: dict[str, Any] = {"image": True} if image else {}
    if randomize:
        kwargs["perturbation"] = randomisation_document(task, randomize)
    if actuator:
        kwargs["actuator"] = actuator
    try:
        env = make_task_env(task, **kwargs)
    except TypeError as exc:
        if not actuator:
            raise
        raise ConfigError(f"--actuator {actuator}: the sim robot of {task} has no actuator models (the arm has "
                          f"sts3215, xl330_m288, xm430_w350; the bases create2, racecar): drop --actuator "
                          f"({exc})") from None
    except ValueError as robolearn_error:
        if image or randomize or actuator:
            raise
        try:
            env = gym.make(task)
        except gym.error.Error:
            raise robolearn_error from None
        space = env.action_space
        if isinstance(space, gym.spaces.Box) and not (np.allclose(space.low, -1) and np.allclose(space.high, 1)):
            env = gym.wrappers.RescaleAction(env, -1.0, 1.0)
    if reward_classifier:
        from robolearn.learners.reward_classifier import ClassifierReward, RewardClassifier

        env = ClassifierReward(env, RewardClassifier.load(reward_classifier))
    return env


def randomisation_document(task: str, source: str | os.PathLike | Mapping[str, Any]) -> dict:
    """`source` (a preset name of `task`'s robot, a perturbation YAML file or document) resolved and
    validated, as the plain {"ranges" | "perturbation": fields} document the sim robot takes."""
    from robolearn.tasks.registry import task_entry

    try:
        entry = task_entry(task)
    except ValueError:
        raise ConfigError(f"--randomize perturbs the simulated robot of a robolearn task; {task!r} is not one "
                          "(drop --randomize, or train on a robolearn task)") from None
    from robolearn_sim import PerturbationRanges, load_perturbation

    value = load_perturbation(source, entry.robot)
    value.check_episode(entry.max_episode_steps)
    return {"ranges" if isinstance(value, PerturbationRanges) else "perturbation": value.to_dict()}


def with_demonstrations(learner_cls: type[Learner], config: LearnerConfig, path: str | os.PathLike,
                        env: gym.Env) -> LearnerConfig:
    """`config` training from the demonstrations at `path` (a transitions .npz or a LeRobot v3 dataset),
    checked now against the robot and task of `env`, so a dataset for another robot is refused before a run
    starts."""
    from robolearn.data.demos import demonstrations_for
    from robolearn.learners.base import KNOWN_ALGOS, learner_class

    field = learner_cls.demos_field
    if field is None:
        takers = [algo for algo in KNOWN_ALGOS if learner_class(algo).demos_field]
        raise ConfigError(f"--demos: {learner_cls.algo} learns without demonstrations; {', '.join(takers)} "
                          "train from them")
    demonstrations_for(path, env)
    config = dataclasses.replace(config, **{field: str(path)})
    config.validate()
    return config


def load_config(learner_cls: type[Learner], path: str | os.PathLike | None, seed: int | None,
                init_from: str | os.PathLike | None = None) -> LearnerConfig:
    """The learner's config from a YAML file (without one: the `init_from` checkpoint's config, else the
    defaults), with `seed` overriding the file's."""
    if path:
        config = learner_cls.config_class.from_yaml(path)
    elif init_from:
        recorded = checkpoint_metadata(init_from)
        if recorded["algo"] != learner_cls.algo:
            raise ConfigError(f"--init-from {init_from} holds a {recorded['algo']!r} learner, not "
                              f"{learner_cls.algo!r}: pass --algo {recorded['algo']}")
        config = learner_cls.config_class.from_dict(recorded["config"], f"{init_from} config")
    else:
        config = learner_cls.config_class()
    if seed is not None:
        config = dataclasses.replace(config, seed=seed)
        config.validate()
    return config


def env_id_of(env: gym.Env) -> str | None:
    return getattr(getattr(env, "spec", None), "id", None)


@contextlib.contextmanager
def open_run(run_dir: str | os.PathLike) -> Iterator[Path]:
    """Hold the run folder exclusively while the block runs; a second run there is refused with the holder.

    The lock is an OS file lock (released by the kernel when its process dies), so a lock file left by a
    crashed run is taken over, with a message naming the dead holder.
    """
    import fcntl

    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise RunRefused(f"--run-dir {run_dir} is a file, not a folder; choose another --run-dir")
    run_dir.mkdir(parents=True, exist_ok=True)
    lock_path = run_dir / LOCK_NAME
    handle = open(lock_path, "a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise RunRefused(f"run folder {run_dir} is in use by {holder}; wait for that run to finish or "
                             "choose another --run-dir") from None
        handle.seek(0)
        previous = handle.read().strip()
        if previous:
            print(f"note: {run_dir} was locked by {previous}, which is no longer running; taking it over")
        for stale in run_dir.glob(f".{CHECKPOINT_NAME}.*.tmp"):  # a write cut short by a crash; we hold the lock
            stale.unlink(missing_ok=True)
        handle.seek(0)
        handle.truncate()
        started = datetime.datetime.now().isoformat(timespec="seconds")
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}, started {started}")
        handle.flush()
        yield run_dir
        handle.seek(0)
        handle.truncate()  # a clean exit leaves no holder behind
    finally:
        handle.close()


def start_run(config: LearnerConfig, seed: bool = True) -> None:
    """Global state a run sets once, where it starts: torch threads and (for a new run) every RNG's seed;
    a resumed run keeps the RNG states its checkpoint restored."""
    torch.set_num_threads(config.torch_threads)
    if seed:
        seed_everything(config.seed)


def resume_differences(recorded: Mapping[str, Any], requested: Mapping[str, Any]) -> tuple[dict, dict]:
    """(fields that may change on resume, fields that may not), each name -> (recorded, requested)."""
    safe, unsafe = {}, {}
    for name in sorted(set(recorded) | set(requested)):
        old, new = recorded.get(name), requested.get(name)
        if old != new and not (isinstance(old, (list, tuple)) and list(old) == list(new or [])):
            (safe if name in SAFE_TO_CHANGE else unsafe)[name] = (old, new)
    return safe, unsafe


@dataclasses.dataclass
class Started:
    learner: Learner | None  # None: the run is already past the requested steps (nothing to do)
    checkpoint: Path
    message: str


def start_or_resume(learner_cls: type[Learner], env: gym.Env, run_dir: str | os.PathLike, *, steps: int,
                    config: LearnerConfig, resume: bool, config_given: bool, seed_given: bool,
                    device: str = "auto", fields_given: Collection[str] = (),
                    init_from: str | os.PathLike | None = None) -> Started:
    """A fresh learner, or the checkpoint's learner when `resume`, after checking the request against it.

    `config_given`/`seed_given` say whether the caller asked for that config or seed explicitly, and
    `fields_given` names config fields asked for by option (--demos); only those are compared with the
    checkpoint (a bare `--resume` continues the recorded run as it was).
    `init_from` starts a new run from another run's checkpoint (fine-tuning, `Learner.init_from`); the
    message lists what it kept and what it reset.
    """
    if steps <= 0:
        raise ConfigError(f"--steps must be > 0, got {steps}")
    checkpoint = Path(run_dir) / CHECKPOINT_NAME
    if init_from and resume:
        raise ConfigError("--init-from starts a new run from another run's checkpoint and --resume continues "
                          "this folder's run: use one of them")
    if not resume:
        if checkpoint.exists():
            raise RunRefused(f"{checkpoint} exists: pass --resume to continue that run, or another --run-dir")
        if init_from and Path(init_from).resolve() == checkpoint.resolve():
            raise RunRefused(f"--init-from {init_from} is this run's own checkpoint; use another --run-dir")
        start_run(config)
        learner = learner_cls(env, config, device)
        message = f"starting a new run in {run_dir}"
        if init_from:
            message += "; " + learner.init_from(init_from).describe()
        return Started(learner, checkpoint, message)
    if not checkpoint.is_file():
        raise RunRefused(f"--resume: {checkpoint} does not exist; start without --resume")
    recorded = checkpoint_metadata(checkpoint)
    problems = []
    if recorded["algo"] != learner_cls.algo:
        problems.append(f"algo: checkpoint {recorded['algo']}, asked {learner_cls.algo}")
    if recorded["env_id"] and env_id_of(env) and recorded["env_id"] != env_id_of(env):
        problems.append(f"task: checkpoint {recorded['env_id']}, asked {env_id_of(env)}")
    if recorded["env_options"] is not None:  # older checkpoints did not record them
        asked = env_options(env)
        for name in sorted(set(recorded["env_options"]) | set(asked)):
            if recorded["env_options"].get(name) != asked.get(name):
                problems.append(f"env option {name} (repeat the run's --image/--randomize/--actuator): checkpoint "
                                f"{recorded['env_options'].get(name)}, asked {asked.get(name)}")
    requested = config.to_dict()
    safe, unsafe = resume_differences(recorded["config"], requested)
    if not seed_given:
        unsafe.pop("seed", None)
    if not config_given:  # only what was asked for explicitly is compared
        safe = {k: v for k, v in safe.items() if k in fields_given}
        unsafe = {k: v for k, v in unsafe.items() if k == "seed" or k in fields_given}
    problems += [f"{name}: checkpoint {old!r}, asked {new!r}" for name, (old, new) in unsafe.items()]
    if problems:
        raise RunRefused(f"--resume of {checkpoint} refused, the request differs from the recorded run in: "
                         + "; ".join(problems) + ". Resume without --config/--seed to continue it as it was, "
                         "or start a new run in another --run-dir")
    if recorded["steps"] >= steps:
        return Started(None, checkpoint, f"nothing to do: {checkpoint} is already at step {recorded['steps']} "
                                         f"(>= --steps {steps}); raise --steps to train further")
    learner = learner_cls.load(checkpoint, env, device)
    note = f"resuming {learner_cls.algo} from {checkpoint} at step {recorded['steps']}"
    if safe:
        learner.config = dataclasses.replace(learner.config, **{k: new for k, (_, new) in safe.items()})
        note += "; applied " + ", ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in safe.items())
    start_run(learner.config, seed=False)
    return Started(learner, checkpoint, note)


def train_started(started: Started, steps: int, run_dir: str | os.PathLike, *, resume_hint: str,
                  progress: bool = False, step: Callable[[], dict] | None = None) -> dict:
    """Train a `start_or_resume` learner to `steps`; Ctrl-C and divergence leave as RunInterrupted/RunDiverged
    naming the checkpoint kept (`resume_hint`: the exact command or action that continues this run).
    `step`: see Learner.train (the link's learner side feeds the loop with it)."""
    if started.learner is None:
        raise ValueError("nothing to train: the run is already past the requested steps")
    try:
        return started.learner.train(steps, run_dir, progress=progress, step=step)
    except KeyboardInterrupt:
        raise RunInterrupted(started.checkpoint, started.learner.steps_done, resume_hint) from None
    except FloatingPointError as exc:
        raise RunDiverged(str(exc), started.checkpoint) from None
    except DeviceUnplugged as exc:
        # The overseer failed before the step reached the robot, so the learner holds only whole steps: keep them.
        started.learner.save(started.checkpoint)
        raise DeviceUnplugged(f"{exc}. The run is saved in {started.checkpoint} at step {started.learner.steps_done}; "
                              f"plug the device back in and resume with: {resume_hint}") from None
