"""Small robots, tasks, policies and a learner for the export tests (test code only; the library never
imports it). The robot is a real `Robot` behind the real SafetyController: a 3-joint position-controlled arm
whose joints move halfway to the command each step, so rollouts visit a spread of states cheaply.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from robolearn.envs.robot_env import RobotEnv
from robolearn.learners.base import Learner, LearnerConfig
from robolearn.learners.normalizers import RunningMeanStd
from robolearn.robot import Robot
from robolearn.safety import CommandLimit, SafetyController, SafetyLimits
from robolearn.spec import CommandKind, Observation, RobotSpec
from robolearn.tasks.base import PositionDeltaTask, StepOutcome, Task

JOINTS = ("shoulder", "elbow", "wrist")
LOW = np.array([-1.5, -2.0, -0.5])
HIGH = np.array([1.5, 1.0, 2.5])
RATE_HZ = 50.0


def toy_spec(name: str = "toy_arm", rate: float = RATE_HZ, low=LOW, high=HIGH,
             joints: tuple[str, ...] = JOINTS) -> RobotSpec:
    n = len(joints)
    return RobotSpec(name=name, command_kind=CommandKind.JOINT_POSITION, command_names=joints,
                     command_low=np.asarray(low)[:n], command_high=np.asarray(high)[:n], control_rate_hz=rate,
                     observation_shapes={"joint_pos": (n,), "joint_vel": (n,)}, joint_names=joints)


class ToyArm(Robot):
    def __init__(self) -> None:
        spec = toy_spec()
        limits = SafetyLimits(robot=spec.name, command_kind=spec.command_kind, control_rate_hz=RATE_HZ,
                              commands=tuple(CommandLimit(n, lo, hi) for n, lo, hi in zip(JOINTS, LOW, HIGH)))
        super().__init__(spec, SafetyController(limits))
        self._t = 0.0
        self._pos = np.zeros(3)
        self._vel = np.zeros(3)
        self._target = None

    def _connect(self) -> None: ...

    def _disconnect(self) -> None: ...

    def _now(self) -> float:
        return self._t

    def _read(self) -> Observation:
        return Observation(self._t, {"joint_pos": self._pos.copy(), "joint_vel": self._vel.copy()})

    def _write(self, command) -> None:
        if command is not None:
            self._target = np.asarray(command, dtype=np.float64)

    def _advance(self) -> None:
        dt = 1.0 / RATE_HZ
        if self._target is not None:
            new = self._pos + 0.5 * (self._target - self._pos)
            self._vel = (new - self._pos) / dt
            self._pos = new
        self._t += dt

    def _reset(self, seed, options) -> None:
        rng = np.random.default_rng(seed)
        self._pos = rng.uniform(LOW * 0.8, HIGH * 0.8)
        self._vel = np.zeros(3)
        self._target = None
        self._t += 1.0


class _ReachMixin:
    max_episode_steps = 40
    robot_name = "toy_arm"

    def feature_layout(self, spec):
        return [("joint_pos", 3), ("joint_vel", 3), ("target", 3)]

    def features(self, obs):
        return np.concatenate([obs["joint_pos"], obs["joint_vel"], self.target]).astype(np.float32)

    def reset(self, obs, rng):
        self.target = rng.uniform(LOW * 0.8, HIGH * 0.8)

    def evaluate(self, obs, applied_command, next_obs):
        return StepOutcome(-float(np.linalg.norm(next_obs["joint_pos"] - self.target)), False)

    def expert_action(self, obs, spec):
        return np.clip((self.target - obs["joint_pos"]) / 0.2, -1.0, 1.0)


class ToyDeltaReach(_ReachMixin, PositionDeltaTask):
    name = "toy_delta_reach"
    max_delta = 0.2


class ToyAffineReach(_ReachMixin, Task):
    name = "toy_affine_reach"


class ToyCustomMapping(_ReachMixin, Task):
    name = "toy_custom"

    def action_to_command(self, action, obs, spec):
        return np.clip(np.asarray(action) ** 3, spec.command_low, spec.command_high)


DELTA_ID = "robolearn_test/ToyDeltaReach-v0"
AFFINE_ID = "robolearn_test/ToyAffineReach-v0"
CUSTOM_ID = "robolearn_test/ToyCustom-v0"


def _env_factory(task_class):
    def make(**kwargs) -> RobotEnv:
        return RobotEnv(ToyArm, task_class(), **kwargs)
    return make


def _register() -> None:
    for env_id, task in ((DELTA_ID, ToyDeltaReach), (AFFINE_ID, ToyAffineReach), (CUSTOM_ID, ToyCustomMapping)):
        if env_id not in gym.registry:
            gym.register(env_id, entry_point=_env_factory(task), disable_env_checker=True)


_register()


# ------------------------------------------------------------------------------------------ policies
class MlpPolicy(nn.Module):
    """The shape the learners export: normaliser, MLP trunk, optional L2-normalised penultimate layer,
    a (mean, log_std) head, deterministic action tanh(mean)."""

    def __init__(self, obs_dim: int = 9, act_dim: int = 3, hidden: int = 32, depth: int = 2,
                 activation: type[nn.Module] = nn.LeakyReLU, layer_norm: bool = False, l2: bool = False,
                 seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        rms = RunningMeanStd((obs_dim,))
        rms.update(np.random.default_rng(seed).normal([0.2] * obs_dim, [1.5] * obs_dim, (64, obs_dim)))
        self.normalizer = rms.torch_module()
        layers: list[nn.Module] = []
        width = obs_dim
        for _ in range(depth):
            layers.append(nn.Linear(width, hidden))
            if layer_norm:
                layers.append(nn.LayerNorm(hidden))
            layers.append(activation())
            width = hidden
        self.trunk = nn.Sequential(*layers)
        self.l2 = l2
        self.head = nn.Linear(hidden, 2 * act_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.trunk(self.normalizer(x))
        if self.l2:
            h = F.normalize(h, dim=-1)
        mean, _log_std = self.head(h).chunk(2, dim=-1)
        return torch.tanh(mean)


class SamplingPolicy(MlpPolicy):
    def forward(self, x):
        return torch.tanh(super().forward(x) + torch.randn(x.shape[0], 3))


class DistributionPolicy(MlpPolicy):
    def forward(self, x):
        mean, log_std = self.head(self.trunk(self.normalizer(x))).chunk(2, dim=-1)
        return mean, log_std


class UnsquashedPolicy(MlpPolicy):
    def forward(self, x):
        return 10.0 * self.head(self.trunk(self.normalizer(x)))[:, :3]


# ------------------------------------------------------------------------------------------ learner
class ToyLearner(Learner):
    """A minimal learner: behaviour cloning of the task's proportional controller toward the target."""

    algo = "toy_bc"
    config_class = LearnerConfig

    def __init__(self, env, config=None, device="cpu") -> None:
        super().__init__(env, config, device)
        obs_dim = env.observation_space.shape[0]
        self.net = MlpPolicy(obs_dim, env.action_space.shape[0], hidden=32, seed=self.config.seed)
        self.steps = 0

    def check_spaces(self, observation_space, action_space) -> None:
        assert isinstance(observation_space, gym.spaces.Box)

    @property
    def steps_done(self) -> int:
        return self.steps

    def on_train_start(self) -> None:
        self._opt = torch.optim.Adam(self.net.parameters(), lr=3e-3)
        self._rng = np.random.default_rng(self.config.seed)
        self._loss = float("nan")

    def training_step(self) -> dict:
        x = self._rng.uniform(-1.5, 1.5, (64, 9)).astype(np.float32)
        target = np.clip((x[:, 6:9] - x[:, 0:3]) / 0.2, -1, 1)
        loss = F.mse_loss(self.net(torch.from_numpy(x)), torch.from_numpy(target))
        self._opt.zero_grad()
        loss.backward()
        self._opt.step()
        self.steps += 1
        self._loss = loss.item()
        return {}

    def training_summary(self) -> dict:
        return {"loss": self._loss}

    def act(self, observation, deterministic=True):
        with torch.no_grad():
            return self.net(torch.as_tensor(observation, dtype=torch.float32)[None])[0].numpy()

    def state_dict(self):
        return {"net": self.net.state_dict(), "steps": self.steps}

    def load_state_dict(self, state):
        self.net.load_state_dict(state["net"])
        self.steps = state["steps"]

    def policy(self):
        return self.net

    def certificate(self):
        bound = 1.0
        for module in self.net.modules():
            if isinstance(module, nn.Linear):
                bound *= float(torch.linalg.matrix_norm(module.weight.detach(), ord=2))
        return {"upper_bound": bound, "norm": "l2"}


def make_env(env_id: str = DELTA_ID) -> RobotEnv:
    return gym.make(env_id).unwrapped
