"""Forward kinematics and the position Jacobian of an arm, from its URDF, with a private PyBullet client.

Needs no simulation running: it poses a copy of the arm and reads a link frame, so it serves the real arm
(FK of measured joints for the workspace box and for task features) as well as the simulated one.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pybullet as p

from robolearn_sim.base import ASSETS


class ArmKinematics:
    """FK of `link` (default: the URDF's "ee" link) for the URDF's movable joints, in joint order."""

    def __init__(self, urdf: str | os.PathLike = ASSETS / "so101_arm.urdf", link: str = "ee") -> None:
        urdf = Path(urdf)
        if not urdf.is_file():
            raise FileNotFoundError(f"arm description {urdf} does not exist")
        self._client = p.connect(p.DIRECT)
        self._body = p.loadURDF(str(urdf), useFixedBase=True, physicsClientId=self._client)
        n = p.getNumJoints(self._body, physicsClientId=self._client)
        infos = [p.getJointInfo(self._body, j, physicsClientId=self._client) for j in range(n)]
        self.joints = [j for j, info in enumerate(infos) if info[2] != p.JOINT_FIXED]
        self.joint_names = tuple(infos[j][1].decode() for j in self.joints)
        links = {info[12].decode(): j for j, info in enumerate(infos)}
        if link not in links:
            raise ValueError(f"{urdf.name} has no link {link!r}; links: {sorted(links)}")
        self._link = links[link]
        self._zeros = [0.0] * len(self.joints)

    @property
    def dof(self) -> int:
        return len(self.joints)

    def close(self) -> None:
        if self._client is not None and p.isConnected(self._client):
            p.disconnect(self._client)
        self._client = None

    def __del__(self) -> None:  # the client is a process-wide resource: give it back
        try:
            self.close()
        except Exception:
            pass

    def _pose(self, joint_pos: np.ndarray) -> None:
        q = np.asarray(joint_pos, dtype=np.float64).reshape(-1)
        if q.shape != (self.dof,) or not np.all(np.isfinite(q)):
            raise ValueError(f"forward kinematics needs {self.dof} finite joint positions "
                             f"{list(self.joint_names)}, got {np.asarray(joint_pos).tolist()}")
        for j, value in zip(self.joints, q):
            p.resetJointState(self._body, j, float(value), physicsClientId=self._client)

    def position(self, joint_pos: np.ndarray) -> np.ndarray:
        """World position (m) of the link for the given joint positions."""
        self._pose(joint_pos)
        state = p.getLinkState(self._body, self._link, computeForwardKinematics=True, physicsClientId=self._client)
        return np.array(state[4])

    def jacobian(self, joint_pos: np.ndarray) -> np.ndarray:
        """d position / d joint_pos, shape (3, dof)."""
        self._pose(joint_pos)
        q = [float(v) for v in np.asarray(joint_pos).reshape(-1)]
        linear, _ = p.calculateJacobian(self._body, self._link, [0.0, 0.0, 0.0], q, self._zeros, self._zeros,
                                        physicsClientId=self._client)
        return np.array(linear)
