"""System identification: does the fit recover known parameters, and does the fitted sim track the robot?

For the arm (STS3215 servo model) and the diff-drive base (Create 2 wheel model), a sim "robot" runs with
known changed parameters (`base_gain`: the base with weaker motors and less grip too, fitting mass, gain
and friction together); `robolearn sysid`'s excitation is recorded on it, and the fit (CMA-ES) starts
from the nominal sim. Reported: each parameter's true and identified value and its error (% of the true
value; absolute where the truth is 0), and the trajectory error on a second, held-out recording (another
start state and amplitude) of the fitted sim divided by that of the nominal sim (the ratio; below 1 the
fit helps), as RMS over the measured channels.

    OMP_NUM_THREADS=1 PYTHONPATH=.:sim .venv/bin/python bench/bench_sysid.py [--budget 300] \
        [--robots arm,base,base_gain]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from dataclasses import dataclass, field

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from robolearn.sim2real.excitation import ExcitationConfig, excite  # noqa: E402
from robolearn.sim2real.sysid import LATENCY, Replayer, fit, sim_robot_for  # noqa: E402
from robolearn_sim import Perturbation, make_robot  # noqa: E402

@dataclass(frozen=True)
class Case:
    robot: str
    options: dict  # make_robot keywords: the actuator model
    truth: Perturbation  # the "real" robot's parameters
    training: ExcitationConfig
    held_out: ExcitationConfig
    start: dict = field(default_factory=dict)  # reset options
    parameters: tuple[str, ...] | None = None  # None: the fit's defaults


ARM = Case("so101_arm", {"actuator": "sts3215"},
           Perturbation(mass_scale=1.25, gain_scale=0.85, joint_damping=0.03, joint_friction=0.02,
                        action_latency_steps=1),
           ExcitationConfig(), ExcitationConfig(amplitude=0.07, segment_s=2.0))
BASE = Case("diffdrive_base", {"actuator": "create2", "walls": []},
            Perturbation(mass_scale=1.3, action_latency_steps=1),
            ExcitationConfig(segment_s=4.0), ExcitationConfig(amplitude=0.3, segment_s=3.0),
            {"base_pose": [0.0, 0.0, 0.0]})
CASES = {
    "arm": ARM,
    "base": BASE,
    # weaker motors too, fitting mass and gain together: only their ratio is determined
    "base_gain": dataclasses.replace(BASE, truth=dataclasses.replace(BASE.truth, gain_scale=0.8, friction_scale=0.7),
                                     parameters=("mass_scale", "gain_scale", "friction_scale", "action_latency_steps")),
}


def record(robot_name: str, options: dict, truth: Perturbation, config: ExcitationConfig, seed: int,
           start: dict):
    with make_robot(robot_name, perturbation=truth, **options) as robot:
        robot.reset(seed=seed, options=start)
        return excite(robot, config, {"source": "sim", "sim": {"options": options}})


def trajectory_rms(recording, perturbation: Perturbation) -> float:
    with sim_robot_for(recording) as sim:
        replay = Replayer(recording, sim)
        errors = replay.errors(replay.rollout(perturbation)) / replay.scale
        return float(np.sqrt(np.mean(errors ** 2)))


def run_case(name: str, budget: int, seed: int) -> None:
    case = CASES[name]
    truth = case.truth
    training = record(case.robot, case.options, truth, case.training, seed, case.start)
    held_out = record(case.robot, case.options, truth, case.held_out, seed + 1, case.start)
    began = time.perf_counter()
    result = fit(training, case.parameters, budget=budget, seed=seed)
    elapsed = time.perf_counter() - began
    print(f"\n{name} ({case.robot}, {case.options['actuator']}): {len(training)} training steps, {len(held_out)} held "
          f"out; fit {elapsed:.0f} s, {result.evaluations} rollouts, converged={result.converged} "
          f"({result.stop_reasons})")
    print(f"  {'parameter':24s} {'true':>9s} {'fitted':>9s} {'error':>10s}")
    errors = []
    for parameter in result.parameters:
        true, got = float(getattr(truth, parameter.field)), result.values[parameter.name]
        error = f"{100 * abs(got - true) / abs(true):8.1f} %" if true else f"{abs(got - true):9.3g} "
        errors.append(abs(got - true) / abs(true) if true else None)
        print(f"  {parameter.name:24s} {true:9.4g} {got:9.4g} {error:>10s}")
    if {"mass_scale", "gain_scale"} <= set(result.values):
        # Where the motors' strength and the load only act as their ratio (a base's acceleration), a fit can
        # trade one against the other: their ratio is what the recording determines.
        true_ratio = truth.mass_scale / truth.gain_scale
        ratio = result.values["mass_scale"] / result.values["gain_scale"]
        print(f"  {'mass_scale/gain_scale':24s} {true_ratio:9.4g} {ratio:9.4g} "
              f"{100 * abs(ratio - true_ratio) / true_ratio:8.1f} %")
    if LATENCY in result.values:
        print(f"  {LATENCY:24s} {truth.action_latency_steps:9d} {result.values[LATENCY]:9d} "
              f"{'exact' if result.values[LATENCY] == truth.action_latency_steps else 'WRONG':>10s}")
    nominal, fitted = trajectory_rms(held_out, Perturbation()), trajectory_rms(held_out, result.perturbation)
    print(f"  held-out trajectory error (RMS, channel-scaled): nominal sim {nominal:.4g}, fitted sim {fitted:.4g}, "
          f"ratio fitted/nominal {fitted / nominal:.3g}")
    print(f"  training loss ratio fitted/nominal {result.improvement:.3g}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=int, default=300, help="rollouts per CMA-ES run")
    parser.add_argument("--robots", default="arm,base", help="comma-separated: arm, base, base_gain")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for name in args.robots.split(","):
        run_case(name.strip(), args.budget, args.seed)


if __name__ == "__main__":
    main()
