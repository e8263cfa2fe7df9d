"""iRobot Create 2 class differential-drive base, with bump, cliff and wheel-drop sensors."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pybullet as p

from robolearn.robots.diffdrive_base import DEFINITION as DIFFDRIVE_BASE
from robolearn_sim.actuators import WheelParams
from robolearn_sim.base import load_asset, load_ground
from robolearn_sim.config import SimConfig
from robolearn_sim.mobile import MobileBaseRobot

WHEEL_BASE = 0.235  # m between the wheels
WHEEL_RADIUS = 0.036
MAX_WHEEL_SPEED = 0.5  # m/s, the Create 2 Open Interface limit
BODY_RADIUS = 0.17

# A wall: (centre (x, y), half extents (x, y)); 0.15 m tall boxes fixed to the floor.
Wall = tuple[tuple[float, float], tuple[float, float]]
ARENA_WALLS: tuple[Wall, ...] = (
    ((2.6, 0.0), (0.05, 2.65)), ((-2.6, 0.0), (0.05, 2.65)),
    ((0.0, 2.6), (2.65, 0.05)), ((0.0, -2.6), (2.65, 0.05)),
)


class DiffDriveRobot(MobileBaseRobot):
    """Twist commands become wheel speeds (scaled down together if either would exceed 0.5 m/s, so the
    path's curvature is kept). `hazards` = [bump_left, bump_right, cliff, wheel_drop] as 0/1 flags; the
    safety layer latches its e-stop on any of them. `walls` replaces the arena (pass [] for open floor).
    `actuator="create2"` drives the wheels through the Create 2 wheel motor model (see MobileBaseRobot).
    """

    definition = DIFFDRIVE_BASE
    camera_view = ((0.0, -3.2, 3.2), (0.0, 0.0, 0.0))
    spawn_height = WHEEL_RADIUS
    wheel_torque = 1.0  # N·m cap per wheel motor

    def __init__(self, config: SimConfig | None = None, limits_path=None,
                 walls: Sequence[Wall] = ARENA_WALLS, actuator: str | WheelParams | None = None) -> None:
        self.walls = tuple(_check_wall(w) for w in walls)
        super().__init__(config, limits_path, actuator)

    def _load(self, client: int) -> list[int]:
        self.floor = load_ground(client)
        self.body = load_asset(client, DIFFDRIVE_BASE.urdf)
        self._wheels = [0, 1]
        self._casters = [2, 3]
        for caster in self._casters:
            p.changeDynamics(self.body, caster, lateralFriction=0.0, rollingFriction=0.0, spinningFriction=0.0,
                             physicsClientId=client)
        self.wall_bodies = [self._add_wall(client, centre, half) for centre, half in self.walls]
        self._prepare_drive(client, self._wheels)
        return [self.body]

    def _add_wall(self, client: int, centre: tuple[float, float], half: tuple[float, float]) -> int:
        shape = p.createCollisionShape(p.GEOM_BOX, halfExtents=[half[0], half[1], 0.075], physicsClientId=client)
        visual = p.createVisualShape(p.GEOM_BOX, halfExtents=[half[0], half[1], 0.075],
                                     rgbaColor=[0.7, 0.6, 0.5, 1], physicsClientId=client)
        return p.createMultiBody(0.0, shape, visual, [centre[0], centre[1], 0.075], physicsClientId=client)

    def _actuate(self, command: np.ndarray) -> None:
        linear, angular = float(command[0]), float(command[1])
        speeds = np.array([linear - angular * WHEEL_BASE / 2, linear + angular * WHEEL_BASE / 2])
        fastest = np.max(np.abs(speeds))
        if fastest > MAX_WHEEL_SPEED:
            speeds *= MAX_WHEEL_SPEED / fastest
        self._drive(speeds / WHEEL_RADIUS, self.gains)

    def _measure(self) -> dict[str, np.ndarray]:
        values = super()._measure()
        values["hazards"] = self._hazards(values["base_pose"])
        return values

    def _hazards(self, pose: np.ndarray) -> np.ndarray:
        client = self.client
        bump_left = bump_right = 0.0
        for wall in self.wall_bodies:
            for contact in p.getClosestPoints(self.body, wall, 0.003, linkIndexA=-1, physicsClientId=client):
                dx, dy = contact[5][0] - pose[0], contact[5][1] - pose[1]
                bearing = _wrap(math.atan2(dy, dx) - pose[2])  # where on the bumper, 0 = dead ahead
                if abs(bearing) <= math.pi / 2:
                    bump_left = 1.0 if bearing >= -0.2 else bump_left
                    bump_right = 1.0 if bearing <= 0.2 else bump_right
        # Cliff sensors: four downward rays under the front of the bumper must see floor within 5 cm.
        starts, ends = [], []
        for angle in (-1.0, -0.3, 0.3, 1.0):
            cx = pose[0] + 0.15 * math.cos(pose[2] + angle)
            cy = pose[1] + 0.15 * math.sin(pose[2] + angle)
            starts.append([cx, cy, 0.03])
            ends.append([cx, cy, -0.02])
        cliff = float(any(hit[0] < 0 for hit in p.rayTestBatch(starts, ends, physicsClientId=client)))
        wheel_drop = float(any(
            not p.getClosestPoints(self.body, self.floor, 0.01, linkIndexA=w, physicsClientId=client)
            for w in self._wheels))
        return np.array([bump_left, bump_right, cliff, wheel_drop])


def _wrap(angle: float) -> float:
    return (angle + math.pi) % (2 * math.pi) - math.pi


def _check_wall(wall) -> Wall:
    try:
        (cx, cy), (hx, hy) = wall
        values = [float(cx), float(cy), float(hx), float(hy)]
    except (TypeError, ValueError):
        raise ValueError(f"a wall is ((centre_x, centre_y), (half_x, half_y)) in m, got {wall!r}") from None
    if not all(math.isfinite(v) for v in values) or hx <= 0 or hy <= 0:
        raise ValueError(f"wall {wall!r}: values must be finite and half extents > 0")
    return (values[0], values[1]), (values[2], values[3])
