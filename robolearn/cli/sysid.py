"""`robolearn sysid`: excite a robot safely and record it, then fit the simulator to the recording.

`excite` plays a chirp and steps on each command in turn, within the robot's limits file (the whole plan
is checked before anything moves, and refused if any command would leave the limits, the rate limit or
the workspace box), through the robot's SafetyController, and records commands, measurements and true
timestamps into an .npz file. Without --port it excites the sim robot (use --perturb to give the sim
known errors and check that the fit finds them); with --port it drives the real robot from where it
stands. `fit` replays the recording in PyBullet and fits masses, damping, friction, gains and latency
(CMA-ES); it writes the parameter file only when the fit converged and beats the nominal sim, with a
report (<out>.report.yaml) and a plot (<out>.png) beside it. The sim loads the file as a perturbation.

examples:
  robolearn sysid excite so101_arm --out rec.npz --actuator sts3215 --perturb heavy
  robolearn sysid fit rec.npz --out calibration/so101_arm/sim_params.yaml
  robolearn sysid excite so101_arm --port /dev/ttyACM0 --calibration calibration/so101_arm/arm.yaml --out real.npz
  robolearn sysid fit real.npz --out sim_params.yaml --actuator sts3215 \
      --params mass_scale,gain_scale,action_latency_steps
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    excite = sub.add_parser("excite", help="play a safe excitation on a robot and record it")
    excite.add_argument("robot", help="robot name (so101_arm, diffdrive_base, ...) or a task whose robot to excite")
    excite.add_argument("--out", required=True, type=Path, help="the recording to write (.npz)")
    excite.add_argument("--port", help="serial port of the real robot (omit: the sim robot)")
    excite.add_argument("--calibration", help="the real arm's motor calibration file (with --port)")
    excite.add_argument("--limits", help="limits file (default calibration/<robot>/limits.yaml)")
    excite.add_argument("--actuator", help="sim only: actuator model (e.g. sts3215 for the arm, create2 for the base)")
    excite.add_argument("--perturb", help="sim only: perturbation preset or YAML file the sim robot runs with")
    excite.add_argument("--amplitude", type=float, help="fraction of each command's half range (default by kind)")
    excite.add_argument("--segment-s", type=float, default=3.0, help="seconds per excited command (default 3)")
    excite.add_argument("--commands", help="comma-separated commands to excite (default all)")
    excite.add_argument("--seed", type=int, default=0, help="sim only: seed of the start state (default 0)")
    fit = sub.add_parser("fit", help="fit the sim's parameters to a recording")
    fit.add_argument("recording", type=Path, help="a recording from `robolearn sysid excite`")
    fit.add_argument("--out", required=True, type=Path, help="parameter file to write (YAML the sim loads)")
    fit.add_argument("--robot", help="the robot you mean to fit (refuses a recording of another one)")
    fit.add_argument("--params", help="comma-separated, of mass_scale, gain_scale, joint_damping, joint_friction, "
                     "friction_scale, encoder_offset (one per joint), action_latency_steps (default: by robot)")
    fit.add_argument("--actuator", help="the sim's actuator model (default: the one the sim recording used)")
    fit.add_argument("--budget", type=int, default=300, help="rollouts per CMA-ES run (default 300)")
    fit.add_argument("--seed", type=int, default=0, help="CMA-ES seed (default 0)")
    fit.add_argument("--no-plot", action="store_true", help="skip the PNG")


def run(args: argparse.Namespace) -> int:
    return _excite(args) if args.action == "excite" else _fit(args)


def _robot_name(name: str) -> str:
    from robolearn.robots.registry import ROBOT_NAMES

    if name in ROBOT_NAMES:
        return name
    from robolearn.tasks.registry import task_entry

    try:
        return task_entry(name).robot
    except ValueError:
        raise ValueError(f"{name!r} is neither a robot ({list(ROBOT_NAMES)}) nor a task; name one of them") from None


def _excite(args: argparse.Namespace) -> int:
    from robolearn.sim2real.excitation import ExcitationConfig, excite

    robot_name = _robot_name(args.robot)
    commands = tuple(c.strip() for c in args.commands.split(",") if c.strip()) if args.commands else None
    config = ExcitationConfig(amplitude=args.amplitude, segment_s=args.segment_s, commands=commands)
    if args.port:
        if args.actuator or args.perturb:
            raise ValueError("--actuator and --perturb describe a sim robot; a real robot (--port) has its own")
        from robolearn.hardware.factory import make_hardware_robot

        robot = make_hardware_robot(robot_name, args.port, args.calibration, limits=args.limits)
        meta = {"source": "hardware", "port": args.port}
        start = None  # a real robot is excited from where it stands: reset would drive it home first
    else:
        if args.calibration:
            raise ValueError("--calibration describes the real robot: add --port PORT to drive it (without --port "
                             "the sim robot is excited)")
        from robolearn_sim import make_robot

        options = {"actuator": args.actuator} if args.actuator else {}
        robot = make_robot(robot_name, seed=args.seed, limits_path=args.limits, perturbation=args.perturb,
                           **options)
        meta = {"source": "sim", "sim": {"options": options}}
        start = args.seed
    with robot:
        if start is not None:
            robot.reset(seed=start)
            truth = getattr(robot, "perturbation", None)
            if truth is not None:
                meta["sim"]["perturbation"] = truth.to_dict()  # the answer a fit should find
        print(f"exciting {robot_name}: {', '.join(commands or robot.spec.command_names)}, "
              f"{config.segment_s:g} s each, through the safety layer", flush=True)
        recording = excite(robot, config, meta)
    path = recording.save(args.out)
    interventions = recording.meta["excitation"]["interventions"]
    print(f"recorded {len(recording)} steps at {recording.achieved_rate_hz:.1f} Hz into {path}"
          + (f"; safety interventions: {interventions}" if interventions else ""))
    return 0


def _fit(args: argparse.Namespace) -> int:
    from robolearn.sim2real.recording import Recording
    from robolearn.sim2real.sysid import LATENCY, fit, write_fit

    recording = Recording.load(args.recording)
    if args.budget < 10:
        raise ValueError(f"--budget must be at least 10 rollouts, got {args.budget}")
    params = [p.strip() for p in args.params.split(",") if p.strip()] if args.params else None
    print(f"fitting the {recording.robot} sim to {args.recording} ({len(recording)} steps)", flush=True)
    if recording.meta.get("source") == "hardware" and not args.actuator:
        print("note: fitting the sim's default (ideal) motors; --actuator names a servo or wheel model "
              "(e.g. sts3215 for the SO-101's servos), whose lag and sag a real robot has", flush=True)
    result = fit(recording, params, robot=args.robot, actuator=args.actuator, budget=args.budget, seed=args.seed,
                 progress=lambda line: print("  " + line, flush=True))
    print(f"loss: nominal sim {result.nominal_loss:.4g}, fitted {result.loss:.4g} (ratio {result.improvement:.3g}), "
          f"{result.evaluations} rollouts, CMA-ES stopped on {result.stop_reasons}")
    for p in result.parameters:
        print(f"  {p.name:28s} {result.values[p.name]:10.4g} {p.unit:10s} (nominal {p.nominal:g})")
    if LATENCY in result.values:
        print(f"  {LATENCY:28s} {result.values[LATENCY]:10d} steps      (nominal 0)")
    print("RMS error per channel (nominal -> fitted):")
    for channel, value in result.channel_rms.items():
        print(f"  {channel:28s} {result.channel_rms_nominal[channel]:.4g} -> {value:.4g}")
    written = write_fit(result, args.out, args.recording, plot=not args.no_plot)
    print("wrote " + ", ".join(str(p) for p in written.values()))
    return 0
