"""Motor buses through the real vendor SDKs and pyserial, against protocol-true virtual servos on a pty."""

from __future__ import annotations

import pytest

from robolearn.hardware.errors import BusError, ModelMismatchError, MotorFaultError, PortError
from virtual_devices.bus_families import FAMILIES, TEST_LATENCY_MS, eventually, fast_thread_switching  # noqa: F401

IDS = [1, 2, 3]


@pytest.fixture(params=sorted(FAMILIES))
def family(request):
    return FAMILIES[request.param]


@pytest.fixture
def device(family):
    with family.virtual({i: family.number for i in IDS}) as dev:
        yield dev


@pytest.fixture
def bus(family, device):
    with family.bus(device.path, retries=2, latency_ms=TEST_LATENCY_MS) as b:
        b.check_models({i: family.model for i in IDS})
        yield b


def test_sync_read_and_write_move_the_servos(bus, device):
    device.servos[2].position = 1234
    assert {i: s.position for i, s in bus.read_state(IDS).items()} == {1: 2048, 2: 1234, 3: 2048}
    bus.set_torque(IDS, True)  # a broadcast: no reply to wait for
    assert eventually(lambda: all(device.servos[i].torque for i in IDS))
    bus.write_goal_positions({1: 1000, 2: 3000, 3: 2500})
    assert {i: s.position for i, s in bus.read_state(IDS).items()} == {1: 1000, 2: 3000, 3: 2500}
    bus.set_torque(IDS, False)
    assert eventually(lambda: not any(device.servos[i].torque for i in IDS))


def test_signed_velocity_and_load_decode(family, bus, device):
    servo = device.servos[1]
    if family.name == "dynamixel":
        servo.set(servo.regs.velocity, -10)  # two's complement, 0.229 rpm units
        servo.set(servo.regs.load, -300)  # mA
        expected_velocity, expected_load = -10 * 0.229 * 4096 / 60, -300 / 1470
    else:
        servo.set(servo.regs.velocity, 0x8000 | 100)  # sign-magnitude, ticks/s
        servo.set(servo.regs.load, 0x400 | 500)  # sign in bit 10, 0.1 %
        expected_velocity, expected_load = -100.0, -0.5
    state = bus.read_state([1])[1]
    assert state.velocity == pytest.approx(expected_velocity)
    assert state.load == pytest.approx(expected_load)


def test_goal_velocity_encoding_round_trips(family, bus, device):
    bus.write_goal_velocities({2: -150.0})
    bus.ping(2)  # the sync write has no reply; a ping proves the device processed it
    servo = device.servos[2]
    raw = servo.get(servo.regs.goal_velocity, signed=family.name == "dynamixel")
    if family.name == "dynamixel":
        assert raw == round(-150.0 / (0.229 * 4096 / 60))
    else:
        assert raw == 0x8000 | 150


def test_position_limits_are_written_into_the_servo_and_enforced_by_it(family, bus, device):
    bus.set_torque([1], False)
    bus.write_position_limits(1, 1500, 2500)
    assert bus.read_position_limits(1) == (1500, 2500)
    assert device.servos[1].limits == (1500, 2500)
    if family.name == "feetech":
        assert device.unlocked_eeprom_writes == 2
        assert device.servos[1].table[55] == 1  # locked again
    bus.write_goal_positions({1: 2000})
    bus.set_torque([1], True)
    assert eventually(lambda: device.servos[1].position == 2000)
    bus.write_goal_positions({1: 4000})  # past the limit
    bus.ping(1)  # the sync write has no reply; a ping proves the device processed it
    # X-series firmware rejects the goal (Data Limit; silently in a sync write); an STS servo keeps the goal and
    # stops at the limit (huggingface/lerobot#3585): either way the firmware, not only robolearn, holds the range
    assert bus.read_state([1])[1].position == (2000 if family.name == "dynamixel" else 2500)


def test_dynamixel_refuses_eeprom_write_with_torque_on():
    family = FAMILIES["dynamixel"]  # Feetech guards its EEPROM with the Lock register instead
    with family.virtual({1: family.number}) as device, family.bus(device.path, latency_ms=TEST_LATENCY_MS) as bus:
        bus.set_torque([1], True)
        with pytest.raises(BusError, match="access error"):
            bus.write_position_limits(1, 1000, 3000)
        assert device.servos[1].limits == (0, 4095)


def test_dropped_replies_within_the_retry_budget_are_recovered(family, bus, device):
    # (>= rather than ==: on a loaded machine a reply can also miss its timeout by itself.)
    before = bus.failed_transfers
    device.drop_replies = 2  # two attempts lost, the third (the last the budget allows) answers
    assert bus.ping(2) == family.number
    assert device.drop_replies == 0 and bus.failed_transfers - before >= 2
    before = bus.failed_transfers
    device.drop_replies = 1  # one servo's part of a sync read lost: the whole read is repeated
    assert {i: s.position for i, s in bus.read_state(IDS).items()} == {i: 2048 for i in IDS}
    assert device.drop_replies == 0 and bus.failed_transfers - before >= 1


def test_dropped_replies_beyond_the_budget_raise_a_clear_error(bus, device):
    device.drop_replies = 100
    with pytest.raises(BusError, match=r"failed 3 times.*servo 1: no reply \(timeout\)"):
        bus.read_state(IDS)


def test_corrupt_checksums_are_detected_and_retried(bus, device):
    before = bus.failed_transfers
    device.corrupt_replies = 1
    assert bus.ping(2) in (1200, 777)
    assert device.corrupt_replies == 0 and bus.failed_transfers - before >= 1
    device.corrupt_replies = 100
    with pytest.raises(BusError, match="corrupt reply"):
        bus.ping(2)


def test_a_servo_that_does_not_answer_is_named(family, device):
    with family.bus(device.path, retries=1, latency_ms=TEST_LATENCY_MS) as b:
        with pytest.raises(BusError, match=r"servo 7: no reply.*id and baud rate"):
            b.check_models({1: family.model, 7: family.model})


def test_wrong_model_number_is_refused(family, device):
    device.servos[3].model_number = family.other_number
    device.servos[3].__post_init__()
    with family.bus(device.path, latency_ms=TEST_LATENCY_MS) as b:
        with pytest.raises(ModelMismatchError, match=rf"id 3: expected {family.model}"):
            b.check_models({i: family.model for i in IDS})
        with pytest.raises(ModelMismatchError, match="check_models"):
            b.read_state([3])  # never decode registers of an unidentified servo


def test_overload_is_reported_as_a_motor_fault_without_retrying(bus, device):
    device.servos[2].error = 0x20  # overload bit (Dynamixel: hardware error status; Feetech: status byte)
    before = device.replies_sent
    with pytest.raises(MotorFaultError, match="overload") as info:
        bus.read_state(IDS)
    assert info.value.motor_id == 2 and "overload" in info.value.flags
    assert device.replies_sent - before <= 4  # one sync read (+ the error-status read), no retry storm


def test_port_that_does_not_exist(family, tmp_path):
    with pytest.raises(PortError, match="does not exist"):
        family.bus(str(tmp_path / "ttyUSB9")).open()


def test_busy_port_is_refused(family, bus, device):
    other = family.bus(device.path)
    with pytest.raises(PortError, match="busy"):
        other.open()


def test_unplugged_port_raises_port_error(bus, device):
    device.unplug()
    with pytest.raises(PortError, match="disconnected"):
        for _ in range(3):  # the first read may still see buffered bytes
            bus.read_state(IDS)


def test_dynamixel_byte_stuffing_both_ways():
    """Values whose bytes read FF FF FD would look like a packet header: both ends must stuff them."""
    family = FAMILIES["dynamixel"]
    header_like = 0x00FDFFFF  # little-endian bytes FF FF FD 00
    with family.virtual({1: family.number}) as device, family.bus(device.path, latency_ms=TEST_LATENCY_MS) as bus:
        bus.check_models({1: family.model})
        servo = device.servos[1]
        servo.position = header_like  # the status packet carries FF FF FD: the virtual servo stuffs it
        assert bus.read_state([1])[1].position == header_like
        bus.write_position_limits(1, 0, header_like)  # the instruction carries FF FF FD: the SDK stuffs it
        assert servo.limits == (0, header_like)
        assert b"\xff\xff\xfd\xfd" in bytes(device.received)
        assert device.crc_errors == 0


def test_a_servo_left_in_another_mode_is_put_in_position_mode(bus, device):
    servo = device.servos[2]
    servo.table[servo.regs.operating_mode] = 1  # velocity mode: goal positions would be ignored
    bus.set_torque(IDS, True)
    bus.write_goal_positions({2: 1000})
    assert bus.read_state([2])[2].position == 2048
    bus.set_torque(IDS, False)
    bus.set_position_mode(IDS)
    assert all(device.servos[i].table[servo.regs.operating_mode] == servo.regs.position_mode for i in IDS)
    bus.set_torque(IDS, True)
    bus.write_goal_positions({2: 1000})
    assert bus.read_state([2])[2].position == 1000


def test_torque_off_is_confirmed_even_when_the_broadcast_is_lost(bus, device):
    bus.set_torque(IDS, True)
    assert eventually(lambda: all(device.servos[i].torque for i in IDS))
    device.drop_instructions = 1  # the torque-off broadcast never arrives
    device.servos[3].error = 0x20  # and one servo reports a standing overload on every reply
    bus.set_torque(IDS, False)
    assert not any(device.servos[i].torque for i in IDS)  # confirmed by acknowledged writes


def test_unconfirmed_torque_off_is_an_error(family, device):
    with family.bus(device.path, retries=0, latency_ms=TEST_LATENCY_MS) as b:
        device.drop_replies = 100
        with pytest.raises(BusError, match="torque-off was not confirmed by servos 1 .*cut the servo power"):
            b.set_torque(IDS, False)


def test_a_partly_failed_sync_read_leaves_no_late_reply_for_the_next_request(family, device):
    """Servo 1's reply is corrupt and there are no retries: servos 2 and 3 are still answering when the read
    fails. Every later read must get its own answer, not one of those late replies."""
    device.reply_gap_s = 0.012  # each servo answers 12 ms after the previous one, as in a slow daisy chain
    with family.bus(device.path, retries=0, latency_ms=TEST_LATENCY_MS) as bus:
        bus.check_models({i: family.model for i in IDS})
        device.servos[3].position = 1111
        device.corrupt_replies = 1
        with pytest.raises(BusError, match="corrupt"):
            bus.read_state(IDS)
        assert bus.counters.corrupt_replies == 1
        for motor_id in (3, 2, 1):
            assert bus.read_position_limits(motor_id) == (0, 4095)
        assert bus.read_state(IDS)[3].position == 1111
        assert bus.counters.drained_bytes > 0


def test_the_retry_budget_is_per_control_period(family, device):
    with family.bus(device.path, retries=2, latency_ms=TEST_LATENCY_MS, retries_per_period=1) as bus:
        bus.check_models({i: family.model for i in IDS})
        bus.begin_period()
        device.corrupt_replies = 2 * len(IDS)  # two whole attempts fail; the period allows one retry
        with pytest.raises(BusError):
            bus.read_state(IDS)
        assert bus.counters.budget_exhausted == 1
        bus.begin_period()
        device.corrupt_replies = 1
        assert set(bus.read_state(IDS)) == set(IDS)  # one retry, within the new period's budget
        assert bus.counters.retries == 2


def test_no_retry_is_made_that_would_overrun_the_period(family, device):
    with family.bus(device.path, retries=2, latency_ms=TEST_LATENCY_MS) as bus:
        bus.check_models({i: family.model for i in IDS})
        bus.begin_period(0.0)  # the period is already over: a failed read must not be retried
        device.corrupt_replies = len(IDS)
        with pytest.raises(BusError, match="failed 1 times"):
            bus.read_state(IDS)
        assert bus.counters.budget_exhausted == 1 and bus.counters.retries == 0
        bus.begin_period(1.0)
        device.corrupt_replies = 1
        assert set(bus.read_state(IDS)) == set(IDS)
        assert bus.counters.retries == 1


def test_a_fault_in_a_sync_read_is_decoded_after_every_reply_is_in(family, device):
    """A faulted first servo: its fault is reported (Dynamixel reads Hardware Error Status to name it) only
    after the other servos' replies have arrived, so that extra read gets its own answer."""
    device.reply_gap_s = 0.012
    with family.bus(device.path, retries=0, latency_ms=TEST_LATENCY_MS) as bus:
        bus.check_models({i: family.model for i in IDS})
        device.servos[1].error = 0x20
        with pytest.raises(MotorFaultError) as fault:
            bus.read_state(IDS)
        assert fault.value.flags == ("overload",)
        device.servos[1].error = 0
        assert bus.read_position_limits(3) == (0, 4095)
