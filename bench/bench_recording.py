"""Recording cost: a recorded control loop against the same loop unrecorded, in the same run (ratios).

Reports (1) loop time recorded / unrecorded on ArmReach (state only), (2) the achieved rate of a
recording with the sim camera against the task's control rate, (3) the dataset write cost per step
(parquet, and parquet + mp4 video).

    PYTHONPATH=.:sim python bench/bench_recording.py [--episodes 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from robolearn.data.episodes import policy_source, record_episode
from robolearn.data.lerobot_format import LeRobotWriter
from robolearn.data.transitions import scripted_expert
from robolearn.envs.registry import make_env


def unrecorded(env, episodes: int) -> tuple[float, int]:
    expert, steps, start = scripted_expert(env), 0, time.perf_counter()
    for seed in range(episodes):
        obs, _ = env.reset(seed=seed)
        done = False
        while not done:
            obs, _, terminated, truncated, _ = env.step(np.clip(expert(obs), -1, 1))
            steps += 1
            done = terminated or truncated
    return time.perf_counter() - start, steps


def recorded(env, episodes: int, out: Path, image: bool) -> tuple[float, float, int, float]:
    """(total seconds, write seconds, steps, achieved Hz of the control loop alone)."""
    spec = env.unwrapped.robot.spec
    n = (env.observation_space["state"] if image else env.observation_space).shape[0]
    writer = LeRobotWriter(out, spec.control_rate_hz, spec.name, [f"s{i}" for i in range(n)], spec.command_names,
                           spec.image_shape if image else None)
    source = policy_source(scripted_expert(env))
    write, steps, rates, start = 0.0, 0, [], time.perf_counter()
    for seed in range(episodes):
        episode = record_episode(env, source, seed=seed)
        t = time.perf_counter()
        writer.add(episode)
        write += time.perf_counter() - t
        steps += len(episode)
        rates.append(episode.achieved_rate_hz)
    return time.perf_counter() - start, write, steps, float(np.median(rates))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore", RuntimeWarning)
    with tempfile.TemporaryDirectory() as tmp:
        env = make_env("ArmReach")
        rate = env.unwrapped.robot.spec.control_rate_hz
        unrecorded(env, 1)  # warm-up
        plain_s, plain_steps = unrecorded(env, args.episodes)
        rec_s, rec_write, rec_steps, _ = recorded(env, args.episodes, Path(tmp) / "state", image=False)
        env.close()
        cam = make_env("ArmReach", image=True)
        cam_plain_s, cam_plain_steps = unrecorded(cam, args.episodes)
        cam_s, cam_write, cam_steps, cam_rate = recorded(cam, args.episodes, Path(tmp) / "camera", image=True)
        cam.close()
    per = lambda s, n: 1e3 * s / n  # noqa: E731  ms per step
    print(f"ArmReach, {args.episodes} episodes, task rate {rate:g} Hz")
    print(f"  unrecorded loop          {per(plain_s, plain_steps):7.3f} ms/step")
    print(f"  recorded (parquet)       {per(rec_s, rec_steps):7.3f} ms/step   ratio {rec_s / rec_steps / (plain_s / plain_steps):.3f}"
          f"   write {per(rec_write, rec_steps):.3f} ms/step")
    print(f"  camera, unrecorded       {per(cam_plain_s, cam_plain_steps):7.3f} ms/step")
    print(f"  camera, recorded (+mp4)  {per(cam_s, cam_steps):7.3f} ms/step   ratio "
          f"{cam_s / cam_steps / (cam_plain_s / cam_plain_steps):.3f}   write {per(cam_write, cam_steps):.3f} ms/step")
    print(f"  camera recording: control loop {cam_rate:.0f} Hz, with writes {cam_steps / cam_s:.0f} Hz "
          f"= {cam_steps / cam_s / rate:.1f}x the task's {rate:g} Hz")


if __name__ == "__main__":
    main()
