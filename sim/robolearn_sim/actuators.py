"""Actuator models, applied in PyBullet through torque control at every physics step (opt-in per robot).

`ServoParams` / `ServoBank`: a serial-bus position servo. Its controller turns the position error into a
PWM duty (P, or PD, clipped to ±1) that drives a geared DC motor, so the output torque follows the
motor's line `τ = τ_stall · (u − ω/ω₀)` (full torque at standstill, none at the no-load speed), capped
by a torque (current) limit. A deadband leaves small errors uncorrected; backlash is gear play the motor
crosses (at its no-load speed) before torque reaches the output again after a reversal; an optional
velocity limit cuts drive beyond it. The encoder reads the output shaft, as on the STS3215 and the
Dynamixel X series, so the loop itself sees through the play. A steady load sags the output by
`τ_load / (τ_stall · kp)`: the stiffness is finite, unlike PyBullet's position motors.

`WheelParams` / `WheelMotors`: a base's wheel drive: a PI speed loop on the same DC-motor line, with the
tyre's friction coefficient setting where the wheel slips on the floor.

Command latency is not a servo parameter: `Perturbation.action_latency_steps` is its one home.
Datasheet values are at the output shaft, each with its source (see RECIPES.md §11 for the table);
derive a variant with `dataclasses.replace(STS3215, kd=0.05)`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pybullet as p

RPM = 2 * math.pi / 60  # rad/s per rev/min
TICKS_PER_RAD = 4096 / (2 * math.pi)  # 12-bit encoders
DXL_PWM_FULL = 885  # Dynamixel X: PWM Limit 885 = 100 % duty (emanual control table, address 36)


@dataclass(frozen=True)
class ServoParams:
    """One serial-bus position servo, in SI units at the output shaft.

    kp: PWM duty per rad of position error (1/rad); kd: duty per rad/s. The static stiffness is
    `stall_torque * kp` N·m/rad. torque_limit: N·m (None = stall torque). deadband, backlash: rad.
    velocity_limit: rad/s (None = only the motor's no-load speed limits it). armature: the motor rotor's
    inertia seen at the output (rotor inertia x gear ratio², kg·m²); in a small geared servo it outweighs
    the links it moves, and it is what keeps the stiff servo loop stable at the physics rate.
    """

    name: str
    stall_torque: float
    no_load_speed: float
    kp: float
    kd: float = 0.0
    torque_limit: float | None = None
    deadband: float = 0.0
    backlash: float = 0.0
    velocity_limit: float | None = None
    armature: float = 0.0
    source: str = ""

    def __post_init__(self) -> None:
        for field_name in ("stall_torque", "no_load_speed", "kp"):
            value = getattr(self, field_name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"servo {self.name}: {field_name} must be > 0, got {value!r}")
        for field_name in ("kd", "deadband", "backlash", "armature"):
            value = getattr(self, field_name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"servo {self.name}: {field_name} must be >= 0, got {value!r}")
        for field_name in ("torque_limit", "velocity_limit"):
            value = getattr(self, field_name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ValueError(f"servo {self.name}: {field_name} must be > 0 or None, got {value!r}")

    @property
    def stiffness(self) -> float:
        """N·m per rad of position error while the duty is not saturated."""
        return self.stall_torque * self.kp

    @property
    def max_torque(self) -> float:
        return self.stall_torque if self.torque_limit is None else min(self.torque_limit, self.stall_torque)


def _armature(rotor_g_cm2: float, gear_ratio: float) -> float:
    return rotor_g_cm2 * 1e-7 * gear_ratio**2


def _dynamixel_kp(p_gain: int) -> float:
    """Duty per rad for a Dynamixel X Position P Gain register value (KpP = P/128, output in PWM units)."""
    return p_gain / 128 * TICKS_PER_RAD / DXL_PWM_FULL


STS3215 = ServoParams(
    name="sts3215", stall_torque=30 * 0.0980665, no_load_speed=45 * RPM,
    # 1.5 kg at 10 cm (1.47 N·m) sags the output ~2.2° (0.038 rad): stiffness ~38 N·m/rad.
    kp=1.47 / 0.0384 / (30 * 0.0980665), kd=0.0,
    deadband=1 / TICKS_PER_RAD, backlash=math.radians(1.0), armature=_armature(0.8, 345),
    source="Feetech STS3215 C018 (12 V, 1:345): 30 kg·cm stall, 45 rpm no-load, 12-bit encoder (lerobot "
           "docs/source/so101.mdx; DFRobot ST3215 listing); ~1° play and 1.8-2.6° sag under 1.5 kg at 10 cm "
           "measured in TheRobotStudio/SO-ARM100#134 (sets kp and backlash); deadband: one encoder count "
           "(Feetech dead-zone registers 26/27, assumed at 1). Armature assumed: a ~0.8 g·cm² rotor (13 mm "
           "DC motor class, not published) x 345²")
XL330_M288 = ServoParams(
    name="xl330_m288", stall_torque=0.52, no_load_speed=103 * RPM, kp=_dynamixel_kp(400), kd=0.0,
    armature=_armature(0.2, 288.4),
    source="ROBOTIS XL330-M288-T at 5 V: 0.52 N·m stall, 103 rpm no-load, 288.4:1 (emanual "
           "_data/dxl_x_info.yml); Position P Gain default 400, KpP = P/128, PWM limit 885 (emanual control "
           "table); backlash N/A. Armature assumed: a ~0.2 g·cm² cored rotor (not published) x 288.4²")
XM430_W350 = ServoParams(
    name="xm430_w350", stall_torque=4.1, no_load_speed=46 * RPM, kp=_dynamixel_kp(800), kd=0.0,
    backlash=math.radians(0.25), armature=_armature(0.8, 353.5),
    source="ROBOTIS XM430-W350 at 12 V: 4.1 N·m stall, 46 rpm no-load, 0.25° backlash, 353.5:1 (emanual "
           "_data/dxl_x_info.yml, docs/en/dxl/x/xm430-w350.md); Position P Gain default 800, KpP = P/128, "
           "PWM limit 885. Armature assumed: a ~0.8 g·cm² coreless rotor (not published) x 353.5²")
SERVOS: dict[str, ServoParams] = {s.name: s for s in (STS3215, XL330_M288, XM430_W350)}


def servo_params(spec: str | ServoParams) -> ServoParams:
    """A ServoParams by name (`SERVOS`) or as given."""
    return _by_name(spec, SERVOS, ServoParams, "servo")


def _by_name(spec: Any, table: dict[str, Any], kind: type, what: str) -> Any:
    if isinstance(spec, kind):
        return spec
    if spec not in table:
        raise ValueError(f"unknown {what} {spec!r}; known: {sorted(table)}, or pass a {kind.__name__}")
    return table[spec]


class ServoBank:
    """`n` servos stepped once per physics step of `dt` seconds."""

    def __init__(self, params: ServoParams | Sequence[ServoParams], n: int, dt: float) -> None:
        servos = [params] * n if isinstance(params, ServoParams) else list(params)
        if len(servos) != n:
            raise ValueError(f"{len(servos)} servo parameter sets for {n} joints")
        self.params = tuple(servos)
        self.dt = dt
        self._stall = np.array([s.stall_torque for s in servos])
        self._omega0 = np.array([s.no_load_speed for s in servos])
        self._kp = np.array([s.kp for s in servos])
        self._kd = np.array([s.kd for s in servos])
        self._limit = np.array([s.max_torque for s in servos])
        self._deadband = self._own_deadband = np.array([s.deadband for s in servos])
        self._half_play = self._own_half_play = np.array([s.backlash / 2 for s in servos])
        self._vmax = np.array([np.inf if s.velocity_limit is None else s.velocity_limit for s in servos])
        self.reset()

    def wear(self, extra_backlash: np.ndarray | float, extra_deadband: np.ndarray | float) -> None:
        """Add play and deadband (rad) to the servos' own, e.g. this episode's perturbation; 0 restores them."""
        self._half_play = self._own_half_play + np.asarray(extra_backlash, dtype=np.float64) / 2
        self._deadband = self._own_deadband + np.asarray(extra_deadband, dtype=np.float64)
        self._gap = np.clip(self._gap, -self._half_play, self._half_play)

    def reset(self) -> None:
        """Gears centred in their play, no torque: the state at the start of an episode."""
        self._gap = np.zeros(len(self.params))  # motor side minus output side, within ±half play
        self.torque = np.zeros(len(self.params))  # what reached the output at the last step

    def step(self, target: np.ndarray, position: np.ndarray, velocity: np.ndarray,
             gain_scale: np.ndarray | float = 1.0) -> np.ndarray:
        """Output torques for this physics step. `gain_scale` scales the motor's strength (stall torque
        and limit), as a weaker supply or a worn servo would."""
        error = np.asarray(target, dtype=np.float64) - position
        error = np.where(np.abs(error) <= self._deadband, 0.0, error)
        duty = np.clip(self._kp * error - self._kd * velocity, -1.0, 1.0)
        stall = self._stall * gain_scale
        torque = np.clip(stall * (duty - velocity / self._omega0), -self._limit * gain_scale,
                         self._limit * gain_scale)
        torque = np.where((np.abs(velocity) >= self._vmax) & (torque * velocity > 0), 0.0, torque)
        # Backlash: the motor must cross the play, at its no-load speed, before driving the other way.
        direction = np.sign(torque)
        engaged = np.where(direction > 0, self._gap >= self._half_play,
                           np.where(direction < 0, self._gap <= -self._half_play, True))
        travel = np.where(engaged, 0.0, direction * self._omega0 * self.dt)
        self._gap = np.clip(self._gap + travel, -self._half_play, self._half_play)
        self.torque = np.where(engaged, torque, 0.0)
        return self.torque


def add_armature(body: int, joint: int, armature: float, client: int) -> None:
    """Add a motor's reflected inertia to a revolute joint: PyBullet has no joint armature, so it goes on
    the child link's inertia (for joint axes along principal axes of the link's inertia, as in the
    robolearn URDFs)."""
    if armature <= 0:
        return
    axis = np.abs(np.asarray(p.getJointInfo(body, joint, physicsClientId=client)[13], dtype=np.float64))
    axis /= max(float(np.linalg.norm(axis)), 1e-12)
    info = p.getDynamicsInfo(body, joint, physicsClientId=client)
    # A rotor is a disc: `armature` about its axis, half of it about the transverse ones (which also keeps
    # the tensor physical: no principal moment above the sum of the other two).
    diagonal = np.asarray(info[2]) + armature * (axis**2 + 0.5 * (1.0 - axis**2))
    p.changeDynamics(body, joint, localInertiaDiagonal=diagonal.tolist(), physicsClientId=client)


@dataclass(frozen=True)
class WheelParams:
    """A drive wheel's motor and tyre, at the wheel. kv: duty per rad/s of speed error; ki: duty per rad of
    accumulated speed error (the drive's PI speed loop). tyre_friction: the tyre-floor friction
    coefficient (lower: the wheel slips sooner). armature: the gearmotor's inertia at the wheel, kg·m²."""

    name: str
    stall_torque: float
    no_load_speed: float
    kv: float
    ki: float = 0.0
    tyre_friction: float = 1.0
    armature: float = 0.0
    source: str = ""

    def __post_init__(self) -> None:
        for field_name in ("stall_torque", "no_load_speed", "kv", "tyre_friction"):
            value = getattr(self, field_name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"wheel {self.name}: {field_name} must be > 0, got {value!r}")
        for field_name in ("ki", "armature"):
            value = getattr(self, field_name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"wheel {self.name}: {field_name} must be >= 0, got {value!r}")


CREATE2_WHEEL = WheelParams(
    name="create2", stall_torque=1.0, no_load_speed=0.6 / 0.036, kv=0.05, ki=0.5, tyre_friction=0.9,
    armature=_armature(1.0, 100),
    source="iRobot Create 2 Open Interface spec: wheels 72 mm diameter, speed commands limited to ±500 mm/s. "
           "Not published, assumed: 1.0 N·m stall (the sim's previous cap), a no-load speed 20 % above "
           "500 mm/s, the PI gains, a ~1 g·cm² rotor behind a ~100:1 gearbox, rubber-on-floor friction 0.9")
RACECAR_WHEEL = WheelParams(
    name="racecar", stall_torque=2.0, no_load_speed=1.2 * 3.0 / 0.05, kv=0.1, ki=1.0, tyre_friction=1.0,
    armature=1e-3,
    source="pybullet_data's 1/10 MIT racecar (JetRacer class): 0.05 m wheels, commands limited to ±3 m/s by "
           "calibration/car/limits.yaml. Not published, assumed: 2.0 N·m stall (the sim's previous cap), a "
           "no-load speed 20 % above 3 m/s, the PI gains, rubber tyres 1.0, and an armature that keeps the "
           "drive loop stable at 240 Hz")
WHEELS: dict[str, WheelParams] = {w.name: w for w in (CREATE2_WHEEL, RACECAR_WHEEL)}


def wheel_params(spec: str | WheelParams) -> WheelParams:
    """A WheelParams by name (`WHEELS`) or as given."""
    return _by_name(spec, WHEELS, WheelParams, "wheel model")


class WheelMotors:
    """Identical wheel drives stepped once per physics step of `dt` seconds; `reset(n)` sizes them."""

    def __init__(self, params: WheelParams, dt: float, n: int = 2) -> None:
        self.params, self.dt = params, dt
        self.reset(n)

    def reset(self, n: int) -> None:
        self._integral = np.zeros(n)
        self.torque = np.zeros(n)

    def step(self, target_speed: np.ndarray, speed: np.ndarray, gain_scale: np.ndarray | float = 1.0) -> np.ndarray:
        """Wheel torques (N·m) that drive `speed` (rad/s) towards `target_speed`."""
        w = self.params
        error = np.asarray(target_speed, dtype=np.float64) - speed
        duty = w.kv * error + w.ki * self._integral
        saturated = np.abs(duty) >= 1.0
        # Anti-windup: stop integrating while the duty is saturated in the error's direction.
        self._integral = np.where(saturated & (np.sign(duty) == np.sign(error)), self._integral,
                                  self._integral + error * self.dt)
        duty = np.clip(duty, -1.0, 1.0)
        stall = w.stall_torque * gain_scale
        self.torque = np.clip(stall * (duty - speed / w.no_load_speed), -stall, stall)
        return self.torque


__all__ = ["CREATE2_WHEEL", "RACECAR_WHEEL", "SERVOS", "STS3215", "ServoBank", "ServoParams", "WHEELS", "WheelMotors",
           "WheelParams", "XL330_M288", "XM430_W350", "servo_params", "wheel_params"]
