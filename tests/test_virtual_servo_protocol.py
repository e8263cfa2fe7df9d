"""The virtual servos answer as the firmware does: the official vendor SDKs, used as their own examples use
them (no robolearn code in between), drive the virtual devices over a pty and get the e-Manual's answers."""

from __future__ import annotations

import dynamixel_sdk as dxl
import pytest
import scservo_sdk as scs

from virtual_devices.bus_families import eventually, fast_thread_switching  # noqa: F401
from virtual_devices.servo_bus import (ACCESS_ERROR, ALERT, CRC_ERROR, DATA_LIMIT_ERROR, INSTRUCTION_ERROR,
                                       VirtualDynamixelBus, VirtualFeetechBus, dynamixel_crc, feetech_checksum)

XL330 = 1200
STS3215 = 777
TORQUE, GOAL, PRESENT, MIN_LIMIT, MAX_LIMIT, HW_ERROR = 64, 116, 132, 52, 48, 70


@pytest.fixture
def dynamixel():
    with VirtualDynamixelBus({1: XL330, 2: XL330, 3: XL330}) as device:
        port = dxl.PortHandler(device.path)
        assert port.openPort() and port.setBaudRate(1_000_000)
        yield device, port, dxl.PacketHandler(2.0)
        port.closePort()


def test_ping_and_broadcast_ping_report_model_and_firmware(dynamixel):
    device, port, packets = dynamixel
    model, result, error = packets.ping(port, 2)
    assert (model, result, error) == (XL330, dxl.COMM_SUCCESS, 0)
    found, result = packets.broadcastPing(port)
    assert result == dxl.COMM_SUCCESS
    assert found == {i: [XL330, 0x2D] for i in (1, 2, 3)}
    _, result, _ = packets.ping(port, 9)
    assert result == dxl.COMM_RX_TIMEOUT  # no servo with that id: silence


def test_read_only_and_eeprom_with_torque_on_are_access_errors(dynamixel):
    device, port, packets = dynamixel
    result, error = packets.write2ByteTxRx(port, 1, 0, 1234)  # model number
    assert (result, error) == (dxl.COMM_SUCCESS, ACCESS_ERROR)
    assert packets.read2ByteTxRx(port, 1, 0)[0] == XL330
    assert packets.write4ByteTxRx(port, 1, PRESENT, 5) == (dxl.COMM_SUCCESS, ACCESS_ERROR)
    assert packets.write1ByteTxRx(port, 1, TORQUE, 1) == (dxl.COMM_SUCCESS, 0)
    assert packets.write4ByteTxRx(port, 1, MAX_LIMIT, 3000) == (dxl.COMM_SUCCESS, ACCESS_ERROR)
    assert packets.read4ByteTxRx(port, 1, MAX_LIMIT)[0] == 4095
    assert packets.factoryReset(port, 1, 0x02) == (dxl.COMM_SUCCESS, ACCESS_ERROR)
    assert packets.write1ByteTxRx(port, 1, TORQUE, 0) == (dxl.COMM_SUCCESS, 0)
    assert packets.factoryReset(port, 1, 0x02) == (dxl.COMM_SUCCESS, 0)


def test_goal_past_the_limit_is_a_data_limit_error_and_keeps_the_old_goal(dynamixel):
    device, port, packets = dynamixel
    assert packets.write4ByteTxRx(port, 1, MIN_LIMIT, 1000) == (dxl.COMM_SUCCESS, 0)
    assert packets.write4ByteTxRx(port, 1, MAX_LIMIT, 3000) == (dxl.COMM_SUCCESS, 0)
    assert packets.write4ByteTxRx(port, 1, GOAL, 2500) == (dxl.COMM_SUCCESS, 0)
    assert packets.write4ByteTxRx(port, 1, GOAL, 3500) == (dxl.COMM_SUCCESS, DATA_LIMIT_ERROR)
    assert packets.read4ByteTxRx(port, 1, GOAL)[0] == 2500
    sync = dxl.GroupSyncWrite(port, packets, GOAL, 4)
    sync.addParam(1, list((3600).to_bytes(4, "little")))  # rejected silently
    sync.addParam(2, list((3600).to_bytes(4, "little")))  # servo 2 keeps the default 0..4095 limits
    assert sync.txPacket() == dxl.COMM_SUCCESS
    assert packets.read4ByteTxRx(port, 1, GOAL)[0] == 2500
    assert packets.read4ByteTxRx(port, 2, GOAL)[0] == 3600


def test_bulk_read_and_bulk_write(dynamixel):
    device, port, packets = dynamixel
    device.servos[1].position = 111
    device.servos[3].position = 333
    writer = dxl.GroupBulkWrite(port, packets)
    writer.addParam(1, MIN_LIMIT, 4, list((10).to_bytes(4, "little")))
    writer.addParam(3, MAX_LIMIT, 4, list((4000).to_bytes(4, "little")))
    assert writer.txPacket() == dxl.COMM_SUCCESS
    reader = dxl.GroupBulkRead(port, packets)
    assert reader.addParam(1, PRESENT, 4) and reader.addParam(3, MAX_LIMIT, 8)  # max (48) and min (52) limits
    assert reader.txRxPacket() == dxl.COMM_SUCCESS
    assert reader.getData(1, PRESENT, 4) == 111
    assert reader.getData(3, MAX_LIMIT, 4) == 4000 and reader.getData(3, MIN_LIMIT, 4) == 0
    assert packets.read4ByteTxRx(port, 1, MIN_LIMIT)[0] == 10


def test_hardware_error_sets_the_alert_bit_and_only_a_reboot_clears_it(dynamixel):
    device, port, packets = dynamixel
    device.servos[2].error = 0x20  # overload
    value, result, error = packets.read1ByteTxRx(port, 2, HW_ERROR)
    assert (value, result, error) == (0x20, dxl.COMM_SUCCESS, ALERT)
    assert packets.write1ByteTxRx(port, 2, TORQUE, 1) == (dxl.COMM_SUCCESS, ALERT)
    assert packets.read1ByteTxRx(port, 2, TORQUE)[0] == 0  # torque stays off in the shutdown state
    device.servos[2].error = 0  # the cause is gone, but the latch is the servo's: simulated by the reboot
    assert packets.reboot(port, 2) == (dxl.COMM_SUCCESS, 0)
    assert packets.read1ByteTxRx(port, 2, HW_ERROR) == (0, dxl.COMM_SUCCESS, 0)


def test_bad_crc_and_unknown_instruction_are_answered_with_their_errors(dynamixel):
    device, port, packets = dynamixel
    packet = bytearray(b"\xff\xff\xfd\x00\x01\x03\x00\x01")  # ping servo 1
    packet += (dynamixel_crc(bytes(packet)) ^ 0x1111).to_bytes(2, "little")
    port.clearPort()
    port.writePort(list(packet))
    port.setPacketTimeout(11)
    status, result = packets.rxPacket(port, False)
    assert result == dxl.COMM_SUCCESS and status[4] == 1 and status[8] == CRC_ERROR
    tx = [0] * 10
    tx[4], tx[5], tx[6], tx[7] = 1, 3, 0, 0x77  # id 1, length 3, an instruction no servo knows
    status, result, error = packets.txRxPacket(port, tx)
    assert (result, error) == (dxl.COMM_SUCCESS, INSTRUCTION_ERROR)


STS_TORQUE, STS_GOAL, STS_PRESENT, STS_MIN, STS_MAX, STS_LOCK, STS_STATUS = 40, 42, 56, 9, 11, 55, 65


@pytest.fixture
def feetech():
    with VirtualFeetechBus({1: STS3215, 2: STS3215}) as device:
        port = scs.PortHandler(device.path)
        assert port.openPort() and port.setBaudRate(1_000_000)
        yield device, port, scs.PacketHandler(0)
        port.closePort()


def test_feetech_sdk_reads_writes_and_sync_reads_the_virtual_sts(feetech):
    device, port, packets = feetech
    assert packets.ping(port, 1) == (STS3215, scs.COMM_SUCCESS, 0)
    assert packets.ping(port, 7)[1] == scs.COMM_RX_TIMEOUT
    device.servos[2].position = 1500
    reader = scs.GroupSyncRead(port, packets, STS_PRESENT, 2)
    assert reader.addParam(1) and reader.addParam(2)
    assert reader.txRxPacket() == scs.COMM_SUCCESS
    assert [reader.getData(i, STS_PRESENT, 2) for i in (1, 2)] == [2048, 1500]
    assert packets.write1ByteTxRx(port, 1, STS_TORQUE, 1) == (scs.COMM_SUCCESS, 0)
    assert packets.write2ByteTxRx(port, 1, STS_GOAL, 1000) == (scs.COMM_SUCCESS, 0)
    assert eventually(lambda: device.servos[1].position == 1000)


def test_sts_status_byte_carries_hardware_bits_only(feetech):
    device, port, packets = feetech
    device.servos[1].error = 0x20 | 0x04  # overload and overheating
    assert packets.read2ByteTxRx(port, 1, STS_PRESENT) == (2048, scs.COMM_SUCCESS, 0x24)
    assert packets.read1ByteTxRx(port, 1, STS_STATUS) == (0x24, scs.COMM_SUCCESS, 0x24)
    assert "overload" in packets.getRxPacketError(0x20).lower()
    assert packets.ping(port, 2) == (STS3215, scs.COMM_SUCCESS, 0)


def test_sts_goal_past_the_limits_is_kept_and_the_servo_stops_at_the_limit(feetech):
    device, port, packets = feetech
    assert packets.write1ByteTxRx(port, 1, STS_LOCK, 0) == (scs.COMM_SUCCESS, 0)
    assert packets.write2ByteTxRx(port, 1, STS_MIN, 1000) == (scs.COMM_SUCCESS, 0)
    assert packets.write2ByteTxRx(port, 1, STS_MAX, 3000) == (scs.COMM_SUCCESS, 0)
    assert packets.write1ByteTxRx(port, 1, STS_LOCK, 1) == (scs.COMM_SUCCESS, 0)
    assert packets.read1ByteTxRx(port, 1, STS_TORQUE)[0] == 0
    # no error bit: the goal register keeps what was written, the servo steers to the limit, and the goal
    # write itself switched torque on
    assert packets.write2ByteTxRx(port, 1, STS_GOAL, 3500) == (scs.COMM_SUCCESS, 0)
    assert packets.read2ByteTxRx(port, 1, STS_GOAL)[0] == 3500
    assert packets.read1ByteTxRx(port, 1, STS_TORQUE)[0] == 1
    assert packets.read2ByteTxRx(port, 1, STS_PRESENT)[0] == 3000


def test_sts_read_only_registers_are_acknowledged_but_unchanged(feetech):
    device, port, packets = feetech
    assert packets.write2ByteTxRx(port, 1, 3, 1234) == (scs.COMM_SUCCESS, 0)  # model number
    assert packets.read2ByteTxRx(port, 1, 3)[0] == STS3215
    assert packets.write2ByteTxRx(port, 1, STS_PRESENT, 5) == (scs.COMM_SUCCESS, 0)
    assert packets.read2ByteTxRx(port, 1, STS_PRESENT)[0] == 2048


def test_sts_eeprom_writes_act_at_once_but_only_persist_when_unlocked(feetech):
    device, port, packets = feetech
    assert packets.write1ByteTxRx(port, 1, STS_TORQUE, 1) == (scs.COMM_SUCCESS, 0)
    assert packets.write2ByteTxRx(port, 1, STS_MAX, 3000) == (scs.COMM_SUCCESS, 0)  # locked, torque on: accepted
    assert packets.read2ByteTxRx(port, 1, STS_MAX)[0] == 3000
    assert packets.write1ByteTxRx(port, 2, STS_LOCK, 0) == (scs.COMM_SUCCESS, 0)
    assert packets.write2ByteTxRx(port, 2, STS_MAX, 3100) == (scs.COMM_SUCCESS, 0)
    assert packets.write1ByteTxRx(port, 2, STS_LOCK, 1) == (scs.COMM_SUCCESS, 0)
    device.power_cycle()
    assert packets.read2ByteTxRx(port, 1, STS_MAX)[0] == 4095  # written while locked: lost
    assert packets.read2ByteTxRx(port, 2, STS_MAX)[0] == 3100  # written while unlocked: saved
    assert packets.read1ByteTxRx(port, 1, STS_TORQUE)[0] == 0


def test_sts_bad_checksum_and_unknown_instruction_get_no_answer(feetech):
    device, port, packets = feetech
    body = bytes([1, 2, 0x01])  # ping servo 1
    port.clearPort()
    port.writePort(list(b"\xff\xff" + body + bytes([feetech_checksum(body) ^ 0x0F])))
    port.setPacketTimeout(6)
    assert packets.rxPacket(port)[1] == scs.COMM_RX_TIMEOUT
    assert device.checksum_errors == 1
    tx = [0] * 6
    tx[2], tx[3], tx[4] = 1, 2, 0x77  # id 1, an instruction no servo knows
    assert packets.txRxPacket(port, tx)[1] == scs.COMM_RX_TIMEOUT
    assert device.unknown_instructions == 1
    assert packets.ping(port, 1) == (STS3215, scs.COMM_SUCCESS, 0)  # the servo still answers what it knows


def test_sts_broadcast_write_acts_on_every_servo_silently_and_reg_write_waits_for_action(feetech):
    device, port, packets = feetech
    for servo in device.servos.values():
        servo.set(servo.regs.goal_position, servo.position)
    assert packets.write1ByteTxOnly(port, 0xFE, STS_TORQUE, 1) == scs.COMM_SUCCESS
    assert eventually(lambda: all(s.torque for s in device.servos.values()))
    assert packets.regWriteTxRx(port, 2, STS_GOAL, 2, [0xD0, 0x07]) == (scs.COMM_SUCCESS, 0)  # 2000, held
    assert packets.read2ByteTxRx(port, 2, STS_PRESENT)[0] == 2048
    assert packets.action(port, 0xFE) == scs.COMM_SUCCESS
    assert eventually(lambda: device.servos[2].position == 2000)
