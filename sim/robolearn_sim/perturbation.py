"""The public perturbation API: how a simulated robot departs from its nominal model, in SI units.

A `Perturbation` is one concrete departure (masses 1.2x, 2 steps of command latency, a 0.03 rad encoder
offset, ...). A `PerturbationRanges` is a distribution over them: `sample(rng, layout)` draws one
Perturbation from a seeded numpy Generator. Give either to a sim robot as `SimConfig.perturbation`
(or `make_robot(..., perturbation=...)`, `gymnasium.make(id, perturbation=...)`): the robot draws (for
ranges) and applies it at every reset from its own seeded generator, so it survives `reset()` and a
seed fixes the whole episode; physical parts (external force, joint friction) act at every physics
step. `presets(robot)` names ready-made ones; `load_perturbation` reads a preset name, a YAML file or a
dict.

Per-element fields take one number (every element) or a tuple with one number per element of the
robot's `PerturbationLayout` (`robot.perturbation_layout()`): links for `mass_scale`, movable joints
for `joint_damping` / `joint_friction`, actuators for `gain_scale`, `servo_backlash` and
`servo_deadband`, `joint_pos` entries for `encoder_offset`.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping, Union

import numpy as np
import yaml

Scalars = Union[float, tuple[float, ...]]
Interval = tuple[float, float]

MAX_SCALE = 10.0  # mass / gain / friction scales beyond 10x are a typo, not a robot
MAX_FORCE = 1000.0  # N
MAX_CAMERA_NOISE = 255.0  # uint8 intensity levels


@dataclass(frozen=True)
class PerturbationLayout:
    """What a robot's per-element perturbation fields index: link names (mass), movable joint names
    (damping, friction), the number of actuators (gains) and of `joint_pos` entries (encoders)."""

    links: tuple[str, ...] = ()
    joints: tuple[str, ...] = ()
    actuators: int = 1
    encoders: int = 0


# per-element field -> the layout entry its tuples index
_PER_ELEMENT = {
    "mass_scale": "links",
    "gain_scale": "actuators",
    "joint_damping": "joints",
    "joint_friction": "joints",
    "encoder_offset": "encoders",
    "servo_backlash": "actuators",
    "servo_deadband": "actuators",
}
_INT_FIELDS = ("action_latency_steps", "measurement_latency_steps", "camera_latency_steps")


def _layout_size(layout: PerturbationLayout, entry: str) -> int:
    value = getattr(layout, entry)
    return value if isinstance(value, int) else len(value)


def _as_scalars(name: str, value: Any) -> Scalars:
    if isinstance(value, (list, tuple, np.ndarray)):
        try:
            values = tuple(float(v) for v in np.asarray(value, dtype=np.float64).reshape(-1))
        except (TypeError, ValueError):
            raise ValueError(f"perturbation {name} must be a number or a list of numbers, got {value!r}") from None
        if not values:
            raise ValueError(f"perturbation {name}: an empty list; give one number or one per element")
        return values
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ValueError(f"perturbation {name} must be a number or a list of numbers, got {value!r}")
    return float(value)


def _check_range(name: str, value: Scalars, low: float, high: float, *, low_open: bool = False,
                 unit: str = "") -> None:
    for v in (value if isinstance(value, tuple) else (value,)):
        below = v <= low if low_open else v < low
        if not math.isfinite(v) or below or v > high:
            bracket = "(" if low_open else "["
            raise ValueError(f"perturbation {name} must be in {bracket}{low}, {high}]{unit}, got {v!r}"
                             + (" (a negative or zero scale is not physical)" if low_open and v <= 0 else ""))


@dataclass(frozen=True)
class Perturbation:
    """One concrete departure from the nominal sim robot. Defaults are the ideal robot.

    Dynamics (applied at every reset; force and friction at every physics step):
      mass_scale: multiplies link masses (global, or per link of the layout); fixed bases stay fixed.
      friction_scale: multiplies every link's lateral (contact) friction.
      joint_damping: viscous joint damping added to each movable joint, N·m·s/rad (N·s/m if prismatic).
      joint_friction: Coulomb joint friction, N·m (N if prismatic); only on torque-driven joints (the
        effort robots, or an arm with a servo actuator model), refused where a motor drives the joint.
      gain_scale: multiplies actuator strength (torque / force caps, servo gains), global or per actuator.
      external_force: a constant force in N, world frame, at the centre of mass of `external_force_link`
        (None = a mobile robot's base, or the last link of a fixed-base chain: the arm's end effector).
      action_latency_steps: a command reaches the motors this many control steps after it is sent.
      servo_backlash, servo_deadband: rad added to a servo actuator model's own gear play and deadband
        (robolearn_sim.actuators; refused on robots without one), global or per actuator.
    Sensors (applied to every reading, see robolearn_sim.sensors):
      observation_noise_std: zero-mean Gaussian noise on every measured value (not on event flags),
        in each value's own unit.
      encoder_offset: a calibration error in rad added to `joint_pos` (global or per joint); a position
        servo also commands in that frame, so joint position commands are shifted by it too.
      encoder_resolution: joint_pos quantised to this step in rad (2π/4096 for a 12-bit encoder; 0 = ideal).
      measurement_latency_steps: readings arrive this many control steps late.
      dropout_prob: probability that a reading is lost and the previous one (with its old timestamp) is
        repeated.
      camera_latency_steps: camera frames arrive this many control steps late.
      camera_noise_std: Gaussian exposure noise on camera pixels, in uint8 levels.
    """

    mass_scale: Scalars = 1.0
    friction_scale: float = 1.0
    joint_damping: Scalars = 0.0
    joint_friction: Scalars = 0.0
    gain_scale: Scalars = 1.0
    external_force: tuple[float, float, float] = (0.0, 0.0, 0.0)
    external_force_link: str | None = None
    action_latency_steps: int = 0
    servo_backlash: Scalars = 0.0
    servo_deadband: Scalars = 0.0
    observation_noise_std: float = 0.0
    encoder_offset: Scalars = 0.0
    encoder_resolution: float = 0.0
    measurement_latency_steps: int = 0
    dropout_prob: float = 0.0
    camera_latency_steps: int = 0
    camera_noise_std: float = 0.0

    def __post_init__(self) -> None:
        for name in _PER_ELEMENT:
            object.__setattr__(self, name, _as_scalars(name, getattr(self, name)))
        for name in ("friction_scale", "observation_noise_std", "encoder_resolution", "dropout_prob",
                     "camera_noise_std"):
            value = getattr(self, name)
            if isinstance(value, (list, tuple)) or isinstance(value, bool):
                raise ValueError(f"perturbation {name} must be one number, got {value!r}")
            object.__setattr__(self, name, _as_scalars(name, value))
        for name in _INT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, (bool, float)) or not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"perturbation {name} must be a whole number of control steps >= 0, "
                                 f"got {value!r}")
            object.__setattr__(self, name, int(value))
        _check_range("mass_scale", self.mass_scale, 0.0, MAX_SCALE, low_open=True)
        _check_range("gain_scale", self.gain_scale, 0.0, MAX_SCALE, low_open=True)
        _check_range("friction_scale", self.friction_scale, 0.0, MAX_SCALE)
        _check_range("joint_damping", self.joint_damping, 0.0, 1e3, unit=" N·m·s/rad")
        _check_range("joint_friction", self.joint_friction, 0.0, 1e3, unit=" N·m")
        _check_range("servo_backlash", self.servo_backlash, 0.0, 0.5, unit=" rad")
        _check_range("servo_deadband", self.servo_deadband, 0.0, 0.5, unit=" rad")
        _check_range("observation_noise_std", self.observation_noise_std, 0.0, 1e3)
        _check_range("encoder_offset", self.encoder_offset, -math.pi, math.pi, unit=" rad")
        _check_range("encoder_resolution", self.encoder_resolution, 0.0, 1.0, unit=" rad")
        _check_range("dropout_prob", self.dropout_prob, 0.0, 0.99)
        _check_range("camera_noise_std", self.camera_noise_std, 0.0, MAX_CAMERA_NOISE, unit=" uint8 levels")
        force = np.asarray(self.external_force, dtype=np.float64).reshape(-1)
        if force.shape != (3,) or not np.all(np.isfinite(force)) or np.linalg.norm(force) > MAX_FORCE:
            raise ValueError(f"perturbation external_force must be 3 finite numbers (N, world frame) of "
                             f"magnitude <= {MAX_FORCE}, got {self.external_force!r}")
        object.__setattr__(self, "external_force", tuple(float(f) for f in force))
        if self.external_force_link is not None and not isinstance(self.external_force_link, str):
            raise ValueError(f"perturbation external_force_link must be a link name or None, "
                             f"got {self.external_force_link!r}")

    # ------------------------------------------------------------------------------------ checks
    @property
    def is_nominal(self) -> bool:
        return self == Perturbation()

    def uses(self, *names: str) -> bool:
        """Whether any of the fields `names` departs from zero (for all its elements)."""
        return any(np.any(np.asarray(getattr(self, name)) != 0) for name in names)

    def check_layout(self, layout: PerturbationLayout, robot: str) -> None:
        """Raise ValueError if a per-element tuple does not match `robot`'s layout."""
        for name, entry in _PER_ELEMENT.items():
            value = getattr(self, name)
            size = _layout_size(layout, entry)
            if isinstance(value, tuple) and len(value) != size:
                names = getattr(layout, entry)
                listing = f": {list(names)}" if not isinstance(names, int) else ""
                raise ValueError(f"{robot}: perturbation {name} has {len(value)} values, the robot has {size} "
                                 f"{entry}{listing}; give one number or one per element")
        if layout.encoders == 0 and self.uses("encoder_offset", "encoder_resolution"):
            raise ValueError(f"{robot} measures no joint_pos: encoder_offset / encoder_resolution do not apply")

    def check_episode(self, max_episode_steps: int) -> None:
        """Raise ValueError if a latency is at least an episode long (no command or reading would arrive)."""
        for name in _INT_FIELDS:
            if getattr(self, name) >= max_episode_steps:
                raise ValueError(f"perturbation {name}={getattr(self, name)} is not shorter than the episode "
                                 f"({max_episode_steps} steps): nothing would arrive within an episode")

    # ------------------------------------------------------------------------------ conversions
    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Perturbation":
        """Build from a mapping of field names (lists for tuples); unknown keys are a clear error."""
        _check_keys(cls, data, "perturbation")
        return cls(**dict(data))

    def to_dict(self) -> dict[str, Any]:
        """Plain types (lists for tuples), for YAML and logs; `from_dict(to_dict())` round-trips."""
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v for f in fields(self)}

    def per_element(self, name: str, size: int) -> np.ndarray:
        """Field `name` as an array of `size` values (a scalar broadcast)."""
        value = getattr(self, name)
        return np.full(size, value) if not isinstance(value, tuple) else np.asarray(value, dtype=np.float64)


@dataclass(frozen=True)
class PerturbationRanges:
    """A distribution of Perturbations: each field is a fixed value or an interval [low, high] drawn
    uniformly (whole numbers for the latency fields). Per-element fields in `per_element` are drawn
    independently for every element of the robot's layout; the others once for the whole robot.

    `centre` (optional) is the identified robot the ranges are drawn around, e.g. the Perturbation that
    `robolearn sysid fit` wrote (a Perturbation, a mapping of its fields, or the path of its YAML file):
    each draw is combined with it, scales multiplying the centre's (mass, friction, gain), the other
    fields adding to it (damping, friction, offsets, latencies, force), sensor noise levels taking the
    larger of the two. So `mass_scale: [0.9, 1.1]` around a fitted 1.3 draws from [1.17, 1.43]."""

    mass_scale: float | Interval = 1.0
    friction_scale: float | Interval = 1.0
    joint_damping: float | Interval = 0.0
    joint_friction: float | Interval = 0.0
    gain_scale: float | Interval = 1.0
    external_force: tuple[Interval, Interval, Interval] | tuple[float, float, float] = (0.0, 0.0, 0.0)
    external_force_link: str | None = None
    action_latency_steps: int | tuple[int, int] = 0
    servo_backlash: float | Interval = 0.0
    servo_deadband: float | Interval = 0.0
    observation_noise_std: float | Interval = 0.0
    encoder_offset: float | Interval = 0.0
    encoder_resolution: float = 0.0
    measurement_latency_steps: int | tuple[int, int] = 0
    dropout_prob: float | Interval = 0.0
    camera_latency_steps: int | tuple[int, int] = 0
    camera_noise_std: float | Interval = 0.0
    per_element: tuple[str, ...] = ("mass_scale", "gain_scale", "encoder_offset")
    centre: Perturbation | None = None

    def __post_init__(self) -> None:
        if self.centre is not None and not isinstance(self.centre, Perturbation):
            object.__setattr__(self, "centre", _as_centre(self.centre))
        for f in fields(self):
            if f.name in ("per_element", "external_force_link", "external_force", "centre"):
                continue
            value = getattr(self, f.name)
            if isinstance(value, (list, tuple)):
                if len(value) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                              for v in value):
                    raise ValueError(f"perturbation range {f.name} must be a number or [low, high], got {value!r}")
                if not value[0] <= value[1]:
                    raise ValueError(f"perturbation range {f.name} has low > high: {list(value)}")
                if f.name in _INT_FIELDS and not all(float(v).is_integer() for v in value):
                    raise ValueError(f"perturbation range {f.name} is in whole control steps, got {list(value)}")
                object.__setattr__(self, f.name, tuple(value))
        force = self.external_force
        if not (isinstance(force, (list, tuple)) and len(force) == 3):
            raise ValueError(f"perturbation range external_force must be 3 entries (numbers or [low, high]), "
                             f"got {force!r}")
        object.__setattr__(self, "external_force", tuple(tuple(c) if isinstance(c, (list, tuple)) else c
                                                         for c in force))
        unknown = set(self.per_element) - set(_PER_ELEMENT)
        if unknown:
            raise ValueError(f"per_element may name only {sorted(_PER_ELEMENT)}, got {sorted(unknown)}")
        object.__setattr__(self, "per_element", tuple(self.per_element))
        # Both ends must be valid Perturbations: a bad range fails here, not at some later reset.
        self.bound("low"), self.bound("high")

    def bound(self, end: str) -> Perturbation:
        """The Perturbation at the `low` or `high` end of every interval (for validation and sweeps)."""
        index = {"low": 0, "high": 1}[end]
        pick = lambda v: v[index] if isinstance(v, tuple) else v  # noqa: E731
        values = {f.name: pick(getattr(self, f.name)) for f in fields(Perturbation)}
        values["external_force"] = tuple(pick(c) for c in self.external_force)
        for name in _INT_FIELDS:
            values[name] = int(values[name])
        return self._around_centre(Perturbation(**values))

    def centred_on(self, centre: "Perturbation | Mapping[str, Any] | str | os.PathLike") -> "PerturbationRanges":
        """These ranges drawn around `centre` (see the class docstring)."""
        return dataclasses.replace(self, centre=_as_centre(centre))

    def _around_centre(self, draw: Perturbation) -> Perturbation:
        centre = self.centre
        if centre is None:
            return draw
        values: dict[str, Any] = {}
        for f in fields(Perturbation):
            a, b = getattr(centre, f.name), getattr(draw, f.name)
            if f.name in _SCALE_FIELDS:
                values[f.name] = _elementwise(np.multiply, a, b)
            elif f.name in _LEVEL_FIELDS:
                values[f.name] = max(a, b)
            elif f.name == "external_force":
                values[f.name] = tuple(x + y for x, y in zip(a, b))
            elif f.name == "external_force_link":
                values[f.name] = b if b is not None else a
            elif f.name in _INT_FIELDS:
                values[f.name] = a + b
            else:
                values[f.name] = _elementwise(np.add, a, b)
        return Perturbation(**values)

    def sample(self, rng: np.random.Generator, layout: PerturbationLayout | None = None) -> Perturbation:
        """Draw one Perturbation. With a `layout`, fields in `per_element` get one draw per element."""
        values: dict[str, Any] = {}
        for f in fields(Perturbation):
            spec = getattr(self, f.name)
            if f.name == "external_force":
                values[f.name] = tuple(_draw(rng, c) for c in spec)
            elif f.name in _INT_FIELDS:
                values[f.name] = int(rng.integers(spec[0], spec[1] + 1)) if isinstance(spec, tuple) else int(spec)
            elif (layout is not None and f.name in self.per_element and isinstance(spec, tuple)
                  and _layout_size(layout, _PER_ELEMENT[f.name]) > 0):
                size = _layout_size(layout, _PER_ELEMENT[f.name])
                values[f.name] = tuple(float(v) for v in rng.uniform(spec[0], spec[1], size))
            else:
                values[f.name] = _draw(rng, spec)
        if layout is not None and layout.encoders == 0:
            values["encoder_offset"], values["encoder_resolution"] = 0.0, 0.0
        return self._around_centre(Perturbation(**values))

    def check_episode(self, max_episode_steps: int) -> None:
        self.bound("high").check_episode(max_episode_steps)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "PerturbationRanges":
        _check_keys(cls, data, "perturbation ranges")
        return cls(**dict(data))

    def to_dict(self) -> dict[str, Any]:
        def plain(v):
            return [plain(c) for c in v] if isinstance(v, tuple) else v
        data = {f.name: plain(getattr(self, f.name)) for f in fields(self) if f.name != "centre"}
        if self.centre is not None:
            data["centre"] = self.centre.to_dict()
        return data


# How a draw combines with a range's centre: scales multiply, noise levels take the larger, the rest add.
_SCALE_FIELDS = ("mass_scale", "friction_scale", "gain_scale")
_LEVEL_FIELDS = ("observation_noise_std", "encoder_resolution", "dropout_prob", "camera_noise_std")


def _elementwise(op, a: Scalars, b: Scalars) -> Scalars:
    if not isinstance(a, tuple) and not isinstance(b, tuple):
        return float(op(a, b))
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) != len(b):
        raise ValueError(f"a range's centre has {len(a)} values where the draw has {len(b)}: give the centre one "
                         f"number or one per element of the robot")
    return tuple(float(v) for v in op(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)))


def _as_centre(value: Any) -> Perturbation:
    if isinstance(value, Perturbation):
        return value
    if isinstance(value, Mapping) and not {"perturbation", "ranges"} & set(value):
        return Perturbation.from_dict(value)
    loaded = load_perturbation(value)
    if not isinstance(loaded, Perturbation):
        raise ValueError(f"a range's centre must be one Perturbation (e.g. the file `robolearn sysid fit` writes), "
                         f"not ranges: {value!r}")
    return loaded


def _draw(rng: np.random.Generator, spec: float | Interval) -> float:
    if isinstance(spec, tuple):
        return float(spec[0]) if spec[0] == spec[1] else float(rng.uniform(spec[0], spec[1]))
    return spec


def _check_keys(cls: type, data: Mapping[str, Any], what: str) -> None:
    if not isinstance(data, Mapping):
        raise ValueError(f"a {what} must be a mapping of field names, got {type(data).__name__}")
    unknown = set(data) - {f.name for f in fields(cls)}
    if unknown:
        raise ValueError(f"unknown {what} field(s) {sorted(unknown)}; known: {[f.name for f in fields(cls)]}")


# ----------------------------------------------------------------------------------------- presets
ENCODER_12BIT = 2 * math.pi / 4096  # rad per count: STS3215 and XL330 (RECIPES §11)

# Presets differ between robots only in which errors exist: a joint robot has encoders, a base has none.
_JOINT_ROBOTS = ("so101_arm", "pendulum", "cartpole")
_BASE_ROBOTS = ("diffdrive_base", "car")


def presets(robot_name: str) -> dict[str, Perturbation | PerturbationRanges]:
    """The named perturbations for `robot_name`.

    "nominal" is the ideal sim; single-error presets ("servo_lag", "stale_sensors", "weak_gains",
    "heavy", ...) are the errors every real robot has, one at a time, for robustness reports; "mild" and
    "strong" are ranges for randomised training.

    "mild" leaves latency out: a policy that sees only the latest measurement cannot tell how late its
    commands land, so latency drawn in training only makes it cautious. Measured with
    bench/bench_robustness.py (2 seeds): with 0-1 steps of command latency in these ranges, SAC's nominal
    return fell to 0.79x (ArmReach) and 0.86x (BaseGoal) of the nominal-trained policy's, with no gain in
    retention under latency; without it, 0.99x on ArmReach at the same retention. "strong" keeps command
    and measurement latency, for a deliberately cautious policy.
    """
    if robot_name not in _JOINT_ROBOTS + _BASE_ROBOTS:
        raise ValueError(f"no perturbation presets for robot {robot_name!r}; known: "
                         f"{sorted(_JOINT_ROBOTS + _BASE_ROBOTS)}")
    joints = robot_name in _JOINT_ROBOTS
    named: dict[str, Perturbation | PerturbationRanges] = {
        "nominal": Perturbation(),
        "servo_lag": Perturbation(action_latency_steps=2),
        "stale_sensors": Perturbation(measurement_latency_steps=1),
        "weak_gains": Perturbation(gain_scale=0.7),
        "heavy": Perturbation(mass_scale=1.5),
        "noisy": Perturbation(observation_noise_std=0.01),
        "dropouts": Perturbation(dropout_prob=0.1),
        "mild": PerturbationRanges(mass_scale=(0.9, 1.1), friction_scale=(0.9, 1.1), gain_scale=(0.9, 1.1),
                                   observation_noise_std=(0.0, 0.005),
                                   encoder_offset=(-0.01, 0.01) if joints else 0.0,
                                   encoder_resolution=ENCODER_12BIT if joints else 0.0),
        "strong": PerturbationRanges(mass_scale=(0.7, 1.5), friction_scale=(0.7, 1.3), gain_scale=(0.7, 1.1),
                                     joint_damping=(0.0, 0.05) if joints else 0.0,
                                     action_latency_steps=(0, 2), measurement_latency_steps=(0, 1),
                                     observation_noise_std=(0.0, 0.01),
                                     encoder_offset=(-0.03, 0.03) if joints else 0.0,
                                     encoder_resolution=ENCODER_12BIT if joints else 0.0),
    }
    if joints:
        named["calibration"] = Perturbation(encoder_offset=0.03)
        named["encoder_12bit"] = Perturbation(encoder_resolution=ENCODER_12BIT)
    else:
        named["slippery"] = Perturbation(friction_scale=0.5)
    return named


def load_perturbation(source: str | os.PathLike | Mapping[str, Any] | Perturbation | PerturbationRanges | None,
                      robot_name: str | None = None) -> Perturbation | PerturbationRanges:
    """A Perturbation or PerturbationRanges from a preset name of `robot_name`, a YAML file, or a dict
    (None: the nominal robot).

    A file or dict holds either `perturbation: {field: value}` or `ranges: {field: value or [low, high]}`,
    and optionally `robot: <name>` (checked against `robot_name`).
    """
    if source is None:
        return Perturbation()
    if isinstance(source, (Perturbation, PerturbationRanges)):
        return source
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.suffix in (".yaml", ".yml") or path.is_file():
            if not path.is_file():
                raise FileNotFoundError(f"perturbation file {path} does not exist")
            try:
                data = yaml.safe_load(path.read_text())
            except yaml.YAMLError as exc:
                raise ValueError(f"perturbation file {path} is not valid YAML: {exc}") from None
            if isinstance(data, Mapping) and isinstance(data.get("ranges"), Mapping):
                data = {**data, "ranges": _centre_beside(data["ranges"], path)}
            return _from_document(data, robot_name, str(path))
        if robot_name is None:
            raise ValueError(f"perturbation {str(source)!r}: a preset name needs the robot; or give a YAML file")
        named = presets(robot_name)
        if str(source) not in named:
            raise ValueError(f"unknown perturbation preset {str(source)!r} for {robot_name}; presets: "
                             f"{sorted(named)}, or give a YAML file")
        return named[str(source)]
    return _from_document(source, robot_name, "perturbation dict")


def _centre_beside(ranges: Mapping[str, Any], document: Path) -> Mapping[str, Any]:
    """A ranges file's relative `centre:` path is read beside that file (where sysid wrote both), unless it
    names a file from the working directory."""
    centre = ranges.get("centre")
    if isinstance(centre, str) and not Path(centre).is_absolute() and not Path(centre).is_file():
        return {**ranges, "centre": str(document.parent / centre)}
    return ranges


def _from_document(data: Any, robot_name: str | None, where: str) -> Perturbation | PerturbationRanges:
    if not isinstance(data, Mapping) or len({"perturbation", "ranges"} & set(data)) != 1:
        raise ValueError(f"{where}: expected a mapping with exactly one of 'perturbation:' or 'ranges:' "
                         f"(and optionally 'robot:'), got {data!r}")
    unknown = set(data) - {"perturbation", "ranges", "robot"}
    if unknown:
        raise ValueError(f"{where}: unknown top-level key(s) {sorted(unknown)}")
    if robot_name is not None and data.get("robot") not in (None, robot_name):
        raise ValueError(f"{where} is for robot {data['robot']!r}, not {robot_name!r}")
    if "perturbation" in data:
        return Perturbation.from_dict(data["perturbation"] or {})
    return PerturbationRanges.from_dict(data["ranges"] or {})


def save_perturbation(value: Perturbation | PerturbationRanges, path: str | os.PathLike,
                      robot_name: str | None = None) -> None:
    """Write `value` as YAML that `load_perturbation` reads back."""
    key = "perturbation" if isinstance(value, Perturbation) else "ranges"
    document: dict[str, Any] = {"robot": robot_name} if robot_name else {}
    document[key] = value.to_dict()
    Path(path).write_text(yaml.safe_dump(document, sort_keys=False))


__all__ = ["ENCODER_12BIT", "Perturbation", "PerturbationLayout", "PerturbationRanges", "load_perturbation",
           "presets", "save_perturbation"]
