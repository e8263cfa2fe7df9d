"""The motor bus interface: a chain of serial servos addressed by id, spoken to in raw units.

A bus knows nothing about joints or radians: it moves ticks, ticks/s and load fractions. The mapping to
joint space is the motor calibration's job (`robolearn.calibration.motors`), the safety decisions are the
SafetyController's. Implementations: `DynamixelBus` (Protocol 2.0) and `FeetechBus` (STS/SMS).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from types import TracebackType
from typing import Iterable, Mapping

from robolearn.hardware.errors import ModelMismatchError


@dataclass(frozen=True)
class MotorModel:
    """Facts about one servo model that the bus needs to convert its registers."""

    name: str
    number: int  # what the servo's model-number register reports
    resolution: int  # encoder ticks per turn
    stall_torque_nm: float  # to express load as an effort in N·m
    velocity_unit: float  # ticks/s per unit of the velocity registers
    load_unit: float  # fraction of stall torque per unit of the load (or current) register


@dataclass(frozen=True)
class MotorState:
    position: int  # encoder ticks
    velocity: float  # ticks per second
    load: float  # signed fraction of the stall torque (1.0 = stalled)
    temperature_c: float | None = None  # where the servo reports it in the same read


@dataclass(frozen=True)
class ServoHealth:
    """What a servo reports about itself, for `robolearn doctor`; read without moving anything."""

    model_number: int
    firmware: int
    voltage_v: float
    temperature_c: float
    faults: tuple[str, ...]  # hardware-error flags the servo reports (empty: none)


class MotorBus(abc.ABC):
    """One serial bus of servos. Use as a context manager so the port is always released."""

    #: models this bus family understands, by name
    models: Mapping[str, MotorModel]

    def __init__(self, port: str, baudrate: int) -> None:
        self.port = port
        self.baudrate = baudrate
        # Filled by check_models(): registers are only decoded for servos whose model was verified.
        self.verified_models: dict[int, MotorModel] = {}

    # ---------------------------------------------------------------------------------- lifetime
    @abc.abstractmethod
    def open(self) -> None: ...

    @abc.abstractmethod
    def close(self) -> None: ...

    @property
    @abc.abstractmethod
    def is_open(self) -> bool: ...

    def __enter__(self) -> "MotorBus":
        self.open()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def begin_period(self, period_s: float | None = None) -> None:
        """Start a control period: retries after a failure are limited to what still fits in `period_s`
        (None: only the per-transaction retry count applies). A bus without retries ignores it."""

    # -------------------------------------------------------------------------------- transfers
    @abc.abstractmethod
    def ping(self, motor_id: int) -> int:
        """Return the model number servo `motor_id` reports; raise BusError if it does not answer."""

    @abc.abstractmethod
    def read_health(self, motor_id: int) -> ServoHealth:
        """Model, firmware, supply voltage, temperature and fault flags of one servo (never moves it)."""

    @abc.abstractmethod
    def set_torque(self, motor_ids: Iterable[int], enabled: bool) -> None: ...

    @abc.abstractmethod
    def read_state(self, motor_ids: Iterable[int]) -> dict[int, MotorState]:
        """Sync-read position, velocity and load of all `motor_ids` in one bus transaction."""

    @abc.abstractmethod
    def write_goal_positions(self, goals: Mapping[int, int]) -> None:
        """Sync-write goal positions (ticks)."""

    @abc.abstractmethod
    def write_goal_velocities(self, goals: Mapping[int, float]) -> None:
        """Sync-write goal velocities (ticks/s)."""

    @abc.abstractmethod
    def set_position_mode(self, motor_ids: Iterable[int]) -> None:
        """Put each servo in position-control mode (an EEPROM register: torque must be off). A servo left in
        velocity or current mode by another program would otherwise ignore goal positions."""

    @abc.abstractmethod
    def in_position_mode(self, motor_id: int) -> bool:
        """Whether the servo's operating-mode register says position control (read back, not assumed)."""

    @abc.abstractmethod
    def write_position_limits(self, motor_id: int, low: int, high: int) -> None:
        """Write the servo's own min/max position registers, so the firmware enforces the range too.

        EEPROM registers: torque must be off."""

    @abc.abstractmethod
    def read_position_limits(self, motor_id: int) -> tuple[int, int]: ...

    @abc.abstractmethod
    def read_torque_limit(self, motor_id: int) -> float:
        """The servo's output cap as a fraction of full output (a RAM register: lost at power-off)."""

    @abc.abstractmethod
    def write_torque_limit(self, motor_id: int, fraction: float) -> None:
        """Cap the servo's output at `fraction` of full (any torque state); read back before returning."""

    # ----------------------------------------------------------------------------------- checks
    def model(self, name: str) -> MotorModel:
        try:
            return self.models[name]
        except KeyError:
            raise ModelMismatchError(
                f"{type(self).__name__} does not know servo model {name!r}; known: {sorted(self.models)}"
            ) from None

    def check_models(self, expected: Mapping[int, str]) -> None:
        """Ping every id and refuse to go on if a servo reports another model than `expected[id]`."""
        wrong = []
        for motor_id, name in expected.items():
            reported = self.ping(motor_id)
            if reported != self.model(name).number:
                known = {m.number: m.name for m in self.models.values()}
                wrong.append(f"id {motor_id}: expected {name} (model {self.model(name).number}), found "
                             f"{known.get(reported, 'unknown')} (model {reported})")
            else:
                self.verified_models[motor_id] = self.model(name)
        if wrong:
            raise ModelMismatchError(
                f"servos on {self.port} do not match the calibration: {'; '.join(wrong)}. Check the ids "
                f"and wiring, or re-run `robolearn calibrate motors` for this arm"
            )
