"""The workspace model shared by the wheeled bases: the box constrains (x, y), braking included."""

from __future__ import annotations

import math

from robolearn.robots.definition import RobotDefinition
from robolearn.robots.workspace import PlanarBaseWorkspace
from robolearn.safety.limits import LimitsError, SafetyLimits


def planar_workspace(max_braking: float = math.inf):
    """A factory for `RobotDefinition.workspace`: brake at the rate limit's deceleration, or at
    `max_braking` (m/s^2, what the wheels' grip allows) where that is lower."""

    def build(definition: RobotDefinition, limits: SafetyLimits) -> PlanarBaseWorkspace | None:
        if limits.workspace_low is None:
            return None
        if limits.workspace_low.shape != (2,):
            raise LimitsError(f"{definition.name}: the workspace box of a base is on (x, y): give 2 values, "
                              f"got {limits.workspace_low.tolist()}")
        return PlanarBaseWorkspace(max_decel=min(float(limits.max_rate[0]), max_braking))

    return build
