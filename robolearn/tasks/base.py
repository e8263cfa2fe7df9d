"""A Task turns a Robot into a learning problem: what the policy sees, what its action means, the reward,
and when an episode ends. Tasks never know whether the robot is simulated or real.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from robolearn.spec import CommandKind, Observation, RobotSpec


@dataclass
class StepOutcome:
    reward: float
    terminated: bool  # a true end state (goal reached, fell over): no bootstrapping past it
    info: dict = field(default_factory=dict)


class Task(abc.ABC):
    """Reward, termination and the mapping between policy space and robot space.

    Policy actions live in [-1, 1]^n. `action_to_command` maps them to the robot's command (absolute or
    as a delta from the measured state); the safety layer then makes that command safe. Truncation (time
    limits) is the environment's job and is never reported as termination.
    """

    name: str = "task"
    robot_name: str = ""  # the robot model this task is written for
    max_episode_steps: int = 200

    def feature_size(self, spec: RobotSpec) -> int:
        """Length of the flat feature vector `features` returns."""
        return sum(size for _, size in self.feature_layout(spec))

    @abc.abstractmethod
    def feature_layout(self, spec: RobotSpec) -> list[tuple[str, int]]:
        """Names and sizes of the blocks of `features`, in order (e.g. [("joint_pos", 6), ("target", 3)]).

        Export writes this into the ONNX metadata and uses it to find robot state (e.g. "joint_pos") when
        a command is relative to the measured state.
        """

    @abc.abstractmethod
    def features(self, obs: Observation) -> np.ndarray:
        """The policy's input: robot state plus task state (target, phase), as a flat float32 vector."""

    @abc.abstractmethod
    def reset(self, obs: Observation, rng: np.random.Generator) -> None:
        """Start a new episode (sample a target, a phase, ...)."""

    @abc.abstractmethod
    def evaluate(self, obs: Observation, applied_command: np.ndarray, next_obs: Observation) -> StepOutcome:
        """Reward for the transition and whether it ended in a terminal state."""

    def action_to_command(self, action: np.ndarray, obs: Observation, spec: RobotSpec) -> np.ndarray:
        """Default: scale [-1, 1] affinely onto the command limits (absolute command)."""
        return scale_to_limits(action, spec)

    def command_to_action(self, command: np.ndarray, obs: Observation, spec: RobotSpec) -> np.ndarray:
        """Inverse of `action_to_command`, used to store demonstrations and interventions in policy space."""
        return unscale_from_limits(command, spec)

    def expert_action(self, obs: Observation, spec: RobotSpec) -> np.ndarray:
        """A scripted expert for demonstrations; tasks that have one override this."""
        raise NotImplementedError(f"task {self.name!r} has no scripted expert")

    @property
    def has_expert(self) -> bool:
        """Whether `expert_action` is implemented: the one test learners and tools use."""
        return type(self).expert_action is not Task.expert_action


def task_of(env: Any) -> "Task | None":
    """The robolearn task behind a (wrapped) gymnasium env, or None for any other env."""
    base = getattr(env, "unwrapped", env)
    task = getattr(base, "task", None)
    return task if isinstance(task, Task) and hasattr(base, "robot") else None


def scale_to_limits(action: np.ndarray, spec: RobotSpec) -> np.ndarray:
    a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
    return spec.command_low + (a + 1.0) * 0.5 * (spec.command_high - spec.command_low)


def unscale_from_limits(command: np.ndarray, spec: RobotSpec) -> np.ndarray:
    span = np.where(spec.command_high > spec.command_low, spec.command_high - spec.command_low, 1.0)
    return np.clip(2.0 * (np.asarray(command, dtype=np.float64) - spec.command_low) / span - 1.0, -1.0, 1.0)


class PositionDeltaTask(Task):
    """For joint-position robots: the policy moves each joint by at most `max_delta` per step."""

    max_delta: float = 0.05

    def action_to_command(self, action: np.ndarray, obs: Observation, spec: RobotSpec) -> np.ndarray:
        if spec.command_kind is not CommandKind.JOINT_POSITION:
            raise ValueError(f"{self.name}: position-delta actions need a joint_position robot, got "
                             f"{spec.command_kind.value}")
        a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        target = np.asarray(obs["joint_pos"], dtype=np.float64)[: spec.action_size] + self.max_delta * a
        return np.clip(target, spec.command_low, spec.command_high)

    def command_to_action(self, command: np.ndarray, obs: Observation, spec: RobotSpec) -> np.ndarray:
        delta = np.asarray(command, dtype=np.float64) - np.asarray(obs["joint_pos"])[: spec.action_size]
        return np.clip(delta / self.max_delta, -1.0, 1.0)
