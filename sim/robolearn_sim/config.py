"""Sim-to-real knobs shared by every simulated robot: seed, domain randomisation, latency, noise, camera."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields


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
    """How a simulated robot departs from the ideal model, all drawn from `seed`.

    Randomisation ranges are relative: `mass_range=0.2` scales every link mass by U(0.8, 1.2) at each
    reset; `friction_range` does the same for lateral friction and `gain_range` for actuator strength
    (force/torque caps and motor gains). `action_latency_steps` delays every command by that many control
    steps; `observation_noise_std` adds zero-mean Gaussian noise to every measured value (not to hazard
    flags). `camera` attaches a rendered camera that fills `Observation.image`.
    """

    seed: int | None = 0
    physics_hz: float = 240.0
    mass_range: float = 0.0
    friction_range: float = 0.0
    gain_range: float = 0.0
    action_latency_steps: int = 0
    observation_noise_std: float = 0.0
    camera: CameraConfig | None = None

    def __post_init__(self) -> None:
        if self.seed is not None and (not isinstance(self.seed, int) or isinstance(self.seed, bool)):
            raise ValueError(f"seed must be an int or None, got {self.seed!r}")
        if not (math.isfinite(self.physics_hz) and self.physics_hz > 0):
            raise ValueError(f"physics_hz must be > 0, got {self.physics_hz}")
        for name in ("mass_range", "friction_range", "gain_range"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0.0 <= value < 1.0):
                raise ValueError(f"{name} is a relative range in [0, 1), got {value!r}")
        if not isinstance(self.action_latency_steps, int) or self.action_latency_steps < 0:
            raise ValueError(f"action_latency_steps must be an int >= 0, got {self.action_latency_steps!r}")
        if not (isinstance(self.observation_noise_std, (int, float)) and self.observation_noise_std >= 0
                and math.isfinite(self.observation_noise_std)):
            raise ValueError(f"observation_noise_std must be finite and >= 0, got {self.observation_noise_std!r}")

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))
