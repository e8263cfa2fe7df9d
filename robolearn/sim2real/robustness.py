"""Robustness report: a policy and the task's scripted expert, side by side, on the sim robot under a sweep of
perturbations (servo lag, stale sensors, calibration error, weak gains, ...), so a user sees before deploying
which errors the policy cannot survive.

Every perturbation is evaluated on the same episode seeds for both controllers (paired comparison), with
the safety layer in the loop as on the robot. Per row: the task's return (`return_mean`, computed as on
the robot from what the sensors measured), the return of the physical truth (`true_return_mean`: the same
reward on the sim's true state, which a calibration error or noisy sensors cannot flatter), the true
success rate, and the steps where the SafetyController changed the command (clips) or stopped the robot
(stops). `retention` is the true return under the perturbation divided by the same controller's nominal
true return (defined when that is positive).

A sweep is a preset name of the task's robot, a comma-separated list of them, `all` (every preset), a
perturbation file (`robolearn_sim.load_perturbation`'s format), or a YAML file:

    robot: so101_arm            # optional, checked
    sweep:
      servo_lag: servo_lag                              # a preset
      lag3: {perturbation: {action_latency_steps: 3}}   # a fixed perturbation
      heavy_random: {ranges: {mass_scale: [1.2, 1.6]}}  # drawn afresh every episode

`nominal` is always evaluated first: retention needs it.
"""

from __future__ import annotations

import csv
import dataclasses
import os
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from robolearn.files import read_yaml
from robolearn.learners.run import evaluate_policy

NOMINAL = "nominal"
COLUMNS = ("perturbation", "controller", "return_mean", "true_return_mean", "true_return_std", "retention",
           "success_rate", "safety_clips", "safety_stops", "episodes")


class SweepError(ValueError):
    """A sweep that cannot be evaluated (unknown preset, bad file, wrong robot)."""


@dataclasses.dataclass(frozen=True)
class Row:
    perturbation: str
    controller: str  # "policy" or "expert"
    return_mean: float  # the task's reward on the measured state, as the robot would report it
    true_return_mean: float  # the same reward on the true state
    true_return_std: float
    retention: float | None
    success_rate: float | None  # judged on the true state
    safety_clips: int
    safety_stops: int
    episodes: int

    def cells(self) -> list[str]:
        def number(value: float | None, fmt: str) -> str:
            return "-" if value is None else format(value, fmt)

        return [self.perturbation, self.controller, f"{self.return_mean:.2f}", f"{self.true_return_mean:.2f}",
                f"{self.true_return_std:.2f}", number(self.retention, ".3f"), number(self.success_rate, ".2f"),
                str(self.safety_clips), str(self.safety_stops), str(self.episodes)]


@dataclasses.dataclass
class RobustnessReport:
    task: str
    policy: str
    rows: list[Row]
    actuator: str | None = None  # the sim robot's actuator model (None: its ideal motors)

    @property
    def robot(self) -> str:
        return f"{self.task} with the {self.actuator} actuator model" if self.actuator else self.task

    def row(self, perturbation: str, controller: str) -> Row:
        for row in self.rows:
            if (row.perturbation, row.controller) == (perturbation, controller):
                return row
        raise KeyError(f"no row for {perturbation!r} / {controller!r}")

    def mean_retention(self, controller: str = "policy") -> float | None:
        """Mean retention over the perturbed rows of `controller` (None when undefined)."""
        values = [r.retention for r in self.rows
                  if r.controller == controller and r.perturbation != NOMINAL and r.retention is not None]
        return float(np.mean(values)) if values else None

    def table(self) -> str:
        """Fixed-width text table, one row per perturbation and controller."""
        cells = [list(COLUMNS)] + [row.cells() for row in self.rows]
        widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in cells)

    def markdown(self) -> str:
        lines = [f"Robustness of `{self.policy}` on {self.robot}", "",
                 "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        lines += ["| " + " | ".join(row.cells()) + " |" for row in self.rows]
        return "\n".join(lines) + "\n"

    def write(self, out_dir: str | os.PathLike) -> dict[str, Path]:
        """robustness.csv, robustness.md and robustness.png in `out_dir`; returns their paths."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"csv": out / "robustness.csv", "md": out / "robustness.md", "png": out / "robustness.png"}
        with open(paths["csv"], "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(COLUMNS)
            for row in self.rows:
                writer.writerow(["" if v is None else v for v in dataclasses.astuple(row)])
        paths["md"].write_text(self.markdown())
        self.plot(paths["png"])
        return paths

    def plot(self, path: Path) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        names = list(dict.fromkeys(r.perturbation for r in self.rows))
        controllers = list(dict.fromkeys(r.controller for r in self.rows))
        x = np.arange(len(names))
        width = 0.8 / len(controllers)
        fig, axes = plt.subplots(1, 2, figsize=(max(8.0, 1.1 * len(names) + 4), 4))
        for i, controller in enumerate(controllers):
            rows = [self.row(n, controller) for n in names]
            offset = (i - (len(controllers) - 1) / 2) * width
            axes[0].bar(x + offset, [r.true_return_mean for r in rows], width,
                        yerr=[r.true_return_std for r in rows], label=controller, capsize=2)
            axes[1].bar(x + offset, [r.safety_clips + r.safety_stops for r in rows], width, label=controller)
        axes[1].set_ylim(0, max([1] + [r.safety_clips + r.safety_stops for r in self.rows]) * 1.1)
        for ax, title in zip(axes, ("true return (mean, std)", "safety interventions (clips + stops)")):
            ax.set_xticks(x, names, rotation=35, ha="right")
            ax.set_title(title)
            ax.grid(axis="y", alpha=0.3)
            ax.legend()
        fig.suptitle(f"{self.policy} on {self.task}")
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)


# ------------------------------------------------------------------------------------------------ sweeps
def load_sweep(source: str | os.PathLike, task: str) -> dict[str, dict]:
    """Perturbation name -> the document `task`'s sim robot takes ({"perturbation"|"ranges": fields}),
    nominal first. `source`: a preset of the robot, a comma-separated list of presets, `all`, or a sweep
    YAML file."""
    from robolearn.tasks.registry import task_entry
    from robolearn.training import randomisation_document
    from robolearn_sim import presets

    robot = task_entry(task).robot
    named = presets(robot)
    text = str(source)
    path = Path(text)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        data = read_yaml(path, SweepError, f"sweep file {path} does not exist")
        if isinstance(data, Mapping) and ({"perturbation", "ranges"} & set(data)):
            data = {"robot": data.get("robot"), "sweep": {path.stem: str(path)}}  # one perturbation file
        if not isinstance(data, Mapping) or not isinstance(data.get("sweep"), Mapping) or not data["sweep"]:
            raise SweepError(f"{path}: expected `sweep:` mapping perturbation names to a preset name or a "
                             "{perturbation: ...} / {ranges: ...} document (and optionally `robot:`)")
        if data.get("robot") not in (None, robot):
            raise SweepError(f"{path} is a sweep for robot {data['robot']!r}, the task's robot is {robot!r}")
        unknown = set(data) - {"robot", "sweep"}
        if unknown:
            raise SweepError(f"{path}: unknown top-level key(s) {sorted(unknown)}; expected robot and sweep")
        entries = dict(data["sweep"])
        where = str(path)
    else:
        names = list(named) if text == "all" else [n.strip() for n in text.split(",") if n.strip()]
        entries = {name: name for name in names}
        where = "--perturb"
    sweep = {NOMINAL: randomisation_document(task, NOMINAL)}
    for name, spec in entries.items():
        if isinstance(spec, str) and spec not in named and not Path(spec).is_file():
            raise SweepError(f"{where}: unknown perturbation preset {spec!r} for {robot}; presets: {sorted(named)}, "
                             "`all`, or a sweep YAML file")
        try:
            sweep[str(name)] = randomisation_document(task, spec)
        except (ValueError, TypeError) as exc:
            raise SweepError(f"{where}: perturbation {name!r}: {exc}") from None
    return sweep


# ----------------------------------------------------------------------------------------- controllers
# A controller of a task's env: env -> act(observation) -> action in [-1, 1]^n, raising if it does not fit
# the env (robolearn.data.transitions.scripted_expert is one).
Controller = Callable[[Any], Callable[[Any], np.ndarray]]


@dataclasses.dataclass
class PolicyFile:
    task: str  # the task it was trained on ("" when the file does not say)
    image: bool  # whether it observes camera frames
    controller: Controller
    actuator: str | None = None  # the sim actuator model it was trained with (a checkpoint records it)


def load_policy(path: str | os.PathLike, task: str | None = None, device: str = "cpu") -> PolicyFile:
    """An exported ONNX policy (run with onnxruntime, as on the robot) or a training checkpoint."""
    path = Path(path)
    if path.suffix == ".onnx":
        from robolearn.export.runtime import PolicyRuntime

        runtime = PolicyRuntime(path)

        def onnx_controller(env: Any) -> Callable[[Any], np.ndarray]:
            runtime.check_compatible(env.unwrapped.robot.spec)
            return runtime.action

        return PolicyFile(task or runtime.metadata.task_id, False, onnx_controller)
    from robolearn.learners.base import learner_class, load_checkpoint

    data = load_checkpoint(path)
    learner_cls = learner_class(str(data.get("algo", "")))

    def checkpoint_controller(env: Any) -> Callable[[Any], np.ndarray]:
        return learner_cls.load(path, env, device).act  # checks the env's spaces against the checkpoint

    return PolicyFile(task or data.get("env_id") or "", "image" in data.get("observation_space", {}),
                      checkpoint_controller, (data.get("env_options") or {}).get("actuator"))


def evaluate_under(task: str, document: Mapping[str, Any], controller: Controller, *, image: bool,
                   episodes: int, seed: int, actuator: str | None = None) -> dict:
    """`evaluate_policy` of `controller` on `task` (its sim robot with `actuator`, if given) perturbed by
    `document`, scoring the true state too."""
    from robolearn.envs.privileged import TrueReward
    from robolearn.training import make_env

    env = TrueReward(make_env(task, image=image, randomize=document, actuator=actuator))
    try:
        return evaluate_policy(env, controller(env), episodes, seed)
    finally:
        env.close()


def robustness_report(policy_path: str | os.PathLike, sweep: str | os.PathLike, *, task: str | None = None,
                      episodes: int = 10, seed: int = 10_000, device: str = "cpu",
                      with_expert: bool = True, progress: Callable[[str], None] | None = None,
                      actuator: str | None = None) -> RobustnessReport:
    """Evaluate the policy in `policy_path` (and the task's scripted expert, where it has one) under every
    perturbation of `sweep` (see `load_sweep`), `episodes` episodes each on seeds seed, seed + 1, ..., on the
    sim robot with `actuator` (default: the one a checkpoint was trained with; else the ideal motors)."""
    if episodes <= 0:
        raise ValueError(f"--episodes must be > 0, got {episodes}")
    policy = load_policy(policy_path, task, device)
    actuator = actuator or policy.actuator
    if not policy.task:
        raise ValueError(f"{policy_path} does not record its task: pass --task")
    from robolearn.tasks.registry import task_entry

    entry = task_entry(policy.task)
    documents = load_sweep(sweep, entry.id)
    task_obj = entry.make_task()
    controllers: dict[str, Controller] = {"policy": policy.controller}
    if with_expert and task_obj.has_expert:
        from robolearn.data.transitions import scripted_expert

        controllers["expert"] = scripted_expert
    rows: list[Row] = []
    nominal: dict[str, float] = {}
    for name, document in documents.items():
        for controller_name, controller in controllers.items():
            if progress:
                progress(f"{name}: {controller_name}")
            result = evaluate_under(entry.id, document, controller, image=policy.image, episodes=episodes,
                                    seed=seed, actuator=actuator)
            true_return = result["true_return_mean"]
            if name == NOMINAL:
                nominal[controller_name] = true_return
            base = nominal.get(controller_name)
            retention = true_return / base if base is not None and base > 0 else None
            rows.append(Row(name, controller_name, result["return_mean"], true_return, result["true_return_std"],
                            retention, result["true_success_rate"], result["safety_clips"], result["safety_stops"],
                            episodes))
    return RobustnessReport(entry.id, Path(policy_path).name, rows, actuator)

