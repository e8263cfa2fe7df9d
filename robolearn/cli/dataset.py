"""`robolearn dataset`: inspect, check, convert and plot recorded datasets.

examples:
  robolearn dataset info data/reach
  robolearn dataset validate data/reach          (exit 1 and the file and field at fault otherwise)
  robolearn dataset convert data/reach data/reach-bag      (LeRobot v3 -> rosbag2 MCAP)
  robolearn dataset convert data/reach-bag data/reach2 --robot so101_arm   (MCAP -> LeRobot v3)
  robolearn dataset convert robot-bag data/raw --robot so101_arm   (a `ros2 bag record -s mcap joint_states
      joint_commands` bag of the driver: state = positions + velocities, action = command, robot units)
  robolearn dataset plot data/reach --episode 0 --out episode0.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    sub.add_parser("info", help="episodes, frames, rate, features").add_argument("dataset")
    sub.add_parser("validate", help="read everything and refuse a malformed dataset").add_argument("dataset")
    convert = sub.add_parser("convert", help="LeRobot v3 <-> rosbag2 MCAP (decided by what SRC is)")
    convert.add_argument("src")
    convert.add_argument("dst")
    convert.add_argument("--robot", default="unknown", help="robot_type stored when converting a bag")
    convert.add_argument("--fps", type=float, default=None, help="rate stored when converting a bag "
                                                                  "(default: the bag's median step rate)")
    plot = sub.add_parser("plot", help="a PNG of an episode's states and actions over its measured time")
    plot.add_argument("dataset")
    plot.add_argument("--episode", type=int, default=0)
    plot.add_argument("--out", required=True, help="PNG file to write")


def run(args: argparse.Namespace) -> int:
    from robolearn.data import lerobot_format as lr

    if args.action in ("info", "validate"):
        summary = lr.validate_dataset(args.dataset)
        if args.action == "validate":
            print(f"{args.dataset}: valid LeRobot v3 dataset, {summary['episodes']} episodes, {summary['frames']} frames")
        else:
            for key, value in summary.items():
                print(f"{key:>14}: {value}")
        return 0
    if args.action == "convert":
        return _convert(Path(args.src), Path(args.dst), args.robot, args.fps)
    return _plot(Path(args.dataset), args.episode, Path(args.out))


def _convert(src: Path, dst: Path, robot: str, fps: float | None) -> int:
    from robolearn.data import lerobot_format as lr
    from robolearn.data import rosbag

    if (src / "meta" / "info.json").is_file():
        rosbag.export_bag(lr.read_dataset(src), dst)
    elif (src / "metadata.yaml").is_file() and _is_driver_bag(src):
        names, episode = rosbag.import_driver_bag(src)
        rate = fps or 1.0 / float(np.median(np.diff(episode.times)))
        lr.write_dataset(dst, [episode], rate, robot, state_names=names,
                         action_names=[n[:-4] for n in names[: len(names) // 2]])
    elif (src / "metadata.yaml").is_file():
        episodes = rosbag.import_bag(src)
        if not episodes:
            raise ValueError(f"{src}: the bag holds no episodes")
        if fps is None:
            steps = np.concatenate([np.diff(e.times) for e in episodes if len(e) > 1])
            fps = 1.0 / float(np.median(steps)) if len(steps) else 1.0
        lr.write_dataset(dst, episodes, fps, robot)
    else:
        raise ValueError(f"{src} is neither a LeRobot v3 dataset (meta/info.json) nor a rosbag2 bag (metadata.yaml)")
    print(f"converted {src} -> {dst}")
    return 0


def _is_driver_bag(src: Path) -> bool:
    """A bag of the driver's topics (joint_states) rather than one `export_bag` wrote (episode markers)."""
    text = (src / "metadata.yaml").read_text(errors="replace")
    return "joint_states" in text and "topic_name: episode" not in text


def _plot(root: Path, index: int, out: Path) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from robolearn.data.lerobot_format import read_dataset, read_info

    total = read_info(root)["total_episodes"]
    if not 0 <= index < total:
        raise ValueError(f"--episode {index} is out of range: {root} has episodes 0..{total - 1}")
    e = read_dataset(root, episodes=[index], images=False)[0]
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(9, 6))
    top.plot(e.times, e.states[:-1])
    top.set_ylabel("state")
    bottom.plot(e.times, e.applied_actions)
    bottom.set_prop_cycle(None)
    bottom.plot(e.times, e.requested_actions, linestyle=":")
    for t, human in zip(e.times, e.interventions):
        if human:
            bottom.axvline(t, color="orange", alpha=0.15)
    bottom.set_ylabel("action (applied —, requested ··)")
    bottom.set_xlabel("measured time [s] (orange: human steps)")
    top.set_title(f"{root.name} episode {index}: {len(e)} steps at {e.achieved_rate_hz:.1f} Hz")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    print(f"wrote {out}")
    return 0
