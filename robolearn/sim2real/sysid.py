"""System identification: fit the simulator's parameters to an excitation recording with CMA-ES.

The recorded (applied) commands are replayed on the PyBullet robot of the same name (its own DIRECT
client), through its SafetyController as on every path, from the recorded start state; the loss is the
mean squared difference between the replayed and the recorded measurements, each channel (a joint's
position, a base's x, ...) divided by the recording's spread of that channel, velocities weighted
`VELOCITY_WEIGHT`. Continuous parameters (link mass scale, joint damping and friction, servo gain scale,
encoder offsets, tyre friction) are searched by CMA-ES (`cma`) on [0, 1]-scaled bounds; the command
latency, a whole number of control steps, by trying each candidate latency at the nominal parameters,
fitting at the best one, and trying the latencies again at the fit (once more CMA-ES if another wins).

The result is a `robolearn_sim.Perturbation`: `write_fit` saves it (only if CMA-ES converged and the fit
beats the nominal sim; never over the previous file otherwise) as a file the sim loads
(`make_robot(robot, perturbation="params.yaml")`), with a report (YAML) and a plot (PNG) beside it.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from robolearn.sim2real.recording import Recording, RecordingError
from robolearn_sim import Perturbation, make_robot, save_perturbation
from robolearn_sim.base import SimRobot

VELOCITY_WEIGHT = 0.2  # velocities are noisier and follow from positions: they only break ties
FIT_KEYS = ("joint_pos", "joint_vel", "base_pose", "base_twist")
CHANNEL_NAMES = {"base_pose": ("x", "y", "yaw"), "base_twist": ("linear_x", "angular_z")}
MAX_LATENCY_STEPS = 3
# CMA-ES stop criteria that mean it settled (as opposed to running out of budget or time).
CONVERGED = frozenset({"tolx", "tolfun", "tolfunrel", "tolfunhist", "tolflatfitness", "tolstagnation"})


class SysidError(RuntimeError):
    """The fit did not converge or did not improve on the nominal sim; nothing was written."""


@dataclass(frozen=True)
class Parameter:
    """One identified quantity: a Perturbation field (one element of it where `index` is set) in [low, high]."""

    name: str
    field: str
    low: float
    high: float
    nominal: float
    index: int | None = None
    unit: str = ""


# name -> (Perturbation field, low, high, nominal, unit); encoder_offset expands to one per joint.
_CATALOGUE: dict[str, tuple[str, float, float, float, str]] = {
    "mass_scale": ("mass_scale", 0.3, 3.0, 1.0, "x"),
    "gain_scale": ("gain_scale", 0.3, 2.0, 1.0, "x"),
    "joint_damping": ("joint_damping", 0.0, 0.5, 0.0, "N·m·s/rad"),
    "joint_friction": ("joint_friction", 0.0, 0.5, 0.0, "N·m"),
    "friction_scale": ("friction_scale", 0.2, 3.0, 1.0, "x"),
    "encoder_offset": ("encoder_offset", -0.1, 0.1, 0.0, "rad"),
}
LATENCY = "action_latency_steps"
PARAMETER_NAMES = (*_CATALOGUE, LATENCY)


def default_parameters(robot: SimRobot) -> tuple[str, ...]:
    """What a fit identifies unless told otherwise: the latency, the link masses, and for a joint robot the
    servo gains and joint damping (and friction where the joints are torque-driven). A base's twist
    excitation sees its motors' strength and its mass only as their ratio (a fit of both slides along
    that ridge without converging), and its ground friction not at all below slip (bench/bench_sysid.py),
    so by default a base fits mass_scale (standing for both) and latency; the others can be asked for."""
    if "joint_pos" not in robot.spec.observation_shapes:
        return ("mass_scale", LATENCY)
    names = ["mass_scale", "gain_scale", "joint_damping"]
    if robot.torque_driven_joints:
        names.append("joint_friction")
    return (*names, LATENCY)


def expand_parameters(names: Sequence[str], robot: SimRobot) -> tuple[list[Parameter], bool]:
    """The continuous Parameters behind `names`, and whether the latency is fitted too."""
    unknown = [n for n in names if n not in PARAMETER_NAMES]
    if unknown or not names:
        raise ValueError(f"cannot identify {unknown or 'nothing'}; choose from {list(PARAMETER_NAMES)}")
    params: list[Parameter] = []
    for name in dict.fromkeys(names):
        if name == LATENCY:
            continue
        field_name, low, high, nominal, unit = _CATALOGUE[name]
        if name == "joint_friction" and not robot.torque_driven_joints:
            raise ValueError(f"{robot.robot_name}: joint_friction needs torque-driven joints (an actuator model, "
                             f"e.g. --actuator sts3215 on the arm)")
        if name == "encoder_offset":
            joints = robot.spec.joint_names or ()
            if "joint_pos" not in robot.spec.observation_shapes:
                raise ValueError(f"{robot.robot_name} measures no joint positions: encoder_offset does not apply")
            params += [Parameter(f"encoder_offset[{j}]", field_name, low, high, nominal, i, unit)
                       for i, j in enumerate(joints)]
        else:
            params.append(Parameter(name, field_name, low, high, nominal, None, unit))
    return params, LATENCY in names


def to_perturbation(params: Sequence[Parameter], values: Sequence[float], latency: int, n_encoders: int
                    ) -> Perturbation:
    """The Perturbation with `values` for `params` (nominal elsewhere)."""
    fields: dict[str, Any] = {LATENCY: int(latency)}
    offsets = np.zeros(n_encoders)
    for p, v in zip(params, values):
        if p.index is not None:
            offsets[p.index] = v
        else:
            fields[p.field] = float(v)
    if any(p.index is not None for p in params):
        fields["encoder_offset"] = tuple(float(o) for o in offsets)
    return Perturbation(**fields)


@dataclass
class Rollout:
    observations: dict[str, np.ndarray]  # key -> (T+1, ...)


@dataclass
class FitResult:
    robot: str
    parameters: list[Parameter]
    values: dict[str, float]  # parameter name -> identified value (latency included where fitted)
    perturbation: Perturbation
    nominal_loss: float
    loss: float
    channel_rms_nominal: dict[str, float]  # channel -> RMS error of the nominal sim (SI units)
    channel_rms: dict[str, float]  # channel -> RMS error of the fitted sim
    converged: bool
    stop_reasons: list[str]
    evaluations: int
    sim_options: dict[str, Any] = field(default_factory=dict)  # make_robot options the fit holds for (actuator)
    recorded: dict[str, np.ndarray] = field(repr=False, default_factory=dict)
    nominal_rollout: dict[str, np.ndarray] = field(repr=False, default_factory=dict)
    fitted_rollout: dict[str, np.ndarray] = field(repr=False, default_factory=dict)
    times: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))

    @property
    def improvement(self) -> float:
        """Fitted loss / nominal loss (below 1: the fit is closer to the recording)."""
        return self.loss / self.nominal_loss if self.nominal_loss > 0 else 1.0


class Replayer:
    """Replays a recording's applied commands on a sim robot under a candidate Perturbation."""

    def __init__(self, recording: Recording, robot: SimRobot) -> None:
        recording.check_robot(robot.robot_name, robot.control_rate_hz)
        self.recording = recording
        self.robot = robot
        self.keys = [k for k in FIT_KEYS if k in recording.observations]
        missing = set(self.keys) - set(robot.spec.observation_shapes)
        if not self.keys or missing:
            raise RecordingError(f"the recording's measurements {sorted(recording.observations)} do not match the "
                                 f"{robot.robot_name} sim's {sorted(robot.spec.observation_shapes)}")
        if recording.commands.shape[1] != robot.spec.action_size:
            raise RecordingError(f"the recording has {recording.commands.shape[1]} commands per step, "
                                 f"{robot.robot_name} takes {robot.spec.action_size}")
        recorded = [recording.observations[k].reshape(len(recording) + 1, -1) for k in self.keys]
        self.target = np.concatenate(recorded, axis=1)
        # Each channel in units of its own spread, so a 1 m x and a 0.3 rad elbow count alike; but never
        # below a tenth of its key's largest spread, or a joint the excitation left still (spread ~0) would
        # turn a 0.1 mrad wobble into the largest error of the fit.
        spreads = [r.std(axis=0) for r in recorded]
        self.scale = np.concatenate([np.maximum(s, max(0.1 * s.max(), 1e-3)) for s in spreads])
        self.weight = np.concatenate([np.full(r.shape[1], VELOCITY_WEIGHT if k.endswith(("vel", "twist")) else 1.0)
                                      for k, r in zip(self.keys, recorded)])
        self.channels = [name for k, r in zip(self.keys, recorded) for name in _channel_names(k, r.shape[1], robot)]
        self._wrap = np.array([c == "yaw" for c in self.channels])
        self.evaluations = 0

    def rollout(self, perturbation: Perturbation) -> np.ndarray:
        """(T+1, channels) measurements of the sim replaying the recording under `perturbation`."""
        robot = self.robot
        robot.config = dataclasses.replace(robot.config, perturbation=perturbation)
        first = {k: v[0] for k, v in self.recording.observations.items()}
        options: dict[str, np.ndarray] = {}
        if "joint_pos" in first:  # the measurement includes the encoder offset; the sim starts at the true pose
            n = len(first["joint_pos"])
            options["joint_pos"] = first["joint_pos"] - perturbation.per_element("encoder_offset", n)
        for key in ("joint_vel", "base_pose"):
            if key in first:
                options[key] = first[key]
        rows = [self._row(robot.reset(seed=0, options=options))]
        for command in self.recording.applied:
            robot.send_action(command)
            robot.wait()
            rows.append(self._row(robot.observe()))
        self.evaluations += 1
        return np.array(rows)

    def _row(self, observation) -> np.ndarray:
        return np.concatenate([np.asarray(observation[k], dtype=np.float64).reshape(-1) for k in self.keys])

    def errors(self, simulated: np.ndarray) -> np.ndarray:
        difference = simulated - self.target
        difference[:, self._wrap] = (difference[:, self._wrap] + math.pi) % (2 * math.pi) - math.pi
        return difference

    def loss(self, simulated: np.ndarray) -> float:
        scaled = self.errors(simulated) / self.scale
        return float(np.mean(np.mean(scaled ** 2, axis=0) * self.weight))

    def channel_rms(self, simulated: np.ndarray) -> dict[str, float]:
        rms = np.sqrt(np.mean(self.errors(simulated) ** 2, axis=0))
        return {c: float(v) for c, v in zip(self.channels, rms)}


def _channel_names(key: str, size: int, robot: SimRobot) -> list[str]:
    if key in CHANNEL_NAMES:
        return list(CHANNEL_NAMES[key])
    joints = robot.spec.joint_names if len(robot.spec.joint_names) == size else [str(i) for i in range(size)]
    return [f"{j}{'.vel' if key == 'joint_vel' else ''}" for j in joints]


def sim_robot_for(recording: Recording, actuator: str | None = None, robot: str | None = None) -> SimRobot:
    """The sim robot of the recording's robot (checked to be `robot` where given), with the actuator model
    it was recorded with (sim recordings keep it in their meta) or `actuator`."""
    from robolearn.robots.registry import robot_definition

    name = robot_definition(recording.robot).name  # e.g. a Create 2 is the diffdrive_base
    if robot is not None and name != robot_definition(robot).name:
        raise RecordingError(f"the recording is of robot {recording.robot!r}, not {robot!r}: record the robot you "
                             f"fit (robolearn sysid excite {robot} --out ...)")
    return make_robot(name, seed=0, **sim_options(recording, actuator))


def sim_options(recording: Recording, actuator: str | None = None) -> dict[str, Any]:
    """The sim robot's options (the actuator model) a fit uses: the sim recording's own, or `actuator`."""
    options: dict[str, Any] = dict(recording.meta.get("sim", {}).get("options", {}))
    if actuator is not None:
        options["actuator"] = actuator
    return options


def fit(recording: Recording, parameters: Sequence[str] | None = None, *, robot: str | None = None,
        actuator: str | None = None, budget: int = 300, seed: int = 0, sigma0: float = 0.25,
        progress: Callable[[str], None] | None = None) -> FitResult:
    """Fit the sim to `recording`: CMA-ES over the continuous `parameters` (default
    `default_parameters`), with at most `budget` rollouts for each CMA-ES run. `robot`: the robot the
    caller means to fit (a recording of another one is refused)."""
    import cma  # noqa: F401  (fail before any rollout where the `sysid` extra is missing)

    say = progress or (lambda message: None)
    sim = sim_robot_for(recording, actuator, robot)
    with sim:
        replay = Replayer(recording, sim)
        names = tuple(parameters) if parameters else default_parameters(sim)
        params, fit_latency = expand_parameters(names, sim)
        n_encoders = int(np.prod(sim.spec.observation_shapes.get("joint_pos", (0,))))
        lows = np.array([p.low for p in params])
        spans = np.array([p.high - p.low for p in params])
        x_nominal = (np.array([p.nominal for p in params]) - lows) / spans

        def physical(x: np.ndarray) -> np.ndarray:
            return lows + np.clip(x, 0.0, 1.0) * spans

        def evaluate(x: np.ndarray, latency: int) -> float:
            return replay.loss(replay.rollout(to_perturbation(params, physical(x), latency, n_encoders)))

        nominal_sim = replay.rollout(Perturbation())
        nominal_loss = replay.loss(nominal_sim)
        say(f"nominal sim: loss {nominal_loss:.4g}")
        latencies = list(range(MAX_LATENCY_STEPS + 1)) if fit_latency else [0]

        def best_latency(x: np.ndarray) -> int:
            losses = {lat: evaluate(x, lat) for lat in latencies}
            chosen = min(losses, key=losses.get)
            say("latency " + ", ".join(f"{lat}: {v:.4g}" for lat, v in losses.items()) + f" -> {chosen} steps")
            return chosen

        latency = best_latency(x_nominal)
        x_best, reasons, converged = x_nominal, ["no continuous parameters"], True
        for round_ in range(2):
            if not params:
                break
            x_best, reasons = _cma(lambda x: evaluate(x, latency), x_best, sigma0, budget, seed + round_, say)
            converged = bool(CONVERGED & set(reasons))
            if not fit_latency:
                break
            new_latency = best_latency(x_best)
            if new_latency == latency:
                break
            latency = new_latency  # and fit the continuous parameters again at it
        perturbation = to_perturbation(params, physical(x_best), latency, n_encoders)
        fitted_sim = replay.rollout(perturbation)
        values = {p.name: float(v) for p, v in zip(params, physical(x_best))}
        if fit_latency:
            values[LATENCY] = latency
        return FitResult(
            robot=sim.robot_name, parameters=params, values=values, perturbation=perturbation,
            nominal_loss=nominal_loss, loss=replay.loss(fitted_sim),
            channel_rms_nominal=replay.channel_rms(nominal_sim), channel_rms=replay.channel_rms(fitted_sim),
            converged=converged, stop_reasons=reasons, evaluations=replay.evaluations,
            sim_options=sim_options(recording, actuator),
            recorded=dict(zip(replay.channels, replay.target.T)),
            nominal_rollout=dict(zip(replay.channels, nominal_sim.T)),
            fitted_rollout=dict(zip(replay.channels, fitted_sim.T)), times=recording.obs_times - recording.obs_times[0])


def _cma(objective: Callable[[np.ndarray], float], x0: np.ndarray, sigma0: float, budget: int, seed: int,
         say: Callable[[str], None]) -> tuple[np.ndarray, list[str]]:
    import cma

    # tolx on [0, 1]-scaled parameters: 0.5 % of each parameter's range; tolfunrel: the loss stopped moving.
    options = {"bounds": [0.0, 1.0], "seed": seed + 1, "maxfevals": budget, "tolx": 5e-3, "tolfun": 1e-10,
               "tolfunrel": 1e-8, "verbose": -9}
    if len(x0) == 1:  # cma needs two dimensions; a 1-D search runs on a duplicated coordinate
        value, es = _cma_1d(objective, float(x0[0]), sigma0, options)
        return np.array([value]), sorted(es.stop())
    es = cma.CMAEvolutionStrategy(list(x0), sigma0, options)
    while not es.stop():
        candidates = es.ask()
        es.tell(candidates, [objective(np.asarray(c)) for c in candidates])
        say(f"  cma: {es.result.evaluations} rollouts, best loss {es.result.fbest:.4g}")
    return np.asarray(es.result.xbest), sorted(es.stop())


def _cma_1d(objective: Callable[[np.ndarray], float], x0: float, sigma0: float, options: dict):
    import cma

    # cma searches two dimensions at least: the second is a dummy pinned at 0.5 by a separable quadratic
    # (it leaves the first's optimum where it was and converges with it, so tolx still means settled).
    es = cma.CMAEvolutionStrategy([x0, 0.5], sigma0, options)
    while not es.stop():
        candidates = es.ask()
        es.tell(candidates, [objective(np.array([c[0]])) + (c[1] - 0.5) ** 2 for c in candidates])
    return float(es.result.xbest[0]), es


def write_fit(result: FitResult, path: str | os.PathLike, recording_path: str | os.PathLike | None = None,
              plot: bool = True) -> dict[str, Path]:
    """Write the fitted Perturbation to `path` (YAML the sim loads), `<path>.report.yaml` and `<path>.png`.

    Raises SysidError, writing nothing and leaving any previous file at `path` as it was, when CMA-ES did
    not converge or the fit is not better than the nominal sim."""
    path = Path(path)
    if not result.converged:
        raise SysidError(f"the fit did not converge (CMA-ES stopped on {result.stop_reasons} after "
                         f"{result.evaluations} rollouts); nothing was written"
                         f"{' and ' + str(path) + ' was kept as it was' if path.exists() else ''}: raise --budget, "
                         f"fit fewer parameters, or record a longer excitation")
    if not result.loss < result.nominal_loss * 0.999:
        raise SysidError(f"the fit (loss {result.loss:.4g}) is no better than the nominal sim "
                         f"({result.nominal_loss:.4g}); nothing was written"
                         f"{' and ' + str(path) + ' was kept as it was' if path.exists() else ''}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_perturbation(result.perturbation, tmp, result.robot)
    header = (f"# Identified by `robolearn sysid fit`{' from ' + str(recording_path) if recording_path else ''}: "
              f"loss {result.loss:.4g} vs nominal {result.nominal_loss:.4g} after {result.evaluations} rollouts.\n"
              f"# Load with make_robot({result.robot!r}, perturbation=<this file>"
              + "".join(f", {k}={v!r}" for k, v in result.sim_options.items())
              + f"); the report is {path.name}.report.yaml\n")
    tmp.write_text(header + tmp.read_text())
    os.replace(tmp, path)  # the previous file is replaced only by a complete new one
    written = {"params": path, "report": path.with_name(path.name + ".report.yaml")}
    written["report"].write_text(_yaml(report_dict(result, recording_path)))
    if plot:
        written["plot"] = plot_fit(result, path.with_name(path.name + ".png"))
    return written


def report_dict(result: FitResult, recording_path: str | os.PathLike | None = None) -> dict[str, Any]:
    return {
        "robot": result.robot,
        "recording": str(recording_path) if recording_path else None,
        "sim_options": result.sim_options,
        "converged": result.converged, "stop_reasons": result.stop_reasons, "rollouts": result.evaluations,
        "loss": {"nominal": result.nominal_loss, "fitted": result.loss, "ratio": result.improvement},
        "parameters": {p.name: {"value": result.values[p.name], "nominal": p.nominal, "bounds": [p.low, p.high],
                                "unit": p.unit} for p in result.parameters}
        | ({LATENCY: {"value": result.values[LATENCY], "nominal": 0, "unit": "control steps"}}
           if LATENCY in result.values else {}),
        "rms_error": {c: {"nominal": result.channel_rms_nominal[c], "fitted": result.channel_rms[c]}
                      for c in result.channel_rms},
    }


def _yaml(data: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False)


def plot_fit(result: FitResult, path: str | os.PathLike) -> Path:
    """A PNG with one panel per channel: recorded, nominal sim and fitted sim over time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    channels = list(result.recorded)
    cols = 2 if len(channels) > 3 else 1
    rows = math.ceil(len(channels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6 * cols, 1.8 * rows), squeeze=False, sharex=True)
    for ax, channel in zip(axes.flat, channels):
        ax.plot(result.times, result.recorded[channel], "k-", lw=1.2, label="recorded")
        ax.plot(result.times, result.nominal_rollout[channel], "C1--", lw=1, label="nominal sim")
        ax.plot(result.times, result.fitted_rollout[channel], "C0-", lw=1, label="fitted sim")
        ax.set_ylabel(channel, fontsize=8)
        ax.set_title(f"RMS nominal {result.channel_rms_nominal[channel]:.3g}, fitted {result.channel_rms[channel]:.3g}",
                     fontsize=8)
    for ax in list(axes.flat)[len(channels):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("time (s)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return Path(path)
