"""Actor and learner apart vs today's in-loop updates, same script, same seeds.

1. Control-loop timing while SAC learns at UTD 4 (the SERL recipe's defaults: 10 critics of 256x256, batch
   256, utd 4; demos none, learning_starts 100): the sim
   arm (ArmReach) at 30 Hz and the pendulum (PendulumBalance) at 60 Hz, --ticks ticks once learning has
   started. In-loop: Learner.training_step (env step + one update round) inside each tick. Async: the actor
   process ticks (policy inference only), the learner (this process) runs the same rounds apart, capped at
   one round per transition so both learn from the same update-to-data ratio. Reported: p99 tick-start
   lateness (jitter) and missed deadlines (a tick starting over one period late), and async/in-loop ratios.
2. Wall-clock to the scripted expert's return on ArmReach (configs/sac_main.yaml), per seed: synchronous
   `Learner.train` (as fast as the sim goes) vs async (actor at --async-rate Hz, sim faster than real time,
   learner uncapped), until an evaluation (every --eval-every steps, 5 episodes) reaches --fraction of the
   scripted expert's return, or --budget-s runs out.

    OMP_NUM_THREADS=1 PYTHONPATH=.:sim python bench/bench_async.py [--ticks 300] [--seeds 0 1 2] [--skip-timing]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from robolearn.learners.base import seed_everything  # noqa: E402
from robolearn.learners.run import evaluate_policy  # noqa: E402
from robolearn.learners.sac import SAC, SACConfig  # noqa: E402
from robolearn.link.actor import control_loop  # noqa: E402
from robolearn.link.learner import LearnerServer  # noqa: E402
from robolearn.link.local import train_async  # noqa: E402
from robolearn.training import Started, make_env  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ARM, PENDULUM = "robolearn/ArmReach-v0", "robolearn/PendulumBalance-v0"


def main_config(**changes) -> SACConfig:
    return dataclasses.replace(SACConfig.from_yaml(ROOT / "configs/sac_main.yaml"), **changes)


def timing_figures(lateness_s: list[float], period_s: float) -> dict:
    late = np.asarray(lateness_s)
    return {"p99_ms": round(float(np.percentile(late, 99)) * 1e3, 2), "missed": int((late > period_s).sum()),
            "ticks": len(late)}


def in_loop_timing(task: str, rate_hz: float, ticks: int, config: SACConfig) -> dict:
    sac = SAC(make_env(task), config, "cpu")
    sac.on_train_start()
    while len(sac.online) < config.learning_starts:  # warm-up, unpaced: the timing starts with learning
        sac.training_step()
    report = control_loop(sac.training_step, 1.0 / rate_hz, ticks)
    return timing_figures(report.lateness_s, 1.0 / rate_hz)


def async_timing(task: str, rate_hz: float, ticks: int, config: SACConfig) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        sac = SAC(make_env(task), config, "cpu")
        report_path = Path(tmp) / "actor.json"
        summary = train_async(Started(sac, Path(tmp) / "checkpoint.pt", ""), config.learning_starts + ticks, tmp,
                              task=task, resume_hint="", rate_hz=rate_hz, utd_cap=1.0, actor_report=str(report_path))
        report = json.loads(report_path.read_text())
    lateness = report["lateness_s"][config.learning_starts:config.learning_starts + ticks]  # while it learned
    return {**timing_figures(lateness, report["period_s"]), "update_to_data": summary["link"]["update_to_data"]}


def expert_return(episodes: int = 5) -> float:
    env = make_env(ARM)
    base = env.unwrapped
    result = evaluate_policy(env, lambda _: base.task.expert_action(base.last_observation, base.robot.spec),
                             episodes, 10_000)
    env.close()
    return result["return_mean"]


class Reached(Exception):
    pass


def time_to_target(mode: str, seed: int, target: float, eval_every: int, budget_s: float, rate_hz: float) -> dict:
    config = main_config(seed=seed, eval_every=eval_every, eval_episodes=5, checkpoint_every=10**9)
    seed_everything(seed)
    sac = SAC(make_env(ARM), config, "cpu")
    started_at = time.monotonic()
    steps = 10**7

    def check() -> None:
        if sac.last_eval is not None and sac.last_eval["return_mean"] >= target:
            raise Reached
        if time.monotonic() - started_at > budget_s:
            raise TimeoutError

    with tempfile.TemporaryDirectory() as tmp:
        try:
            if mode == "sync":
                def step():
                    check()
                    return sac.training_step()

                sac.train(steps, tmp, progress=False, step=step)
            else:
                _async_until(sac, tmp, steps, rate_hz, check)
            outcome = "budget"
        except Reached:
            outcome = "reached"
        except TimeoutError:
            outcome = "budget"
    return {"mode": mode, "seed": seed, "outcome": outcome, "seconds": round(time.monotonic() - started_at, 1),
            "env_steps": sac.env_steps, "updates": sac.updates,
            "last_eval": None if sac.last_eval is None else round(sac.last_eval["return_mean"], 2)}


def _async_until(sac: SAC, run_dir: str, steps: int, rate_hz: float, check) -> None:
    """train_async, with `check` run before every learner step (it raises to end the run)."""
    original = LearnerServer.get_transitions

    def get_transitions(server, timeout):
        check()
        return original(server, timeout)

    LearnerServer.get_transitions = get_transitions  # the benchmark's stopwatch, outside the library
    try:
        train_async(Started(sac, Path(run_dir) / "checkpoint.pt", ""), steps, run_dir, task=ARM, resume_hint="",
                    rate_hz=rate_hz, utd_cap=None)
    finally:
        LearnerServer.get_transitions = original


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ticks", type=int, default=300)
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument("--fraction", type=float, default=0.95, help="of the scripted expert's return")
    parser.add_argument("--eval-every", type=int, default=1000)
    parser.add_argument("--budget-s", type=float, default=300.0, help="per run")
    parser.add_argument("--async-rate", type=float, default=200.0, help="the actor's rate in part 2 (Hz)")
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument("--skip-wallclock", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if not args.skip_timing:
        print("1. control-loop timing while SAC learns at UTD 4 (SACConfig defaults: SERL recipe, demos none)")
        for task, rate in ((ARM, 30.0), (PENDULUM, 60.0)):
            config = SACConfig(utd=4, demos="none", eval_every=10**9, learning_starts=100)
            loop = in_loop_timing(task, rate, args.ticks, config)
            apart = async_timing(task, rate, args.ticks, config)
            print(f"  {task} at {rate:.0f} Hz: in-loop p99 lateness {loop['p99_ms']} ms, {loop['missed']}/"
                  f"{loop['ticks']} missed; async {apart['p99_ms']} ms, {apart['missed']}/{apart['ticks']} missed "
                  f"(measured UTD {apart['update_to_data']} rounds/transition); p99 ratio async/in-loop "
                  f"{apart['p99_ms'] / max(loop['p99_ms'], 1e-9):.3f}", flush=True)
    if not args.skip_wallclock:
        target = args.fraction * expert_return()
        print(f"2. wall-clock to {args.fraction:.0%} of the scripted expert's return ({target:.1f}) on ArmReach")
        for seed in args.seeds:
            for mode in ("sync", "async"):
                result = time_to_target(mode, seed, target, args.eval_every, args.budget_s, args.async_rate)
                print("  " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
