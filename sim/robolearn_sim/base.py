"""`SimRobot`: the one PyBullet implementation of the Robot primitives that every simulated robot shares.

Each robot owns a private DIRECT-mode client (never the global default one, so robots in one process
never see each other). Physics runs at `SimConfig.physics_hz`; one control step (`wait()`) advances
physics_hz / control_rate_hz physics steps, and `now()` is simulated time. Every reset rebuilds the
scene and restarts its clock at 0, so a seed fixes the whole trajectory, timestamps included: the
episode's perturbation (drawn from `SimConfig.perturbation` when it is a range), start state, noise.

A concrete robot supplies only what differs: how to load its bodies (`_load`), where to start
(`_place`), how a command drives the motors (`_actuate`), and what it measures (`_measure`); actuator
models add what must survive the perturbation in `_after_perturbation`.
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
from robolearn_sim.perturbation import Perturbation, PerturbationLayout, PerturbationRanges
from robolearn_sim.sensors import CameraModel, SensorModel

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
    # True where commands reach the joints as torques (not through PyBullet's position/velocity motors),
    # which leaves the joint motor free to model Coulomb joint friction.
    torque_driven_joints: ClassVar[bool] = False
    has_servo_model: ClassVar[bool] = False  # True where a servo model takes servo_backlash / servo_deadband

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
        self.perturbation = Perturbation()  # this episode's, drawn at every reset
        self._sensors = SensorModel(self.perturbation, FLAG_KEYS)
        self._camera_model = CameraModel(self.perturbation)
        self._true_values: dict[str, np.ndarray] | None = None
        self._force_target: tuple[int, int] | None = None  # (body, link) the external force acts on
        self._perturbed_bodies: list[int] = []

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

    def _after_perturbation(self, client: int) -> None:
        """Called after the episode's perturbation is applied: add what must not scale with it (e.g. a
        motor's armature on the link inertia)."""

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
        if command is not None:
            command = self._sensors.servo_frame_to_true(np.array(command, dtype=np.float64), self.spec)
        # Latency: the command written now reaches the motors `action_latency_steps` writes later.
        self._pending.append(command)
        due = self._pending.popleft()
        if due is not None:  # None: nothing new is sent, the motors keep the last command
            self._active = due

    def _torque_off(self) -> None:
        self._active = None  # until a command arrives: _write sets it, and _actuate energises the motors again
        self._pending = collections.deque([None] * self.perturbation.action_latency_steps)
        self._release_motors()

    def _release_motors(self) -> None:
        """Let the actuated joints move freely (robots with `supports_torque_off`)."""
        raise NotImplementedError(f"{self.robot_name} cannot switch its motors off")

    def _advance(self) -> None:
        client = self.client
        force = self.perturbation.external_force
        for substep in range(self._substeps):
            if self._active is not None and (substep == 0 or self.actuate_every_physics_step):
                self._actuate(self._active)
            if self._force_target is not None:  # PyBullet clears external forces after every step
                body, link = self._force_target
                where = (p.getBasePositionAndOrientation(body, physicsClientId=client)[0] if link < 0
                         else p.getLinkState(body, link, physicsClientId=client)[0])
                p.applyExternalForce(body, link, force, where, p.WORLD_FRAME, physicsClientId=client)
            p.stepSimulation(physicsClientId=client)
            self._physics_steps += 1

    def _read(self) -> Observation:
        client = self.client
        self._true_values = {k: np.array(v, dtype=np.float64) for k, v in self._measure().items()}
        now = self._now()
        timestamp, values = self._sensors(self._true_values, now, self._rng)
        image = image_timestamp = None
        if self._camera is not None:
            image_timestamp, image = self._camera_model(self._camera.render(client), now, self._rng)
        # Copies: a caller editing its observation must not edit the true state or a repeated reading.
        return Observation(timestamp=timestamp, values={k: v.copy() for k, v in values.items()}, image=image,
                           image_timestamp=image_timestamp)

    def true_state(self) -> dict[str, np.ndarray] | None:
        """The noise-free, undelayed measurement behind the latest observation (privileged: for evaluation
        and asymmetric critics only, never for a policy that is deployed)."""
        return None if self._true_values is None else {k: v.copy() for k, v in self._true_values.items()}

    def perturbation_layout(self) -> PerturbationLayout:
        """What this robot's per-element perturbation fields index (needs a connected robot)."""
        client, links, joints = self.client, [], []
        for body in self._perturbed_bodies:
            for link in range(-1, p.getNumJoints(body, physicsClientId=client)):
                if p.getDynamicsInfo(body, link, physicsClientId=client)[0] > 0:
                    links.append(_link_name(body, link, client))
                if link >= 0 and p.getJointInfo(body, link, physicsClientId=client)[2] != p.JOINT_FIXED:
                    joints.append(p.getJointInfo(body, link, physicsClientId=client)[1].decode())
        encoders = self.spec.observation_shapes.get("joint_pos", (0,))
        return PerturbationLayout(links=tuple(links), joints=tuple(joints), actuators=self.spec.action_size,
                                  encoders=int(np.prod(encoders)))

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
        self._perturb(bodies)
        self._after_perturbation(client)

    def _perturb(self, bodies: list[int]) -> None:
        """Draw (for ranges) and apply this episode's perturbation to the freshly loaded scene."""
        client, source = self.client, self.config.perturbation
        self._perturbed_bodies = bodies
        layout = self.perturbation_layout()
        pert = source.sample(self._rng, layout) if isinstance(source, PerturbationRanges) else source
        pert.check_layout(layout, self.robot_name)
        if not self.torque_driven_joints and pert.uses("joint_friction"):
            raise ValueError(f"{self.robot_name}: joint_friction needs torque-driven joints; this robot drives its "
                             f"joints through PyBullet motors (choose a torque-level actuator model)")
        if not self.has_servo_model and pert.uses("servo_backlash", "servo_deadband"):
            raise ValueError(f"{self.robot_name}: servo_backlash / servo_deadband need a servo actuator model "
                             f"(e.g. actuator='sts3215' on the arm)")
        masses = iter(pert.per_element("mass_scale", len(layout.links)))
        damping = iter(pert.per_element("joint_damping", len(layout.joints)))
        friction = iter(pert.per_element("joint_friction", len(layout.joints)))
        for body in bodies:
            for link in range(-1, p.getNumJoints(body, physicsClientId=client)):
                mass, lateral, inertia = p.getDynamicsInfo(body, link, physicsClientId=client)[:3]
                changes = {}
                if mass > 0:  # mass 0 marks a fixed base: keep it fixed
                    scale = next(masses)
                    if scale != 1.0:  # a denser link: the inertia scales too (PyBullet would recompute it
                        changes["mass"] = mass * scale  # from the collision shape, losing the URDF's)
                        changes["localInertiaDiagonal"] = [i * scale for i in inertia]
                if pert.friction_scale != 1.0:
                    changes["lateralFriction"] = lateral * pert.friction_scale
                if link >= 0 and p.getJointInfo(body, link, physicsClientId=client)[2] != p.JOINT_FIXED:
                    extra_damping, coulomb = next(damping), next(friction)
                    if extra_damping > 0:
                        urdf_damping = p.getJointInfo(body, link, physicsClientId=client)[6]
                        changes["jointDamping"] = urdf_damping + extra_damping
                    if coulomb > 0:  # an implicit (stable) Coulomb friction: a zero-speed motor capped at it
                        p.setJointMotorControl2(body, link, p.VELOCITY_CONTROL, targetVelocity=0.0, force=coulomb,
                                                physicsClientId=client)
                if changes:
                    p.changeDynamics(body, link, physicsClientId=client, **changes)
        self.gains = pert.per_element("gain_scale", self.spec.action_size)
        self._force_target = self._find_force_target(pert, bodies) if any(pert.external_force) else None
        self.perturbation = pert
        self._sensors = SensorModel(pert, FLAG_KEYS)
        self._camera_model = CameraModel(pert)

    def _find_force_target(self, pert: Perturbation, bodies: list[int]) -> tuple[int, int]:
        if pert.external_force_link is None:  # a free-moving base, or the far end of a fixed-base chain
            body = bodies[0]
            fixed = p.getDynamicsInfo(body, -1, physicsClientId=self.client)[0] == 0
            return body, (p.getNumJoints(body, physicsClientId=self.client) - 1 if fixed else -1)
        names = []
        for body in bodies:
            for link in range(-1, p.getNumJoints(body, physicsClientId=self.client)):
                names.append(_link_name(body, link, self.client))
                if names[-1] == pert.external_force_link:
                    return body, link
        raise ValueError(f"{self.robot_name}: perturbation external_force_link {pert.external_force_link!r} is not a "
                         f"link of the robot; links: {names}")

    def _restart_actuation(self) -> None:
        self._active = self._rest_command()
        self._pending = collections.deque([None] * self.perturbation.action_latency_steps)
        self._sensors.reset()
        self._camera_model.reset()


def _link_name(body: int, link: int, client: int) -> str:
    if link < 0:
        return p.getBodyInfo(body, physicsClientId=client)[0].decode()
    return p.getJointInfo(body, link, physicsClientId=client)[12].decode()


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
