"""Check an arm's servo bus against its calibration: which servos answer, model, firmware, voltage, temperature
and faults, with what to fix. Nothing is written and nothing moves.

Examples:
  robolearn doctor so101_arm --port /dev/ttyACM0 --calibration calibration/so101_arm/arm.yaml
  robolearn doctor so101_arm --calibration calibration/so101_arm/arm.yaml   (no --port: lists the serial ports)
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("robot", help="robot name, e.g. so101_arm")
    parser.add_argument("--port", help="serial port of the servo bus; omit to list the ports found")
    parser.add_argument("--calibration", type=Path, required=True, help="the arm's motor calibration file")
    parser.add_argument("--baudrate", type=int, default=1_000_000)
    parser.add_argument("--latency-ms", type=float, default=16.0, help="USB adapter latency timer (ms)")


def run(args: argparse.Namespace) -> int:
    from serial.tools import list_ports

    from robolearn.calibration.motors import ArmCalibration
    from robolearn.hardware.doctor import diagnose
    from robolearn.hardware.factory import BUS_CLASSES

    if args.port is None:
        ports = sorted(p.device for p in list_ports.comports())
        print("serial ports found: " + (", ".join(ports) if ports else "none (is the adapter plugged in?)"))
        print("pass the servo bus's port with --port")
        return 2
    calibration = ArmCalibration.load(args.calibration, robot=args.robot)
    with BUS_CLASSES[calibration.bus](args.port, baudrate=args.baudrate, latency_ms=args.latency_ms) as bus:
        diagnosis = diagnose(bus, calibration)
    print(f"{args.robot} on {args.port} ({calibration.bus}, {args.baudrate} baud):")
    print(diagnosis.report())
    return 0 if diagnosis.ok else 1
