"""`robolearn calibrate motors|camera|handeye`: the guided front end of robolearn.calibration.

The only place in robolearn that prompts a person; the procedures underneath take readings and stop
conditions and are tested without one. See calibration/README.md for the procedures and file schemas.
"""

from __future__ import annotations

import argparse
import glob
import math
import threading
from pathlib import Path

import numpy as np
import yaml

from robolearn.calibration.files import CalibrationError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="what", required=True, metavar="{motors,camera,handeye}")

    motors = sub.add_parser("motors", help="record homing offsets, directions and ranges with torque off")
    motors.add_argument("--robot", required=True, help="robot name, e.g. so101_arm")
    motors.add_argument("--port", required=True, help="serial port of the servo bus, e.g. /dev/ttyACM0")
    motors.add_argument("--bus", required=True, choices=["feetech", "dynamixel"])
    motors.add_argument("--model", required=True, help="servo model on every joint, e.g. sts3215 or xl330-m288")
    motors.add_argument("--joints", help="comma-separated joint names (default: from the robot's limits.yaml)")
    motors.add_argument("--ids", help="comma-separated servo ids in joint order (default: 1..N)")
    motors.add_argument("--directions", help="comma-separated +1/-1 per joint, instead of the guided step")
    motors.add_argument("--baudrate", type=int, default=1_000_000)
    motors.add_argument("--id", default="arm", help="this arm's id: the file is calibration/<robot>/<id>.yaml")
    motors.add_argument("--out", type=Path, help="output file (overrides --id)")
    motors.add_argument("--auto-range", action="store_true",
                        help="find each joint's range by driving it slowly to its hard stops under a low torque "
                             "limit (the arm MOVES on its own) instead of moving it by hand")
    motors.add_argument("--yes", action="store_true", help="with --auto-range: do not ask before moving the arm")
    motors.add_argument("--range-torque", type=float, default=0.2,
                        help="with --auto-range: torque limit during the sweep, fraction of full (default 0.2)")
    motors.add_argument("--range-step", type=int, default=20, help="with --auto-range: ticks per move (default 20)")
    motors.add_argument("--range-settle-s", type=float, default=0.05,
                        help="with --auto-range: wait after each move before reading (default 0.05 s)")

    camera = sub.add_parser("camera", help="camera intrinsics from chessboard images")
    camera.add_argument("--images", nargs="+", required=True, help="image files or glob patterns")
    camera.add_argument("--pattern", default="9x6", help="inner corners, COLSxROWS (default 9x6)")
    camera.add_argument("--square", type=float, required=True, help="chessboard square size in metres")
    camera.add_argument("--camera", required=True, help="camera name, e.g. wrist_cam")
    camera.add_argument("--out", type=Path, required=True)

    handeye = sub.add_parser("handeye", help="camera pose relative to the gripper or the base")
    handeye.add_argument("--samples", type=Path, required=True,
                         help="YAML: samples: [{image: path, gripper_to_base: 4x4}, ...]")
    handeye.add_argument("--intrinsics", type=Path, required=True, help="the camera's intrinsics file")
    handeye.add_argument("--pattern", default="9x6")
    handeye.add_argument("--square", type=float, required=True)
    handeye.add_argument("--mode", choices=["eye_in_hand", "eye_to_hand"], default="eye_in_hand")
    handeye.add_argument("--robot", required=True)
    handeye.add_argument("--out", type=Path, required=True)


def run(args: argparse.Namespace) -> int:
    return {"motors": _motors, "camera": _camera, "handeye": _handeye}[args.what](args)


# ------------------------------------------------------------------------------------------ motors
def _motors(args: argparse.Namespace) -> int:
    from robolearn.calibration.motors import build_calibration, directions_from_motion, record_ranges
    from robolearn.safety import calibration_dir, load_robot_limits
    from robolearn.hardware.factory import BUS_CLASSES
    from robolearn.hardware.identity import read_identity

    joints = _split(args.joints) if args.joints else list(load_robot_limits(args.robot).names)
    ids = [int(v) for v in _split(args.ids)] if args.ids else list(range(1, len(joints) + 1))
    if len(ids) != len(joints):
        raise ValueError(f"{len(ids)} servo ids for {len(joints)} joints {joints}: give one id per joint")
    out = args.out or calibration_dir() / args.robot / f"{args.id}.yaml"
    bus = BUS_CLASSES[args.bus](args.port, baudrate=args.baudrate)
    model = bus.model(args.model)
    id_of = dict(zip(joints, ids))

    def positions() -> dict[str, int]:
        states = bus.read_state(ids)
        return {joint: states[id_of[joint]].position for joint in joints}

    with bus:
        bus.check_models({i: args.model for i in ids})
        bus.set_torque(ids, False)
        identity = read_identity(bus, ids)
        print(f"Found {len(ids)} x {args.model} on {args.port}. Torque is OFF: move the arm by hand.")
        input("1/3  Put the arm in its zero pose (every joint at 0 rad, as in the robot's model) and press Enter. ")
        homing = positions()
        if args.directions:
            signs = [int(v) for v in _split(args.directions)]
            if len(signs) != len(joints):
                raise ValueError(f"--directions has {len(signs)} values for {len(joints)} joints")
            directions = dict(zip(joints, signs))
        else:
            input("2/3  Move every joint a little in its POSITIVE direction, hold it there, and press Enter. ")
            directions = directions_from_motion(homing, positions())
        if args.auto_range:
            ranges = _auto_range(args, bus, id_of, model.resolution)
        else:
            print("3/3  Move every joint slowly through its full range of motion. Press Enter when done.")
            finished = threading.Event()
            threading.Thread(target=lambda: (input(), finished.set()), daemon=True).start()
            ranges = record_ranges(positions, finished.is_set, {j: model.resolution for j in joints},
                                   start=homing)
    calibration = build_calibration(args.robot, args.bus, [(j, id_of[j], args.model, model.resolution) for j in joints],
                                    homing, directions, ranges, identity)
    path = calibration.save(out)
    for m in calibration.motors:
        low, high = (math.degrees(v) for v in m.range_radians)
        print(f"  {m.name:15s} id {m.id:3d}  direction {m.direction:+d}  range {low:7.1f} .. {high:7.1f} deg")
    print(f"Wrote {path}")
    return 0


def _auto_range(args: argparse.Namespace, bus, id_of: dict[str, int], resolution: int) -> dict[str, tuple[int, int]]:
    from robolearn.hardware.auto_range import AutoRangeSettings, ranges_by_stall

    settings = AutoRangeSettings(torque_fraction=args.range_torque, step=args.range_step,
                                 settle_s=args.range_settle_s)
    print(f"3/3  Auto range: torque comes ON at {settings.torque_fraction:.0%} of full, and each joint in turn is "
          f"driven slowly into both of its hard stops. Keep hands and objects clear of the arm.")
    if not args.yes:
        try:
            answer = input("     Type 'yes' to start (anything else aborts): ")
        except EOFError:
            answer = ""  # no person at the terminal: nobody confirmed
        if answer.strip().lower() != "yes":
            raise CalibrationError("auto range not confirmed: nothing moved and no file was written (type 'yes' "
                                   "at the prompt, or pass --yes when nobody is at the terminal)")
    ranges = ranges_by_stall(bus, id_of, resolution, settings)
    print("     Done: torque is OFF and the servos' torque limits are restored.")
    return ranges


# ------------------------------------------------------------------------------------------ camera
def _camera(args: argparse.Namespace) -> int:
    from robolearn.calibration.camera import Chessboard, calibrate_intrinsics, read_images

    paths = _expand(args.images)
    intrinsics = calibrate_intrinsics(read_images(paths), Chessboard.parse(args.pattern, args.square), args.camera)
    path = intrinsics.save(args.out)
    print(f"{args.camera}: fx {intrinsics.fx:.1f}  fy {intrinsics.fy:.1f}  cx {intrinsics.cx:.1f}  "
          f"cy {intrinsics.cy:.1f}  reprojection error {intrinsics.reprojection_error_px:.3f} px "
          f"({len(paths)} images)")
    if intrinsics.reprojection_error_px > 1.0:
        print("warning: reprojection error above 1 px: retake blurred images, check the square size")
    print(f"Wrote {path}")
    return 0


# ----------------------------------------------------------------------------------------- handeye
def _handeye(args: argparse.Namespace) -> int:
    from robolearn.calibration.camera import CameraIntrinsics, Chessboard, board_pose, read_images
    from robolearn.calibration.handeye import calibrate_hand_eye

    intrinsics = CameraIntrinsics.load(args.intrinsics)
    board = Chessboard.parse(args.pattern, args.square)
    samples = _load_samples(args.samples)
    grippers, targets = [], []
    for image_path, gripper in samples:
        pose = board_pose(read_images([image_path])[0], board, intrinsics)
        if pose is None:
            print(f"skipped {image_path}: chessboard not found")
            continue
        grippers.append(gripper)
        targets.append(pose)
    result = calibrate_hand_eye(grippers, targets, mode=args.mode, robot=args.robot, camera=intrinsics.camera)
    path = result.save(args.out)
    print(f"{args.mode}: translation {np.round(result.transform[:3, 3], 4).tolist()} m, consistency "
          f"{1000 * result.residual_m:.1f} mm over {len(grippers)} samples")
    print(f"Wrote {path}")
    return 0


def _load_samples(path: Path) -> list[tuple[Path, np.ndarray]]:
    if not path.is_file():
        raise CalibrationError(f"samples file {path} does not exist")
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("samples"), list):
        raise CalibrationError(f"{path}: expected 'samples: [{{image: ..., gripper_to_base: 4x4}}, ...]'")
    samples = []
    for i, entry in enumerate(data["samples"]):
        if not isinstance(entry, dict) or "image" not in entry or "gripper_to_base" not in entry:
            raise CalibrationError(f"{path}: samples[{i}] needs 'image' and 'gripper_to_base'")
        samples.append((path.parent / entry["image"], np.asarray(entry["gripper_to_base"], dtype=np.float64)))
    return samples


def _split(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def _expand(patterns: list[str]) -> list[str]:
    paths: list[str] = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern))
        if not matches:
            raise CalibrationError(f"no images match {pattern!r}")
        paths.extend(matches)
    return paths
