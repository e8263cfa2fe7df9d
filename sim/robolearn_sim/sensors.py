"""Sensor models: what a real robot's readings add to the true state.

`SensorModel` turns each true measurement into what a driver would deliver, in this order: encoder
calibration offset on `joint_pos`, Gaussian noise on every measured value (event flags are never
noised), quantisation of `joint_pos` to the encoder resolution, measurement latency in whole control
steps, and dropped readings (the previous reading is repeated with its old timestamp, as a driver that
got no reply would do). `CameraModel` adds frame latency and exposure noise to rendered frames.
All randomness comes from the robot's seeded generator.

An encoder offset is a calibration error: the servo's zero is not the model's. A position servo reads and
commands in its own frame, so joint position commands go through the same offset (and are whole counts)
and the servo holds what it reads as the goal; only the model (kinematics, workspace) is off.
"""

from __future__ import annotations

import collections

import numpy as np

from robolearn.spec import CommandKind, RobotSpec
from robolearn_sim.perturbation import Perturbation

ENCODER_KEY = "joint_pos"


class SensorModel:
    """Applies one Perturbation's sensor fields to readings; `reset` at every episode start."""

    def __init__(self, perturbation: Perturbation, flag_keys: frozenset[str]) -> None:
        self.perturbation = perturbation
        self.flag_keys = flag_keys
        self._ideal = not perturbation.uses("encoder_offset", "encoder_resolution", "observation_noise_std",
                                            "dropout_prob", "measurement_latency_steps")
        self._delayed: collections.deque[dict[str, np.ndarray]] = collections.deque()
        self._last: tuple[float, dict[str, np.ndarray]] | None = None

    def reset(self) -> None:
        self._delayed.clear()
        self._last = None

    def servo_frame_to_true(self, command: np.ndarray, spec: RobotSpec) -> np.ndarray:
        """Where a joint position command really sends the joints (other command kinds pass unchanged)."""
        pert = self.perturbation
        if self._ideal or spec.command_kind is not CommandKind.JOINT_POSITION or spec.command_names != spec.joint_names:
            return command
        if pert.encoder_resolution > 0:
            command = np.round(command / pert.encoder_resolution) * pert.encoder_resolution
        return command - pert.per_element("encoder_offset", command.size)

    def __call__(self, values: dict[str, np.ndarray], timestamp: float,
                 rng: np.random.Generator) -> tuple[float, dict[str, np.ndarray]]:
        """(timestamp, readings) delivered for the true `values` measured at `timestamp`."""
        if self._ideal:
            return timestamp, values
        pert = self.perturbation
        values = {k: np.array(v, dtype=np.float64) for k, v in values.items()}
        if ENCODER_KEY in values:
            values[ENCODER_KEY] = values[ENCODER_KEY] + pert.per_element("encoder_offset",
                                                                         values[ENCODER_KEY].size)
        if pert.observation_noise_std > 0:
            for key, value in values.items():
                if key not in self.flag_keys:
                    values[key] = value + rng.normal(0.0, pert.observation_noise_std, size=value.shape)
        if pert.encoder_resolution > 0 and ENCODER_KEY in values:
            step = pert.encoder_resolution
            values[ENCODER_KEY] = np.round(values[ENCODER_KEY] / step) * step
        # Latency: the first reading of an episode stands in for the readings before it.
        self._delayed.append(values)
        while len(self._delayed) > pert.measurement_latency_steps + 1:
            self._delayed.popleft()
        delivered = self._delayed[0]
        if self._last is not None and pert.dropout_prob > 0 and rng.random() < pert.dropout_prob:
            return self._last
        self._last = (timestamp, delivered)
        return self._last


class CameraModel:
    """Frame latency in control steps and Gaussian exposure noise (uint8 levels) on rendered frames."""

    def __init__(self, perturbation: Perturbation) -> None:
        self.perturbation = perturbation
        self._frames: collections.deque[tuple[float, np.ndarray]] = collections.deque()

    def reset(self) -> None:
        self._frames.clear()

    def __call__(self, frame: np.ndarray, timestamp: float,
                 rng: np.random.Generator) -> tuple[float, np.ndarray]:
        """(capture timestamp, frame) delivered for `frame` rendered at `timestamp`."""
        pert = self.perturbation
        if pert.camera_noise_std > 0:
            noisy = frame.astype(np.float64) + rng.normal(0.0, pert.camera_noise_std, size=frame.shape)
            frame = np.clip(np.round(noisy), 0, 255).astype(np.uint8)
        self._frames.append((timestamp, frame))
        while len(self._frames) > pert.camera_latency_steps + 1:
            self._frames.popleft()
        return self._frames[0]
