"""Knobs shared by every simulated robot: seed, physics rate, perturbation (robolearn_sim.perturbation), camera."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

from robolearn_sim.perturbation import Perturbation, PerturbationRanges


@dataclass(frozen=True)
class CameraConfig:
    """A fixed camera rendered with PyBullet's TinyRenderer into a uint8 (height, width, 3) frame.

    `eye` and `target` default to a view chosen by each robot (None = the robot's default).
    """

    width: int = 84
    height: int = 84
    fov_deg: float = 60.0
    eye: tuple[float, float, float] | None = None
    target: tuple[float, float, float] | None = None
    near: float = 0.02
    far: float = 20.0

    def __post_init__(self) -> None:
        for name in ("width", "height"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 8 <= value <= 1024:
                raise ValueError(f"camera {name} must be an int in [8, 1024], got {value!r}")
        if not 1.0 <= self.fov_deg <= 170.0:
            raise ValueError(f"camera fov_deg must be in [1, 170], got {self.fov_deg}")
        if not 0 < self.near < self.far:
            raise ValueError(f"camera clipping planes need 0 < near < far, got near={self.near}, far={self.far}")


@dataclass(frozen=True)
class SimConfig:
    """How a simulated robot runs, all drawn from `seed`.

    `perturbation` is how it departs from the nominal model (masses, friction, gains, latency, sensor
    errors): a fixed `Perturbation`, or `PerturbationRanges` drawn afresh at every reset from the robot's
    seeded generator. `camera` attaches a rendered camera that fills `Observation.image`.
    """

    seed: int | None = 0
    physics_hz: float = 240.0
    perturbation: Perturbation | PerturbationRanges = field(default_factory=Perturbation)
    camera: CameraConfig | None = None

    def __post_init__(self) -> None:
        if self.seed is not None and (not isinstance(self.seed, int) or isinstance(self.seed, bool)):
            raise ValueError(f"seed must be an int or None, got {self.seed!r}")
        if not (math.isfinite(self.physics_hz) and self.physics_hz > 0):
            raise ValueError(f"physics_hz must be > 0, got {self.physics_hz}")
        if not isinstance(self.perturbation, (Perturbation, PerturbationRanges)):
            raise ValueError(f"perturbation must be a Perturbation or PerturbationRanges (see "
                             f"robolearn_sim.perturbation.load_perturbation for names, files and dicts), "
                             f"got {self.perturbation!r}")

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))
