"""Forward kinematics and the position Jacobian of a serial arm, read from its URDF, in numpy.

It serves the real arm (FK of measured joints for the workspace box and for task features) and the
simulated one alike, with no physics engine: the deploy path runs it on a robot without PyBullet.
Frames follow the URDF convention: joint frame = parent frame * origin(xyz, rpy) * motion about `axis`.
"""

from __future__ import annotations

import math
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from robolearn.robots import URDF_DIR


@dataclass(frozen=True)
class _Joint:
    name: str
    kind: str  # revolute | continuous | prismatic | fixed
    origin: np.ndarray  # 4x4 transform parent link -> joint frame at q = 0
    axis: np.ndarray  # unit vector in the joint frame


def _rpy_matrix(roll: float, pitch: float, yaw: float) -> np.ndarray:
    cr, sr, cp, sp, cy, sy = math.cos(roll), math.sin(roll), math.cos(pitch), math.sin(pitch), math.cos(yaw), \
        math.sin(yaw)
    return np.array([[cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
                     [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
                     [-sp, cp * sr, cp * cr]])


def _floats(text: str | None, default: str) -> list[float]:
    return [float(v) for v in (text or default).split()]


def _urdf_joints(root: ET.Element) -> dict[str, tuple[str, _Joint]]:
    """Every joint of a parsed URDF, keyed by its child link: (parent link, joint), in the file's order."""
    by_child: dict[str, tuple[str, _Joint]] = {}
    for joint in root.iter("joint"):
        origin = joint.find("origin")
        xyz = _floats(origin.get("xyz") if origin is not None else None, "0 0 0")
        rpy = _floats(origin.get("rpy") if origin is not None else None, "0 0 0")
        transform = np.eye(4)
        transform[:3, :3] = _rpy_matrix(*rpy)
        transform[:3, 3] = xyz
        axis_el = joint.find("axis")
        axis = np.array(_floats(axis_el.get("xyz") if axis_el is not None else None, "1 0 0"))
        axis = axis / np.linalg.norm(axis)
        parent, child = joint.find("parent").get("link"), joint.find("child").get("link")
        by_child[child] = (parent, _Joint(joint.get("name"), joint.get("type"), transform, axis))
    return by_child


def _chain(urdf: Path, link: str) -> tuple[list[_Joint], tuple[str, ...]]:
    """The joints from the URDF's root link to `link` (root first), and every movable joint's name in the
    file's order (the order of the robot's joint vector)."""
    root = ET.parse(urdf).getroot()
    by_child = _urdf_joints(root)
    links = {el.get("name") for el in root.iter("link")}
    if link not in links:
        raise ValueError(f"{urdf.name} has no link {link!r}; links: {sorted(links)}")
    chain = []
    while link in by_child:
        link, joint = by_child[link]
        chain.append(joint)
    movable = tuple(j.get("name") for j in root.iter("joint") if j.get("type") != "fixed")
    return chain[::-1], movable


class ArmKinematics:
    """FK of `link` (default: the URDF's "ee" link) as a function of all the URDF's movable joints, in the
    file's order; joints off the link's chain (e.g. a gripper jaw) do not move it.

    Each joint's transform is A + sin(q) B + (1 - cos(q)) C (Rodrigues' formula premultiplied by the joint's
    fixed origin), computed for all joints at once, then chained: a few numpy calls per pose, since the
    safety filter runs this on every arm command.
    """

    def __init__(self, urdf: str | os.PathLike = URDF_DIR / "so101_arm.urdf", link: str = "ee") -> None:
        urdf = Path(urdf)
        if not urdf.is_file():
            raise FileNotFoundError(f"arm description {urdf} does not exist")
        chain, self.joint_names = _chain(urdf, link)
        unsupported = sorted({j.kind for j in chain} - {"revolute", "continuous", "fixed"})
        if unsupported:
            raise ValueError(f"{urdf.name}: joint types {unsupported} are not supported")
        index = {name: i for i, name in enumerate(self.joint_names)}
        n = len(chain)
        self._a, self._b, self._c = np.zeros((n, 4, 4)), np.zeros((n, 4, 4)), np.zeros((n, 4, 4))
        self._a[:] = [j.origin for j in chain]
        for i, joint in enumerate(chain):
            if joint.kind != "fixed":
                x, y, z = joint.axis
                skew = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
                self._b[i, :3, :3] = joint.origin[:3, :3] @ skew
                self._c[i, :3, :3] = joint.origin[:3, :3] @ skew @ skew
        # A fixed joint reads the extra zero appended to q, so its transform is just its origin.
        self._q_index = np.array([index.get(j.name, len(self.joint_names)) if j.kind != "fixed"
                                  else len(self.joint_names) for j in chain])
        self._movable = [i for i, j in enumerate(chain) if j.kind != "fixed"]
        self._angles = np.zeros(len(self.joint_names) + 1)  # joint values, then the fixed joints' zero
        self._axis = [j.axis for j in chain]

    @property
    def dof(self) -> int:
        return len(self.joint_names)

    def _joint_transforms(self, joint_pos: np.ndarray) -> np.ndarray:
        q = np.asarray(joint_pos, dtype=np.float64).reshape(-1)
        if q.shape != (self.dof,) or not np.isfinite(q).all():
            raise ValueError(f"forward kinematics needs {self.dof} finite joint positions "
                             f"{list(self.joint_names)}, got {np.asarray(joint_pos).tolist()}")
        self._angles[:-1] = q
        angles = self._angles[self._q_index][:, None, None]
        return self._a + np.sin(angles) * self._b + (1.0 - np.cos(angles)) * self._c

    def position(self, joint_pos: np.ndarray) -> np.ndarray:
        """World position (m) of the link for the given joint positions."""
        transforms = self._joint_transforms(joint_pos)
        point = transforms[-1][:, 3]  # the link origin in its parent joint's frame, then outwards
        for transform in transforms[-2::-1]:
            point = transform @ point
        return point[:3]

    def jacobian(self, joint_pos: np.ndarray) -> np.ndarray:
        """d position / d joint_pos, shape (3, dof): axis x (tip - joint origin) for each joint on the chain."""
        transforms = self._joint_transforms(joint_pos)
        frames, pose = [], np.eye(4)
        for transform in transforms:
            parent = pose
            pose = pose @ transform
            frames.append((parent, pose))
        tip = pose[:3, 3]
        jacobian = np.zeros((3, self.dof))
        for i in self._movable:
            parent, joint_frame = frames[i]
            # The joint rotates about its axis expressed after its origin's rotation, at its origin's position.
            axis = parent[:3, :3] @ self._a[i, :3, :3] @ self._axis[i]
            jacobian[:, self._q_index[i]] = np.cross(axis, tip - joint_frame[:3, 3])
        return jacobian


@dataclass(frozen=True)
class FrameTransform:
    parent: str  # link names, as the URDF (and so RViz's RobotModel) names the frames
    child: str
    matrix: np.ndarray  # 4x4: child frame expressed in the parent frame


class UrdfFrames:
    """Every joint of a URDF as a parent -> child frame transform, the tree robot_state_publisher puts on
    /tf_static (fixed joints) and /tf (movable joints, from joint positions)."""

    def __init__(self, urdf: str | os.PathLike) -> None:
        urdf = Path(urdf)
        if not urdf.is_file():
            raise FileNotFoundError(f"robot description {urdf} does not exist")
        root = ET.parse(urdf).getroot()
        self._joints = _urdf_joints(root)
        unsupported = sorted({j.kind for _, j in self._joints.values()}
                             - {"revolute", "continuous", "prismatic", "fixed"})
        if unsupported:
            raise ValueError(f"{urdf.name}: joint types {unsupported} are not supported")
        links = [el.get("name") for el in root.iter("link")]
        roots = [link for link in links if link not in self._joints]
        if len(roots) != 1:
            raise ValueError(f"{urdf.name}: a robot description needs exactly one root link, found {roots}")
        self.root = roots[0]
        self.links = tuple(links)
        self.movable = tuple(j.name for _, j in self._joints.values() if j.kind != "fixed")

    def fixed(self) -> list[FrameTransform]:
        """The transforms of the fixed joints (constant: /tf_static)."""
        return [FrameTransform(parent, child, joint.origin.copy())
                for child, (parent, joint) in self._joints.items() if joint.kind == "fixed"]

    def moving(self, positions: dict[str, float]) -> list[FrameTransform]:
        """The transforms of the movable joints at `positions` (by joint name); a joint the robot does not
        measure (a base's wheels) is drawn at its zero position."""
        out = []
        for child, (parent, joint) in self._joints.items():
            if joint.kind == "fixed":
                continue
            q = float(positions.get(joint.name, 0.0))
            motion = np.eye(4)
            if joint.kind == "prismatic":
                motion[:3, 3] = joint.axis * q
            else:
                x, y, z = joint.axis
                skew = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
                motion[:3, :3] = np.eye(3) + math.sin(q) * skew + (1.0 - math.cos(q)) * skew @ skew
            out.append(FrameTransform(parent, child, joint.origin @ motion))
        return out
