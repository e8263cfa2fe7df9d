"""The policy node's logic without ROS: an exported ONNX policy, the task that builds its features, and the
checks that keep a policy off a robot it was not made for."""

from __future__ import annotations

import collections

import numpy as np

from robolearn.robots.registry import robot_definition
from robolearn.safety import SafetyController
from robolearn.spec import Observation, RobotSpec
from robolearn.tasks.base import Task

from robolearn_drivers.core.errors import ConfigurationError
from robolearn_drivers.core.state_layout import StateLayout

BAD_FEATURES = "bad_features"


class PolicyLoop:
    """`command_for(obs)` -> the policy's command in robot units; the task is reset on the first observation."""

    def __init__(self, runtime, spec: RobotSpec, task: Task, safety: SafetyController, seed: int = 0) -> None:
        self.runtime = runtime
        self.spec = spec
        self.safety = safety  # for its stop rule only: the driver's controller filters what is published
        self.task = task
        self.layout = StateLayout.for_spec(spec)
        self.counts: collections.Counter[str] = collections.Counter()
        self._rng = np.random.default_rng(seed)
        self._started = False
        self.last_error = ""

    @classmethod
    def load(cls, policy_path: str, robot_model: str, seed: int = 0, limits_file: str = "") -> "PolicyLoop":
        """Load and check everything up front; any problem is a ConfigurationError saying what to fix."""
        from robolearn.export.runtime import PolicyLoadError, PolicyMismatchError, PolicyRuntime

        if not policy_path:
            raise ConfigurationError("parameter policy_path is empty: pass the .onnx file `robolearn export` wrote")
        try:
            runtime = PolicyRuntime(policy_path)
        except PolicyLoadError as exc:
            raise ConfigurationError(str(exc)) from exc
        model = robot_model or runtime.metadata.robot
        try:
            spec, safety = robot_definition(model).describe(limits_file or None)
        except (ValueError, FileNotFoundError) as exc:
            raise ConfigurationError(f"cannot describe robot_model={model!r}: {exc}") from exc
        try:
            runtime.check_compatible(spec)
        except PolicyMismatchError as exc:
            raise ConfigurationError(f"refusing to run the policy: {exc}") from exc
        return cls(runtime, spec, _task_for(runtime.metadata.task_id), safety, seed)

    def command_for(self, obs: Observation) -> np.ndarray | None:
        """The command for `obs`, or None (counted) if the features cannot be computed or are not finite."""
        if not self._started:
            self.task.reset(obs, self._rng)
            self._started = True
        try:
            features = np.asarray(self.task.features(obs), dtype=np.float32)
            command = self.runtime(features)
            self.safety.release_hold()
            return command
        except (KeyError, ValueError) as exc:
            self.counts[BAD_FEATURES] += 1
            self.last_error = str(exc)
            return None

    def stop_command(self, obs: Observation | None) -> np.ndarray | None:
        """What to publish when the policy stops: the safety layer's one stop rule (hold the position
        latched when the stop began, or zero for velocity, effort and twist robots)."""
        if obs is not None:
            self.safety.update_observation(obs)
        return self.safety.stop_command()


def _task_for(task_id: str) -> Task:
    from robolearn.tasks.registry import task_entry

    try:
        return task_entry(task_id).make_task()
    except ValueError as exc:
        raise ConfigurationError(f"the policy's task_id {task_id!r} is not a robolearn task: {exc}") from exc
