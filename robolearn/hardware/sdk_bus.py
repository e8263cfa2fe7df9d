"""The part of a motor bus shared by the ROBOTIS Dynamixel SDK and the Feetech SDK (a fork of it).

Both SDKs expose the same packet-handler calls (ping, readTxRx, writeTxRx, syncReadTx + readRx,
syncWriteTxOnly); the register map, value encodings and error bits differ and live in the subclasses.
What is added here: exclusive port opening with clear errors, flushing stale input before each packet,
a configurable reply timeout, bounded retries, and fault decoding.

Bus discipline: the SDKs match a reply to a request by servo id alone, so a reply that comes late (the rest
of a sync read that failed partway, or an answer slower than its timeout) would be taken for the answer to
the next request, and on a half-duplex bus the next instruction would collide with it. After every failed
attempt the bus therefore waits out what is still owed (until the owed bytes have arrived or the line has
been quiet for one reply window) before it transmits again. Retries are also budgeted per control period
(`begin_period`), so one bad tick cannot stall the loop.
"""

from __future__ import annotations

import abc
import select
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, TypeVar

from robolearn.hardware.errors import BusError, ModelMismatchError, MotorFaultError, PortError
from robolearn.hardware.motor_bus import MotorBus, MotorModel, MotorState, ServoHealth
from robolearn.hardware.serial_port import SERIAL_FAILURES, open_serial, port_error

COMM_SUCCESS = 0  # the same in both SDKs; their failure codes differ (see `sdk`)

T = TypeVar("T")
Failure = tuple[int, "int | None"]  # SDK result code, and the servo that caused it when known


@dataclass
class BusCounters:
    """What went wrong on the bus since it was opened, for diagnostics (`robolearn doctor`, logs)."""

    transactions: int = 0
    timeouts: int = 0
    corrupt_replies: int = 0
    other_failures: int = 0
    retries: int = 0
    budget_exhausted: int = 0  # failures not retried because the period's retry budget was spent
    drained_bytes: int = 0  # late bytes discarded before the next instruction

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


@dataclass(frozen=True)
class Register:
    address: int
    size: int


@dataclass(frozen=True)
class ControlTable:
    """The registers a bus uses; the state block is read in one sync read."""

    torque_enable: Register
    goal_position: Register
    goal_velocity: Register
    min_position_limit: Register
    max_position_limit: Register
    operating_mode: Register
    position_mode: int  # the operating-mode value for position control
    state_block: Register  # contiguous span covering present load, velocity and position
    firmware: Register
    present_voltage: Register  # in 0.1 V
    present_temperature: Register  # in degrees C
    # A RAM register capping the motor's output, and its value at full output: the calibration's gentle moves
    # (range by stall) lower it and put it back.
    torque_limit: Register
    torque_limit_full: int


class SdkMotorBus(MotorBus):
    """A MotorBus over a ROBOTIS-style SDK module (`dynamixel_sdk` or `scservo_sdk`)."""

    table: ControlTable
    sdk: Any  # the SDK module, for its result codes
    status_overhead: int  # bytes of a status packet around its parameters (header, id, length, error, checksum)

    def __init__(self, port: str, baudrate: int = 1_000_000, retries: int = 2,
                 latency_ms: float = 16.0, retries_per_period: int | None = None) -> None:
        super().__init__(port, baudrate)
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        if retries_per_period is not None and retries_per_period < 0:
            raise ValueError(f"retries_per_period must be >= 0 or None, got {retries_per_period}")
        self.retries = retries
        # None: only the per-transaction limit applies (set-up, calibration). A control loop sets a budget and
        # calls begin_period() every tick, so a bad read costs at most that tick.
        self.retries_per_period = retries_per_period
        self._period_retries_left: int | None = retries_per_period
        self.counters = BusCounters()
        self._owed_bytes, self._owed_replies = 0, 1  # set by a failed attempt that leaves replies on the way
        self._period_deadline: float | None = None
        # USB serial adapters deliver bytes in bursts every latency-timer period (16 ms on FTDI by default);
        # the reply timeout is built from it as the SDKs do, but configurable.
        self.latency_ms = latency_ms
        self._port_handler: Any = None
        self._packets: Any = None

    # ------------------------------------------------------------------------- subclass hooks
    @abc.abstractmethod
    def _sdk_port_class(self) -> type: ...

    @abc.abstractmethod
    def _make_packet_handler(self) -> Any: ...

    @abc.abstractmethod
    def _sync_read_tx(self, start: int, length: int, ids: list[int]) -> int: ...

    @abc.abstractmethod
    def _decode_state(self, model: MotorModel, data: list[int]) -> MotorState: ...

    @abc.abstractmethod
    def _encode_position(self, ticks: int) -> int: ...

    @abc.abstractmethod
    def _encode_velocity(self, ticks_per_s: float) -> int: ...

    @abc.abstractmethod
    def _fault(self, motor_id: int, error: int) -> Exception | None:
        """The exception for a nonzero status error byte (MotorFaultError or BusError), or None if benign."""

    def _write_eeprom(self, motor_id: int, writes: list[tuple[Register, int]]) -> None:
        for register, value in writes:
            self._write(motor_id, register, value)

    # ---------------------------------------------------------------------------------- lifetime
    def open(self) -> None:
        if self.is_open:
            return
        handler = _port_class(self._sdk_port_class())(self.port)
        handler.latency_ms = self.latency_ms
        handler.baudrate = self.baudrate
        if handler.getCFlagBaud(self.baudrate) <= 0:
            raise ValueError(f"{type(self).__name__}: baud rate {self.baudrate} is not supported by the SDK")
        handler.setupPort(self.baudrate)
        self._port_handler = handler
        self._packets = self._make_packet_handler()

    def close(self) -> None:
        if self._port_handler is not None:
            try:
                self._port_handler.closePort()
            finally:
                self._port_handler = None

    @property
    def is_open(self) -> bool:
        return self._port_handler is not None and self._port_handler.is_open

    def begin_period(self, period_s: float | None = None) -> None:
        """Start a control period: the per-period retry budget is refilled, and with `period_s` a retry is only
        made while another attempt (as long as the last one took) still fits before the period ends."""
        self._period_retries_left = self.retries_per_period
        self._period_deadline = None if period_s is None else time.monotonic() + period_s

    @property
    def failed_transfers(self) -> int:
        """Failed attempts of any kind (retried or not)."""
        c = self.counters
        return c.timeouts + c.corrupt_replies + c.other_failures

    # -------------------------------------------------------------------------------- transfers
    def ping(self, motor_id: int) -> int:
        model, _ = self._transfer(f"ping servo {motor_id}", motor_id,
                                  lambda: self._packets.ping(self._port_handler, motor_id))
        return int(model)

    def read_health(self, motor_id: int) -> ServoHealth:
        # A faulted servo still answers (its replies carry the fault): read it anyway, that is the point here.
        model, error = self._transfer(f"ping servo {motor_id}", motor_id,
                                      lambda: self._packets.ping(self._port_handler, motor_id), faults_ok=True)
        fault = self._fault(motor_id, error)
        values = []
        for register in (self.table.firmware, self.table.present_voltage, self.table.present_temperature):
            data, _ = self._transfer(
                f"read of register {register.address} on servo {motor_id}", motor_id,
                lambda: self._packets.readTxRx(self._port_handler, motor_id, register.address, register.size),
                faults_ok=True)
            values.append(int.from_bytes(bytes(data[: register.size]), "little"))
        firmware, voltage, temperature = values
        faults = fault.flags if isinstance(fault, MotorFaultError) else ()
        return ServoHealth(int(model), firmware, voltage / 10.0, float(temperature), faults)

    def set_torque(self, motor_ids: Iterable[int], enabled: bool) -> None:
        """One broadcast switches every servo at the same instant. A broadcast is never acknowledged, so
        switching off, the safe state, is then confirmed servo by servo; a faulted servo (whose replies carry
        its fault) cannot keep the others from being confirmed."""
        ids = list(motor_ids)
        self._sync_write(self.table.torque_enable, {i: 1 if enabled else 0 for i in ids})
        if enabled:
            return
        unconfirmed = []
        for motor_id in ids:
            try:
                self._write(motor_id, self.table.torque_enable, 0)
            except MotorFaultError:
                pass  # it answered, so the write arrived; the fault itself is reported by the reads
            except BusError as exc:
                unconfirmed.append(f"{motor_id} ({exc})")
        if unconfirmed:
            raise BusError(f"torque-off was not confirmed by servos {', '.join(unconfirmed)}: cut the servo power "
                           f"if the arm is still energised")

    def read_state(self, motor_ids: Iterable[int]) -> dict[int, MotorState]:
        ids = list(motor_ids)
        unverified = [i for i in ids if i not in self.verified_models]
        if unverified:
            raise ModelMismatchError(
                f"servos {unverified} on {self.port} have not been identified: call check_models() first so "
                f"that their registers are decoded with the right units")
        block = self.table.state_block

        def attempt() -> tuple[dict[int, list[int]] | None, Failure | None]:
            result = self._sync_read_tx(block.address, block.size, ids)
            if result != COMM_SUCCESS:
                return None, (result, None)
            replies: dict[int, list[int]] = {}
            errors: dict[int, int] = {}
            for index, motor_id in enumerate(ids):
                data, result, error = self._packets.readRx(self._port_handler, motor_id, block.size)
                if result != COMM_SUCCESS:
                    # the servos after this one may still be answering: their replies are owed
                    self._owed_replies = len(ids) - index
                    self._owed_bytes = self._owed_replies * (self.status_overhead + block.size)
                    return None, (result, motor_id)
                replies[motor_id] = list(data)
                errors[motor_id] = error
            # Faults are decoded once every reply is in: decoding may read another register, which must not
            # meet the rest of this sync read on the bus.
            for motor_id, error in errors.items():
                fault = self._fault(motor_id, error)
                if fault is not None:
                    raise fault
            return replies, None

        raw = self._retry(f"sync read of servos {ids}", attempt)
        return {i: self._decode_state(self.verified_models[i], data) for i, data in raw.items()}

    def write_goal_positions(self, goals: Mapping[int, int]) -> None:
        self._sync_write(self.table.goal_position, {i: self._encode_position(int(v)) for i, v in goals.items()})

    def write_goal_velocities(self, goals: Mapping[int, float]) -> None:
        self._sync_write(self.table.goal_velocity, {i: self._encode_velocity(v) for i, v in goals.items()})

    def set_position_mode(self, motor_ids: Iterable[int]) -> None:
        for motor_id in motor_ids:
            # Written only when different: EEPROM has a limited number of write cycles.
            if self._read(motor_id, self.table.operating_mode) != self.table.position_mode:
                self._write_eeprom(motor_id, [(self.table.operating_mode, self.table.position_mode)])

    def in_position_mode(self, motor_id: int) -> bool:
        return self._read(motor_id, self.table.operating_mode) == self.table.position_mode

    def write_position_limits(self, motor_id: int, low: int, high: int) -> None:
        if low >= high:
            raise ValueError(f"servo {motor_id}: position limit low {low} must be below high {high}")
        self._write_eeprom(motor_id, [(self.table.min_position_limit, self._encode_position(low)),
                                      (self.table.max_position_limit, self._encode_position(high))])

    def read_position_limits(self, motor_id: int) -> tuple[int, int]:
        return (self._decode_position(self._read(motor_id, self.table.min_position_limit)),
                self._decode_position(self._read(motor_id, self.table.max_position_limit)))

    def read_torque_limit(self, motor_id: int) -> float:
        return self._read(motor_id, self.table.torque_limit) / self.table.torque_limit_full

    def write_torque_limit(self, motor_id: int, fraction: float) -> None:
        if not 0.0 < fraction <= 1.0:
            raise ValueError(f"servo {motor_id}: torque limit must be a fraction in (0, 1], got {fraction}")
        value = round(fraction * self.table.torque_limit_full)
        self._write(motor_id, self.table.torque_limit, value)
        if self._read(motor_id, self.table.torque_limit) != value:  # RAM, any torque state: it must read back
            raise BusError(f"servo {motor_id} on {self.port}: torque limit register did not take {value}")

    # --------------------------------------------------------------------------------- internals
    def _decode_position(self, raw: int) -> int:
        return raw

    def _read(self, motor_id: int, register: Register) -> int:
        data, _ = self._transfer(
            f"read of register {register.address} on servo {motor_id}", motor_id,
            lambda: self._packets.readTxRx(self._port_handler, motor_id, register.address, register.size))
        return int.from_bytes(bytes(data[: register.size]), "little")

    def _write(self, motor_id: int, register: Register, value: int) -> None:
        data = list(int(value).to_bytes(register.size, "little"))
        self._transfer(
            f"write of register {register.address} on servo {motor_id}", motor_id,
            lambda: (None, *self._packets.writeTxRx(self._port_handler, motor_id, register.address,
                                                     register.size, data)))

    def _sync_write(self, register: Register, values: Mapping[int, int]) -> None:
        params: list[int] = []
        for motor_id, value in values.items():
            params.append(int(motor_id))
            params.extend(int(value).to_bytes(register.size, "little"))
        self._require_open()
        # A broadcast gets no reply, so there is nothing to retry on: only a transmit failure is reported.
        result = self._guarded(lambda: self._packets.syncWriteTxOnly(
            self._port_handler, register.address, register.size, params, len(params)))
        if result != COMM_SUCCESS:
            raise BusError(f"sync write to servos {list(values)} on {self.port} failed: "
                           f"{self._packets.getTxRxResult(result)}")

    def _transfer(self, what: str, motor_id: int, call: Callable[[], tuple],
                  faults_ok: bool = False) -> tuple[Any, int]:
        """Run a single-servo transaction `call` -> (data, result, error) with retries; return (data, error).
        `faults_ok`: a hardware fault in the reply is returned in `error` instead of raised."""

        def attempt() -> tuple[tuple[Any, int] | None, Failure | None]:
            data, result, error = call()
            if result != COMM_SUCCESS:
                return None, (result, motor_id)
            fault = None if faults_ok and error else self._fault(motor_id, error)
            if fault is not None:
                raise fault
            return (data, error), None

        return self._retry(what, attempt)

    def _retry(self, what: str, attempt: Callable[[], tuple[T | None, Failure | None]]) -> T:
        """Run `attempt` up to 1 + retries times (fewer once the period's retry budget is spent); it returns
        (value, None) or (None, (result, servo id)). Every failure is followed by waiting out owed replies."""
        self._require_open()
        failures: list[Failure] = []
        while True:
            self._owed_bytes, self._owed_replies = 0, 1
            self.counters.transactions += 1
            started = time.monotonic()
            value, failure = self._guarded(attempt)
            if failure is None:
                return value  # type: ignore[return-value]
            self._count_failure(failure[0])
            failures.append(failure)
            # A timed-out single reply may still come; a failed sync read leaves the later servos' replies.
            self._guarded(lambda: self._wait_out_owed(max(self._owed_bytes, self.status_overhead),
                                                      self._owed_replies))
            if len(failures) > self.retries:
                break
            now = time.monotonic()
            if self._period_deadline is not None and now + (now - started) > self._period_deadline:
                self.counters.budget_exhausted += 1  # another attempt would overrun the tick
                break
            if self._period_retries_left is not None:
                if self._period_retries_left <= 0:
                    self.counters.budget_exhausted += 1
                    break
                self._period_retries_left -= 1
            self.counters.retries += 1
        raise BusError(self._describe_failure(what, failures))

    def _count_failure(self, code: int) -> None:
        if code == self.sdk.COMM_RX_TIMEOUT:
            self.counters.timeouts += 1
        elif code == self.sdk.COMM_RX_CORRUPT:
            self.counters.corrupt_replies += 1
        else:
            self.counters.other_failures += 1

    def _wait_out_owed(self, owed_bytes: int, replies: int) -> None:
        """Discard input until `owed_bytes` have arrived or the line has been quiet for one adapter latency.

        Silence ends the wait, so a dropped reply costs one quiet window, not one timeout per owed reply; the
        cap (the owed replies' wire time plus a quiet window each) only bounds a line that keeps babbling."""
        handler = self._port_handler
        if handler is None or handler.ser is None:
            return
        # A USB adapter hands bytes over once per latency-timer period: a longer gap means the line is idle.
        quiet_s = (self.latency_ms + 1.0) / 1000.0
        now = time.monotonic()
        deadline = now + owed_bytes * handler.tx_time_per_byte / 1000.0 + quiet_s * max(1, replies)
        last_byte = now
        drained = 0
        while drained < owed_bytes:
            now = time.monotonic()
            if now >= deadline or now - last_byte >= quiet_s:
                break
            chunk = handler.readPort(4096)
            if chunk:
                drained += len(chunk)
                last_byte = time.monotonic()
        self.counters.drained_bytes += drained

    def _describe_failure(self, what: str, failures: list[Failure]) -> str:
        reasons = []
        for code, motor_id in failures:
            text = {self.sdk.COMM_RX_TIMEOUT: "no reply (timeout)",
                    self.sdk.COMM_RX_CORRUPT: "corrupt reply (bad checksum)"}.get(
                code, self._packets.getTxRxResult(code).replace("[TxRxResult] ", ""))
            reasons.append(text if motor_id is None else f"servo {motor_id}: {text}")
        return (f"{what} on {self.port} failed {len(failures)} times ({'; '.join(reasons)}): check that the "
                f"servo is powered, its id and baud rate ({self.baudrate}) are right, and the cable is seated")

    def _guarded(self, call: Callable[[], T]) -> T:
        """Run an SDK call; a serial failure becomes PortError and the SDK's busy flag is always released."""
        try:
            return call()
        except SERIAL_FAILURES as exc:
            raise port_error(self.port, exc) from exc
        finally:
            if self._port_handler is not None:
                self._port_handler.is_using = False

    def _require_open(self) -> None:
        if not self.is_open:
            raise PortError(f"{type(self).__name__} on {self.port} is not open: call open() first")


def _port_class(base: type) -> type:
    """An SDK PortHandler that opens the port exclusively, flushes stale input and has a tunable timeout."""

    class ExclusivePortHandler(base):  # type: ignore[misc, valid-type]
        latency_ms = 16.0

        def setupPort(self, cflag_baud: int) -> bool:
            if self.is_open:
                self.closePort()
            self.ser = open_serial(self.port_name, self.baudrate, timeout=0)
            self.is_open = True
            self.tx_time_per_byte = (1000.0 / self.baudrate) * 10.0
            return True

        def readPort(self, length: int) -> bytes:
            # The SDKs poll the non-blocking port in a tight loop while awaiting a reply. Waiting on the
            # descriptor instead (at most 1 ms, returning as soon as a byte arrives) adds no latency but frees
            # the CPU and the GIL, which a robot's small computer and any other thread need.
            if self.ser.in_waiting == 0 and hasattr(self.ser, "fileno"):
                select.select([self.ser.fileno()], [], [], 0.001)
            return self.ser.read(length)

        def clearPort(self) -> None:
            # A reply that arrived after its timeout must not be taken for the answer to the next request.
            self.ser.reset_input_buffer()

        def setPacketTimeout(self, packet_length: int) -> None:
            self.packet_start_time = self.getCurrentTime()
            self.packet_timeout = self.tx_time_per_byte * packet_length + 2.0 * self.latency_ms + 2.0

        def closePort(self) -> None:
            if self.ser is not None:
                self.ser.close()
            self.is_open = False

    return ExclusivePortHandler
