"""`SimRobot`: the one PyBullet implementation of the Robot primitives that every simulated robot shares.

Each robot owns a private DIRECT-mode client (never the global default one, so robots in one process
never see each other). Physics runs at `SimConfig.physics_hz`; one control step (`wait()`) advances
physics_hz / control_rate_hz physics steps, and `now()` is simulated time. Every reset rebuilds the
scene and restarts its clock at 0, so a seed fixes the whole trajectory, timestamps included: masses,
friction and gains drawn for that episode, start state, noise.

A concrete robot supplies only what differs: how to load its bodies (`_load`), where to start
(`_place`), how a command drives the motors (`_actuate`), and what it measures (`_measure`).
"""

from __future__ import annotations

import abc
import collections
import os
from pathlib import Path
from typing import ClassVar

import numpy as np
import pybullet as p
import pybullet_data

from robolearn.robots import URDF_DIR
from robolearn.robots.definition import RobotDefinition
from robolearn.robot import Robot, RobotError
from robolearn.safety import WorkspaceModel
from robolearn.safety.limits import LimitsError, SafetyLimits
from robolearn.spec import Observation
from robolearn_sim.camera import Camera
from robolearn_sim.config import SimConfig

ASSETS = URDF_DIR  # one copy of each robot description, in the library
GRAVITY = 9.81

# Keys that carry event flags, not measurements: never noised.
FLAG_KEYS = frozenset({"hazards"})


class SimRobot(Robot, abc.ABC):
    """Base of all PyBullet robots. Subclasses set the class attributes and implement the hooks."""

    definition: ClassVar[RobotDefinition]  # layout, URDF, workspace: robolearn/robots/<robot>.py
    camera_view: ClassVar[tuple[tuple[float, float, float], tuple[float, float, float]]] = (
        (1.0, -1.0, 1.0), (0.0, 0.0, 0.3))
    # PyBullet forgets torque commands after each physics step but keeps position/velocity motor targets.
    actuate_every_physics_step: ClassVar[bool] = False
    reset_clears_state_faults = True  # every reset rebuilds the scene

    def __init__(self, config: SimConfig | None = None, limits_path: str | os.PathLike | None = None) -> None:
        self.config = config or SimConfig()
        limits = self.definition.load_limits(limits_path)
        if abs(limits.control_rate_hz - self.control_rate_hz) > 1e-9:
            raise LimitsError(
                f"{self.robot_name}: limits file {limits.source} says control_rate_hz {limits.control_rate_hz}, the "
                f"simulated robot runs at {self.control_rate_hz} Hz; the rate limit and watchdog would be wrong")
        substeps = self.config.physics_hz / self.control_rate_hz
        if abs(substeps - round(substeps)) > 1e-9 or round(substeps) < 1:
            raise ValueError(
                f"{self.robot_name}: physics_hz {self.config.physics_hz} must be a whole multiple of the "
                f"control rate {self.control_rate_hz} Hz")
        self._substeps = int(round(substeps))
        self._camera = (Camera(self.config.camera, *self.camera_view)
                        if self.config.camera is not None else None)
        spec = self.definition.spec(limits, self._camera.shape if self._camera is not None else None)
        super().__init__(spec, self.definition.safety(limits))
        self._client: int | None = None
        self._rng = np.random.default_rng(self.config.seed)
        self._physics_steps = 0
        self._pending: collections.deque[np.ndarray | None] = collections.deque()
        self._active: np.ndarray | None = np.zeros(spec.action_size)  # None: torque off
        self.gains = np.ones(spec.action_size)
        self.randomisation: dict[str, float] = {}

    # ------------------------------------------------------------------------------------ hooks
    @abc.abstractmethod
    def _load(self, client: int) -> list[int]:
        """Load the robot and its scene into the (empty) client; return the bodies to randomise."""

    @abc.abstractmethod
    def _place(self, rng: np.random.Generator, options: dict) -> None:
        """Teleport to a start state (drawn from `rng`, or given in `options`)."""

    @abc.abstractmethod
    def _actuate(self, command: np.ndarray) -> None:
        """Drive the motors with an already safe command, once per control step (or before every physics
        step where `actuate_every_physics_step`)."""

    @abc.abstractmethod
    def _measure(self) -> dict[str, np.ndarray]:
        """The noise-free measurement, with the keys and shapes of `observation_shapes`."""

    def _rest_command(self) -> np.ndarray:
        """What the motors do before the first command of an episode: hold still."""
        return np.clip(np.zeros(self.spec.action_size), self.spec.command_low, self.spec.command_high)

    @classmethod
    def workspace_model(cls, limits: SafetyLimits) -> WorkspaceModel | None:
        """The robot definition's workspace model (None without a box)."""
        return cls.definition.workspace_model(limits)

    @property
    def robot_name(self) -> str:
        return self.definition.name

    @property
    def control_rate_hz(self) -> float:
        return self.definition.control_rate_hz

    # ------------------------------------------------------------------------- Robot primitives
    @property
    def client(self) -> int:
        if self._client is None:
            raise RobotError(f"{self.robot_name} is not connected: use `with robot:` or call connect() first")
        return self._client

    @property
    def control_substeps(self) -> int:
        return self._substeps

    def _connect(self) -> None:
        self._client = p.connect(p.DIRECT)
        if self._client < 0:
            raise RobotError(f"{self.robot_name}: could not start a PyBullet DIRECT client")
        try:
            self._rebuild()
            self._place(self._rng, {})
            self._restart_actuation()
        except Exception:
            p.disconnect(self._client)
            self._client = None
            raise

    def _disconnect(self) -> None:
        if self._client is not None:
            p.disconnect(self._client)
            self._client = None

    def _now(self) -> float:
        return self._physics_steps / self.config.physics_hz

    def _reset(self, seed: int | None, options: dict) -> None:
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self._rebuild()
        self._physics_steps = 0
        self._place(self._rng, options)
        self._restart_actuation()

    def _write(self, command: np.ndarray | None) -> None:
        # Latency: the command written now reaches the motors `action_latency_steps` writes later.
        self._pending.append(None if command is None else np.array(command, dtype=np.float64))
        due = self._pending.popleft()
        if due is not None:  # None: nothing new is sent, the motors keep the last command
            self._active = due

    def _torque_off(self) -> None:
        self._active = None  # until a command arrives: _write sets it, and _actuate energises the motors again
        self._pending = collections.deque([None] * self.config.action_latency_steps)
        self._release_motors()

    def _release_motors(self) -> None:
        """Let the actuated joints move freely (robots with `supports_torque_off`)."""
        raise NotImplementedError(f"{self.robot_name} cannot switch its motors off")

    def _advance(self) -> None:
        client = self.client
        for substep in range(self._substeps):
            if self._active is not None and (substep == 0 or self.actuate_every_physics_step):
                self._actuate(self._active)
            p.stepSimulation(physicsClientId=client)
            self._physics_steps += 1

    def _read(self) -> Observation:
        client = self.client
        values = {k: np.asarray(v, dtype=np.float64) for k, v in self._measure().items()}
        std = self.config.observation_noise_std
        if std > 0:
            for key, value in values.items():
                if key not in FLAG_KEYS:
                    values[key] = value + self._rng.normal(0.0, std, size=value.shape)
        now = self._now()
        image = self._camera.render(client) if self._camera is not None else None
        return Observation(timestamp=now, values=values, image=image,
                           image_timestamp=now if image is not None else None)

    def render(self) -> np.ndarray | None:
        """The camera frame now (None without a camera)."""
        return self._camera.render(self.client) if self._camera is not None else None

    # --------------------------------------------------------------------------------- internals
    def _rebuild(self) -> None:
        client = self.client
        p.resetSimulation(physicsClientId=client)
        p.setPhysicsEngineParameter(fixedTimeStep=1.0 / self.config.physics_hz, deterministicOverlappingPairs=1,
                                    physicsClientId=client)
        p.setGravity(0.0, 0.0, -GRAVITY, physicsClientId=client)
        bodies = self._load(client)
        self._randomise(bodies)

    def _randomise(self, bodies: list[int]) -> None:
        cfg, rng, client = self.config, self._rng, self.client
        mass_scales, friction_scales = [], []
        for body in bodies:
            for link in range(-1, p.getNumJoints(body, physicsClientId=client)):
                mass, friction = p.getDynamicsInfo(body, link, physicsClientId=client)[:2]
                changes = {}
                if cfg.mass_range > 0 and mass > 0:  # mass 0 marks a fixed base: keep it fixed
                    mass_scales.append(rng.uniform(1 - cfg.mass_range, 1 + cfg.mass_range))
                    changes["mass"] = mass * mass_scales[-1]
                if cfg.friction_range > 0:
                    friction_scales.append(rng.uniform(1 - cfg.friction_range, 1 + cfg.friction_range))
                    changes["lateralFriction"] = friction * friction_scales[-1]
                if changes:
                    p.changeDynamics(body, link, physicsClientId=client, **changes)
        self.gains = (rng.uniform(1 - cfg.gain_range, 1 + cfg.gain_range, self.spec.action_size)
                      if cfg.gain_range > 0 else np.ones(self.spec.action_size))
        # What this episode drew, for logs: mean scale factors (1 = nominal).
        self.randomisation = {"mass_scale": float(np.mean(mass_scales)) if mass_scales else 1.0,
                              "friction_scale": float(np.mean(friction_scales)) if friction_scales else 1.0,
                              "gain_scale": float(np.mean(self.gains))}

    def _restart_actuation(self) -> None:
        self._active = self._rest_command()
        self._pending = collections.deque([None] * self.config.action_latency_steps)


def load_asset(client: int, filename: str, **kwargs) -> int:
    """Load a URDF from the library's robot descriptions (absolute paths are used as given)."""
    path = Path(filename) if os.path.isabs(filename) else ASSETS / filename
    if not path.is_file():
        raise FileNotFoundError(f"robot description {path} is missing: reinstall robolearn with its sim assets")
    return p.loadURDF(str(path), physicsClientId=client, **kwargs)


def joint_states(body: int, joints: list[int], client: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions, velocities and applied motor efforts of `joints`."""
    states = p.getJointStates(body, joints, physicsClientId=client)
    return (np.array([s[0] for s in states]), np.array([s[1] for s in states]),
            np.array([s[3] for s in states]))


def free_joints(body: int, joints: list[int], client: int) -> None:
    """Switch off PyBullet's default velocity motors so joints move freely under torque control."""
    p.setJointMotorControlArray(body, joints, p.VELOCITY_CONTROL, forces=[0.0] * len(joints),
                                physicsClientId=client)


def load_ground(client: int) -> int:
    """A flat floor (pybullet_data's plane) at z = 0."""
    return p.loadURDF(str(Path(pybullet_data.getDataPath()) / "plane.urdf"), physicsClientId=client)


def reset_option(options: dict, key: str, size: int, robot: str) -> np.ndarray:
    """`options[key]` as `size` finite floats, or a ValueError saying what was expected."""
    value = np.asarray(options[key], dtype=np.float64).reshape(-1)
    if value.shape != (size,) or not np.all(np.isfinite(value)):
        raise ValueError(f"{robot}: reset option {key!r} must be {size} finite numbers, got {options[key]!r}")
    return value
