"""HIL-SERL in the sim: SAC with a (simulated) human taking over, against SAC with the same number of
offline expert transitions only.

Arm "interventions": SAC (configs/sac_main.yaml, no scripted demonstrations) trains inside
InterventionWrapper(SimulatedHuman): the task's scripted expert takes over when the policy's action and the
expert's differ by more than --threshold (max-norm) for --reaction steps in a row (a reaction delay), holds
on until they agree, and gives at most --budget steps per episode, in the share --attention of episodes it
watches at all (default every one). Arm "offline demos": the same
SAC seeded with exactly as many scripted-expert transitions as the first arm's human gave, and no human.
Both are evaluated without any human every --eval-every steps (deterministic, 5 episodes).

Two more arms take the human's very transitions without the human, to tell what the data teaches from what
the takeover costs: "human data upfront" (all of them as offline demos from the first step) and "human data
on schedule" (each added to the demo side at the step it arrived in the first arm, while the policy drives
every step itself).

Reported per seed and as the median over seeds: env steps to the expert's return (the first evaluation
within 5% of the expert-minus-zero-action gap below the expert's return; the same criterion for every arm),
in simulated minutes at the task's control rate; robot steps, which add to an offline arm's steps the ones
its demonstrations took to record (a human's steps are env steps already); and the intervention rate by
fifths of training (it should fall as the policy improves). The arms run interleaved per seed in one
process, so machine load hits them alike.

    PYTHONPATH=.:sim python bench/bench_interventions.py --task ArmReach --seeds 3 --steps 12000
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from robolearn.data.transitions import Transitions, collect_demonstrations  # noqa: E402
from robolearn.learners.run import evaluate_policy  # noqa: E402
from robolearn.learners.sac import SAC, SACConfig  # noqa: E402
from robolearn.teleop import SimulatedHuman  # noqa: E402
from robolearn.teleop.intervention import InterventionWrapper  # noqa: E402
from robolearn.teleop.sources import expert_of  # noqa: E402
from robolearn.training import make_env  # noqa: E402

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def reference_returns(task: str, episodes: int = 5) -> tuple[float, float]:
    """(scripted expert, zero action) returns on the evaluation seeds."""
    env = make_env(task)
    try:
        expert = evaluate_policy(env, expert_of(env), episodes)["return_mean"]
        zero = evaluate_policy(env, lambda obs: np.zeros(env.action_space.shape), episodes)["return_mean"]
    finally:
        env.close()
    return expert, zero


def train_arm(task: str, config: SACConfig, steps: int, human: dict | None,
              arrivals: tuple[Transitions, list[tuple[int, int]]] | None = None) -> dict:
    """SAC on `task` for `steps` env steps, with a simulated `human` overseeing it, or fed `arrivals`
    (transitions, [(env step, how many of them have arrived by then)]) into its intervention buffer on that
    schedule. Trains in one-episode chunks so the schedule of the human's transitions is recorded (and
    replayed) to within an episode."""
    env = make_env(task)
    if human is not None:
        env = InterventionWrapper(env, SimulatedHuman(None, expert_of(env), **human))
    chunk = env.spec.max_episode_steps or 100
    evals: list = []
    rates: list = []
    schedule: list[tuple[int, int]] = []
    try:
        learner = SAC(env, config, "cpu")
        fed = 0
        started = time.perf_counter()
        while learner.steps_done < steps:
            if arrivals is not None:
                data, arrived = arrivals
                due = max([n for step, n in arrived if step <= learner.steps_done], default=0)
                if due > fed:
                    learner.interventions.add_transitions(take(data, fed, due))
                    fed = due
            learner.train(min(learner.steps_done + chunk, steps), run_dir=None, progress=False)
            history = learner.logger.history
            evals += history.get("eval/return", [])
            rates += history.get("train/intervention_rate", [])
            if human is not None:
                schedule.append((learner.steps_done, len(learner.interventions)))
        buffer, n = learner.interventions, len(learner.interventions)
        human_data = Transitions(buffer.observations[:n], buffer.actions[:n], buffer.rewards[:n],
                                 buffer.next_observations[:n], buffer.terminated[:n], buffer.truncated[:n])
        return {"evals": evals, "rates": rates, "human_steps": n if human is not None else 0,
                "human_data": human_data, "schedule": schedule, "wall_s": time.perf_counter() - started}
    finally:
        env.close()


def take(data: Transitions, start: int, stop: int) -> Transitions:
    """Transitions start..stop-1 of `data`."""
    return Transitions(*(None if getattr(data, f.name) is None else getattr(data, f.name)[start:stop]
                         for f in dataclasses.fields(Transitions)))


def steps_to(evals: list[tuple[int, float]], target: float) -> int | None:
    return next((step for step, value in evals if value >= target), None)


def fifths(rates: list[tuple[int, float]], steps: int) -> list[float]:
    bins = [[r for s, r in rates if k * steps / 5 < s <= (k + 1) * steps / 5] for k in range(5)]
    return [round(float(np.mean(b)), 3) if b else float("nan") for b in bins]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="ArmReach")
    parser.add_argument("--config", default=str(CONFIGS / "sac_main.yaml"))
    parser.add_argument("--steps", type=int, default=12_000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--eval-every", type=int, default=1000)
    parser.add_argument("--threshold", type=float, default=0.5, help="max |policy - expert| the human tolerates")
    parser.add_argument("--reaction", type=int, default=6, help="steps of disagreement before taking over")
    parser.add_argument("--budget", type=int, default=50, help="human steps per episode at most (attention)")
    parser.add_argument("--attention", type=float, default=1.0, help="share of episodes the human watches")
    parser.add_argument("--demo-episodes", type=int, default=0,
                        help="scripted demonstration episodes both arms start with (HIL-SERL starts with ~20); "
                             "the offline arm gets as many more transitions as the human gave the other")
    args = parser.parse_args()
    torch.set_num_threads(1)

    rate_hz = make_env(args.task).unwrapped.robot.spec.control_rate_hz
    expert_return, zero_return = reference_returns(args.task)
    target = expert_return - 0.05 * abs(expert_return - zero_return)
    base = dataclasses.replace(SACConfig.from_yaml(args.config), eval_every=args.eval_every, eval_episodes=5,
                               checkpoint_every=10**9, intervention_buffer_size=args.steps)  # keeps every one
    human = {"threshold": args.threshold, "reaction_steps": args.reaction, "budget": args.budget,
             "attention": args.attention}
    print(f"{args.task} at {rate_hz:g} Hz: expert return {expert_return:.2f}, zero action {zero_return:.2f}, "
          f"target {target:.2f}; human {human}", flush=True)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            seeded = dataclasses.replace(base, seed=seed, demos="expert" if args.demo_episodes else "none",
                                         demo_episodes=args.demo_episodes)
            hil = train_arm(args.task, seeded, args.steps, dict(human, seed=seed))
            n = hil["human_steps"]
            demo_env = make_env(args.task)
            length = demo_env.spec.max_episode_steps
            # The first demo_episodes are the very episodes SAC's own collection gives the other arm (same seeds).
            demos = collect_demonstrations(demo_env, args.demo_episodes + max(-(-n // length), 1),
                                           seed=seed + 1_000_000)
            demo_env.close()
            path = Path(tmp) / f"demos-{seed}.npz"
            keep = args.demo_episodes * length + max(n, 1)
            take(demos, 0, keep).save(path)
            # The same scripted episodes to start from, then the human's transitions instead of more expert ones.
            upfront_path = Path(tmp) / f"human-{seed}.npz"
            Transitions.concatenate([take(demos, 0, args.demo_episodes * length), hil["human_data"]]).save(upfront_path)
            arms = {"hil": hil,
                    "offline": train_arm(args.task, dataclasses.replace(base, seed=seed, demos=str(path)),
                                         args.steps, None),
                    "upfront": train_arm(args.task, dataclasses.replace(base, seed=seed, demos=str(upfront_path)),
                                         args.steps, None),
                    "on_schedule": train_arm(args.task, seeded, args.steps, None,
                                             arrivals=(hil["human_data"], hil["schedule"]))}
            # Robot steps: recording offline demonstrations took the robot's time too (the scripted episodes
            # both arms start with are left out: they are the same for every arm).
            recorded = {"hil": 0, "offline": keep - args.demo_episodes * length, "upfront": n, "on_schedule": 0}
            row = {"seed": seed, "human_steps": n, "intervention_rate_by_fifth": fifths(hil["rates"], args.steps)}
            for name, arm in arms.items():
                reached = steps_to(arm["evals"], target)
                row[f"{name}_steps_to_expert"] = reached
                row[f"{name}_robot_steps"] = None if reached is None else reached + recorded[name]
                row[f"{name}_final_return"] = arm["evals"][-1][1] if arm["evals"] else None
                row[f"{name}_evals"] = [round(v, 1) for _, v in arm["evals"]]
            row["wall_s"] = [round(arm["wall_s"]) for arm in arms.values()]
            rows.append(row)
            print(json.dumps(row), flush=True)

    def minutes(steps: int | None) -> str:
        return "not reached" if steps is None else f"{steps} steps = {steps / rate_hz / 60:.1f} simulated min"

    def upper_median(values: list) -> int | None:
        # A seed that never reached it counts as later than every one that did.
        return sorted(values, key=lambda s: float("inf") if s is None else s)[len(values) // 2]

    labels = {"hil": "SAC + simulated human", "offline": "SAC + as many scripted expert transitions",
              "upfront": "SAC + the human's transitions, offline from the start",
              "on_schedule": "SAC + the human's transitions as they arrived, no takeover"}
    for arm, label in labels.items():
        reached = [r[f"{arm}_steps_to_expert"] for r in rows]
        got = sum(s is not None for s in reached)
        finals = ", ".join(f"{r[f'{arm}_final_return']:.1f}" for r in rows)
        print(f"{label}: reached the expert's return in {got}/{len(rows)} seeds; median "
              f"{minutes(upper_median(reached))}; robot steps incl. recording "
              f"{upper_median([r[f'{arm}_robot_steps'] for r in rows])}; final returns {finals}")
    first = [r["intervention_rate_by_fifth"][0] for r in rows]
    last = [r["intervention_rate_by_fifth"][-1] for r in rows]
    print(f"intervention rate, first fifth of training {np.nanmean(first):.3f} -> last fifth {np.nanmean(last):.3f}")


if __name__ == "__main__":
    main()
