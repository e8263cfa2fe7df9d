"""Leader-arm teleop: a second servo arm, read only with torque off, drives the follower joint to joint.

Both arms' calibrations map their ticks to the same joint angles, so the leader's angles (through its own
calibration) are the follower's targets. A start-up guard refuses to follow until the follower is within
`engage_tolerance_rad` of the leader on every joint: until then the follower holds, so nothing jumps at
t=0. The target becomes a task action through `task.command_to_action` and then passes the task's own
step limit and the SafetyController like any other action.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from robolearn.calibration.motors import ArmCalibration
    from robolearn.hardware.motor_bus import MotorBus

log = logging.getLogger(__name__)


class LeaderArm:
    """Joint angles of a leader arm on its own bus (torque switched off at open and kept off)."""

    def __init__(self, bus: "MotorBus", calibration: "ArmCalibration", joint_names: tuple[str, ...]) -> None:
        self.bus = bus
        self.motors = calibration.for_joints(joint_names)
        self.joint_names = tuple(joint_names)
        self._ids = [m.id for m in self.motors]

    def open(self) -> None:
        self.bus.open()
        try:
            self.bus.check_models({m.id: m.model for m in self.motors})
            self.bus.set_torque(self._ids, False)  # a human moves it by hand
        except BaseException:
            self.bus.close()
            raise

    def positions(self) -> np.ndarray:
        states = self.bus.read_state(self._ids)
        return np.array([m.to_radians(states[m.id].position) for m in self.motors])

    def close(self) -> None:
        self.bus.close()

    def __enter__(self) -> "LeaderArm":
        self.open()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class LeaderFollowSource:
    """An action source that makes the env's arm follow `leader`; every step it drives is a human step."""

    def __init__(self, leader: LeaderArm, env, engage_tolerance_rad: float = 0.15) -> None:
        spec = env.unwrapped.robot.spec
        if tuple(spec.command_names) != leader.joint_names:
            raise ValueError(f"leader joints {list(leader.joint_names)} differ from {spec.name}'s commands "
                             f"{list(spec.command_names)}: calibrate the leader for the same joints")
        self.leader, self.env, self.tolerance = leader, env, engage_tolerance_rad
        self.engaged = False
        self.gap = np.inf
        self._warned = False

    def reset(self) -> None:
        self.engaged = False  # every episode starts with the guard armed (the follower was reset)
        self._warned = False

    def __call__(self, observation: Any) -> tuple[np.ndarray, bool]:
        return self.follow(self.leader.positions()), True

    def follow(self, target: np.ndarray) -> np.ndarray:
        """The action that takes the follower to the leader's joint angles `target` (a hold until engaged)."""
        base = self.env.unwrapped
        raw, spec = base.last_observation, base.robot.spec
        follower = np.asarray(raw.values["joint_pos"], dtype=np.float64)
        if not self.engaged:
            self.gap = float(np.max(np.abs(target - follower)))
            if self.gap > self.tolerance:
                joint = spec.command_names[int(np.argmax(np.abs(target - follower)))]
                if not self._warned:
                    self._warned = True
                    log.warning("leader is %.2f rad from the follower (%s): move the leader to the follower's pose; "
                                "holding until then", self.gap, joint)
                target = follower
            else:
                self.engaged = True
        action = base.task.command_to_action(target, raw, spec)
        return np.clip(action, -1.0, 1.0)


class LeaderTakeover:
    """HIL-SERL with a leader arm: the policy drives until the human moves the leader more than
    `move_threshold_rad` (on any joint) away from where it rested; from then on the follower follows the
    leader (after the start-up guard: it holds until the follower is near the leader) and the steps are the
    human's. When the leader has moved less than `still_rad` per step for `release_steps` steps in a row,
    the policy drives again, the leader's pose becomes the new rest pose, and the guard re-arms."""

    def __init__(self, follow: LeaderFollowSource, move_threshold_rad: float = 0.03, still_rad: float = 0.004,
                 release_steps: int = 10) -> None:
        if move_threshold_rad <= 0 or still_rad <= 0 or release_steps < 1:
            raise ValueError("move_threshold_rad and still_rad must be > 0, release_steps >= 1")
        self.source, self.threshold, self.still_rad = follow, move_threshold_rad, still_rad
        self.release_steps = release_steps
        self.reset()

    def reset(self) -> None:
        self.source.reset()
        self.in_control = False
        self._rest: np.ndarray | None = None  # where the leader lay while the policy drove
        self._last: np.ndarray | None = None
        self._still = 0

    def decide(self, observation: Any, proposed: np.ndarray) -> tuple[np.ndarray, bool]:
        target = self.source.leader.positions()
        if self._rest is None:
            self._rest = target
        still = self._last is not None and float(np.max(np.abs(target - self._last))) < self.still_rad
        self._last = target
        self._still = self._still + 1 if still else 0
        if not self.in_control and float(np.max(np.abs(target - self._rest))) > self.threshold:
            self.in_control = True
        elif self.in_control and self._still >= self.release_steps:
            self.in_control = False
            self._rest = target
            self.source.reset()
        if self.in_control:
            return self.source.follow(target), True
        return proposed, False


def open_leader(spec: str, env) -> LeaderArm:
    """The leader arm named `leader:PORT:CALIBRATION.yaml`, opened (torque off) for `env`'s robot's joints."""
    from robolearn.calibration.motors import ArmCalibration
    from robolearn.hardware.factory import BUS_CLASSES

    parts = spec.split(":", 2)
    if len(parts) != 3 or parts[0] != "leader" or not parts[1] or not parts[2]:
        raise ValueError(f"{spec!r}: a leader arm is given as leader:PORT:CALIBRATION.yaml, e.g. "
                         f"leader:/dev/ttyACM1:calibration/so101_arm/leader_01.yaml")
    calibration = ArmCalibration.load(parts[2])
    leader = LeaderArm(BUS_CLASSES[calibration.bus](parts[1]), calibration, env.unwrapped.robot.spec.command_names)
    leader.open()
    return leader
