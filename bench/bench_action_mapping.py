"""What latency costs a reach controller, by how its action becomes a joint target (evidence for a design change).

ArmReach's action today is a step from the *measured* joint position (PositionDeltaTask): with d steps of
command or measurement latency every step starts from a stale position, so any controller, the scripted
expert included, advances about one step per d + 1 ticks and overshoots. This bench runs the task's scripted
expert on the sim arm under latency with three mappings, on the same episode seeds, and reports the true
return (robolearn.envs.privileged.TrueReward) and its retention (perturbed / nominal):

- measured:        target = measured position + step (today's PositionDeltaTask);
- integrated:      target = previous target + step, kept within --window of the measured position; the expert
                   still computes its step from the measured position;
- integrated+cmd:  the same, with the expert computing its step from the previous target (the command it
                   knows it sent), as a policy could if its observation carried its last command.

The alternative mappings exist only here (patched in for the run): the library's mapping, the ONNX graph
and the generated C are unchanged.

    PYTHONPATH=.:sim python bench/bench_action_mapping.py --episodes 10
"""

from __future__ import annotations

import argparse
import contextlib
from typing import Iterator

import numpy as np

from robolearn.data.transitions import scripted_expert
from robolearn.envs.privileged import TrueReward
from robolearn.spec import Observation
from robolearn.tasks.base import PositionDeltaTask, task_of
from robolearn.tasks.reach import ReachTask
from robolearn.training import make_env

SWEEP = {"nominal": {}, "servo_lag (2 steps)": {"action_latency_steps": 2},
         "servo_lag_3": {"action_latency_steps": 3}, "stale_sensors (1 step)": {"measurement_latency_steps": 1},
         "stale_sensors_2": {"measurement_latency_steps": 2},
         "lag_and_stale": {"action_latency_steps": 1, "measurement_latency_steps": 1}}


@contextlib.contextmanager
def mapping(name: str, window: float) -> Iterator[None]:
    """Patch PositionDeltaTask (and the reach expert) to `name`'s mapping for the duration of the block."""
    to_command, expert_action = PositionDeltaTask.action_to_command, ReachTask.expert_action

    def integrated(self, action, obs, spec):
        step = self.max_delta * np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        measured = np.asarray(obs["joint_pos"], dtype=np.float64)[: spec.action_size]
        previous = getattr(self, "_previous_target", None)
        reference = measured if previous is None else np.clip(previous, measured - window, measured + window)
        self._previous_target = np.clip(reference + step, spec.command_low, spec.command_high)
        return self._previous_target

    def from_command(self, obs, spec):
        previous = getattr(self, "_previous_target", None)
        if previous is None:
            return expert_action(self, obs, spec)
        values = dict(obs.values, joint_pos=previous)
        return expert_action(self, Observation(timestamp=obs.timestamp, values=values), spec)

    try:
        if name != "measured":
            PositionDeltaTask.action_to_command = integrated
        if name == "integrated+cmd":
            ReachTask.expert_action = from_command
        yield
    finally:
        PositionDeltaTask.action_to_command, ReachTask.expert_action = to_command, expert_action


def true_return(perturbation: dict, episodes: int, seed: int) -> float:
    env = TrueReward(make_env("ArmReach", randomize={"perturbation": perturbation}))
    task, expert = task_of(env), scripted_expert(env)
    returns = []
    try:
        for episode in range(episodes):
            obs, _ = env.reset(seed=seed + episode)
            task._previous_target = None  # a new episode starts from the measured position
            total, done = 0.0, False
            while not done:
                obs, _, terminated, truncated, info = env.step(expert(obs))
                total += info["true_reward"]
                done = terminated or truncated
            returns.append(total)
    finally:
        env.close()
    return float(np.mean(returns))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=10_000, help="first episode seed (the robustness report's)")
    parser.add_argument("--window", type=float, default=0.15,
                        help="rad: how far an integrated target may lead the measured position")
    args = parser.parse_args()
    print(f"ArmReach, scripted expert, {args.episodes} episodes, true return (retention)")
    print(f"{'perturbation':24s}" + "".join(f"{m:>24s}" for m in ("measured", "integrated", "integrated+cmd")))
    results = {}
    for name in ("measured", "integrated", "integrated+cmd"):
        with mapping(name, args.window):
            results[name] = {p: true_return(v, args.episodes, args.seed) for p, v in SWEEP.items()}
    for perturbation in SWEEP:
        cells = [f"{results[m][perturbation]:8.1f} ({results[m][perturbation] / results[m]['nominal']:.2f})"
                 for m in results]
        print(f"{perturbation:24s}" + "".join(f"{c:>24s}" for c in cells))


if __name__ == "__main__":
    main()
