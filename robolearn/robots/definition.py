"""`RobotDefinition`: what a robot is, whoever drives it (the PyBullet sim, the serial hardware, a ROS client).

One instance per robot, in `robolearn/robots/<robot>.py`. It owns the robot's command and observation
layout, hazard names, URDF and workspace model, and builds the `RobotSpec` and `SafetyController` from the
robot's limits file (read once, by the caller that owns the robot). numpy only: the deploy path uses it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from robolearn.robots import URDF_DIR
from robolearn.safety import SafetyController, WorkspaceModel, load_robot_limits
from robolearn.safety.limits import LimitsError, SafetyLimits
from robolearn.spec import CommandKind, RobotSpec

WorkspaceFactory = Callable[["RobotDefinition", SafetyLimits], "WorkspaceModel | None"]


def no_workspace(definition: "RobotDefinition", limits: SafetyLimits) -> None:
    """For robots without a workspace model: a box in their limits file is a mistake, not ignored."""
    if limits.workspace_low is not None:
        raise LimitsError(f"{definition.name}: its limits file sets a workspace box, but this robot has no "
                          f"workspace model; remove the 'workspace' entry")
    return None


@dataclass(frozen=True)
class RobotDefinition:
    name: str
    command_kind: CommandKind
    command_names: tuple[str, ...]
    control_rate_hz: float  # the simulated robot's rate; hardware runs at its limits file's rate
    observation_shapes: Mapping[str, tuple[int, ...]]
    joint_names: tuple[str, ...] = ()
    hazard_names: tuple[str, ...] = ()  # order of the `hazards` flags in an observation
    urdf: str | None = None  # file name under robolearn/robots/urdf
    workspace: WorkspaceFactory = no_workspace
    aliases: tuple[str, ...] = field(default=())  # other model names for the same robot (e.g. create2)

    @property
    def urdf_path(self) -> Path:
        if self.urdf is None:
            raise ValueError(f"{self.name} has no URDF")
        return URDF_DIR / self.urdf

    def load_limits(self, path: str | os.PathLike | SafetyLimits | None = None) -> SafetyLimits:
        """The robot's limits (default `calibration/<robot>/limits.yaml`), checked against this definition."""
        if isinstance(path, SafetyLimits):
            limits = path
        else:
            limits = load_robot_limits(self.name, Path(path) if path else None)
        self.check_limits(limits)
        return limits

    def check_limits(self, limits: SafetyLimits) -> None:
        if limits.robot != self.name:
            raise LimitsError(f"limits {limits.source} are for robot {limits.robot!r}, not {self.name!r}")
        if limits.command_kind is not self.command_kind or limits.names != tuple(self.command_names):
            raise LimitsError(
                f"{self.name}: limits file describes {limits.command_kind.value} commands {list(limits.names)}, "
                f"the robot takes {self.command_kind.value} commands {list(self.command_names)}; fix {limits.source}")

    def spec(self, limits: SafetyLimits, image_shape: tuple[int, int, int] | None = None) -> RobotSpec:
        return RobotSpec(
            name=self.name, command_kind=self.command_kind, command_names=self.command_names,
            command_low=limits.low, command_high=limits.high, control_rate_hz=limits.control_rate_hz,
            observation_shapes=dict(self.observation_shapes), joint_names=self.joint_names,
            image_shape=image_shape)

    def workspace_model(self, limits: SafetyLimits) -> WorkspaceModel | None:
        """The model that maps state to the point the limits' workspace box constrains (None without a box)."""
        return self.workspace(self, limits)

    def safety(self, limits: SafetyLimits, workspace: WorkspaceModel | None = None,
               on_intervention: Callable[[str, str], None] | None = None) -> SafetyController:
        """A SafetyController on `limits`, boxed in by this robot's own workspace model unless one is given."""
        if workspace is None:
            workspace = self.workspace_model(limits)
        return SafetyController(limits, workspace=workspace, on_intervention=on_intervention)

    def describe(self, limits: str | os.PathLike | SafetyLimits | None = None,
                 ) -> tuple[RobotSpec, SafetyController]:
        """Spec and SafetyController without connecting anything: for clients that do not own the robot."""
        loaded = self.load_limits(limits)
        return self.spec(loaded), self.safety(loaded)
