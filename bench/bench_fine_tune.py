"""Benchmark fine-tuning from a sim checkpoint (`--init-from`): a SAC or AVG policy trained on the nominal sim
robot is moved to a "robot" with changed parameters and trained on there until it recovers 95% of its nominal
return.

On the arm both robots use the serial-bus servo model (`actuator="sts3215"`), on which link masses and servo
gains matter (the default arm's stiff motors ignore them). Reported: the nominal return, the policy's return
on the changed robot before fine-tuning (and the scripted expert's there), and the env steps and simulated
minutes fine-tuning took to reach 95% of the nominal return, as a ratio of the steps the nominal training took.

Usage (all options have defaults; --config and --actuator default per task and algo, see DEFAULTS):
    python bench/bench_fine_tune.py --seeds 1
    python bench/bench_fine_tune.py --task PendulumBalance --algo avg --steps 3000 --max-steps 6000 \
        --eval-every 500 --changed action_latency_steps=2
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from robolearn.data.transitions import scripted_expert  # noqa: E402
from robolearn.envs.registry import make_env  # noqa: E402
from robolearn.learners.base import learner_class, seed_everything  # noqa: E402
from robolearn.learners.run import evaluate_policy  # noqa: E402
from robolearn.tasks.registry import task_entry  # noqa: E402
from robolearn.training import load_config  # noqa: E402

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
CHANGED = "mass_scale=1.5,gain_scale=0.7"  # heavier links, weaker servos
# (task, algo) -> config file; the arm runs on the servo model, where masses and gains matter.
DEFAULTS = {("robolearn/ArmReach-v0", "sac"): "sac_main.yaml", ("robolearn/ArmReach-v0", "avg"): "avg_arm_reach.yaml",
            ("robolearn/PendulumBalance-v0", "sac"): "sac_small.yaml",
            ("robolearn/PendulumBalance-v0", "avg"): "avg_pendulum_balance.yaml"}
ACTUATORS = {"robolearn/ArmReach-v0": "sts3215"}


def env_for(task: str, actuator: str | None, changed: dict | None = None):
    options = {"actuator": actuator} if actuator else {}
    return make_env(task, perturbation={"perturbation": changed or {}}, **options)


def parse_changes(text: str) -> dict:
    """"mass_scale=1.5,gain_scale=0.7" -> a Perturbation's fields."""
    pairs = [item.split("=", 1) for item in text.split(",") if item.strip()]
    return {name.strip(): float(value) for name, value in pairs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="ArmReach")
    parser.add_argument("--algo", default="sac", choices=["sac", "avg"])
    parser.add_argument("--actuator", help="the sim robot's actuator model (default: sts3215 on the arm, else the "
                                           "robot's default motors; 'none' for those on the arm too)")
    parser.add_argument("--config", help="learner config (default per task and algo: DEFAULTS)")
    parser.add_argument("--steps", type=int, default=18_000, help="nominal training steps")
    parser.add_argument("--max-steps", type=int, default=12_000, help="fine-tuning budget")
    parser.add_argument("--eval-every", type=int, default=1_000)
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--changed", default=CHANGED, help="the changed robot's perturbation, field=value,...")
    args = parser.parse_args()
    changed = parse_changes(args.changed)
    task_id = task_entry(args.task).id
    if args.config is None:
        if (task_id, args.algo) not in DEFAULTS:
            parser.error(f"no default config for {args.algo} on {task_id}: pass --config")
        args.config = str(CONFIGS / DEFAULTS[task_id, args.algo])
    actuator = ACTUATORS.get(task_id) if args.actuator is None else (None if args.actuator == "none" else args.actuator)
    learner_cls = learner_class(args.algo)
    print(f"{task_id}, {args.algo} ({Path(args.config).name}), actuator {actuator or 'default'}: {args.steps} "
          f"nominal steps, then fine-tuning on {changed} for at most {args.max_steps}", flush=True)

    for seed in range(args.seeds):
        config = load_config(learner_cls, args.config, seed)
        with tempfile.TemporaryDirectory() as tmp:
            checkpoint = Path(tmp) / "sim.pt"
            seed_everything(seed)
            env = env_for(args.task, actuator)
            started = time.perf_counter()
            learner = learner_cls(env, config, "cpu")
            learner.train(args.steps, run_dir=None, progress=False)
            learner.save(checkpoint)
            nominal = evaluate_policy(env, learner.act, args.episodes)["return_mean"]
            rate = env.unwrapped.robot.control_rate_hz
            env.close()
            print(f"seed {seed}: nominal training {args.steps} steps in {time.perf_counter() - started:.0f} s, "
                  f"return {nominal:.2f}", flush=True)

            seed_everything(seed)
            robot = env_for(args.task, actuator, changed)
            expert = evaluate_policy(robot, scripted_expert(robot), args.episodes)["return_mean"]
            tuned = learner_cls(robot, config, "cpu")
            start = tuned.init_from(checkpoint)
            before = evaluate_policy(robot, tuned.act, args.episodes)["return_mean"]
            print(start.describe())
            print(f"  changed robot {changed}: policy {before:.2f} before fine-tuning (expert {expert:.2f}); "
                  f"goal {0.95 * nominal:.2f}", flush=True)
            reached, history = None, []
            while tuned.steps_done < args.max_steps and reached is None:
                tuned.train(tuned.steps_done + args.eval_every, run_dir=None, progress=False)
                value = evaluate_policy(robot, tuned.act, args.episodes)["return_mean"]
                history.append((tuned.steps_done, round(value, 2)))
                if value >= 0.95 * nominal:
                    reached = tuned.steps_done
            robot.close()
            print(f"  returns while fine-tuning: {history}")
            if reached is None:
                print(f"  not recovered to 95% within {args.max_steps} steps "
                      f"({args.max_steps / rate / 60:.1f} simulated minutes)")
            else:
                print(f"  recovered 95% of the nominal return after {reached} steps = {reached / rate / 60:.1f} "
                      f"simulated minutes = {reached / args.steps:.2f}x the nominal training's steps")


if __name__ == "__main__":
    main()
