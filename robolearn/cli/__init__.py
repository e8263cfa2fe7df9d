"""`robolearn` command line: one subcommand per module in this package.

Each module exposes `add_arguments(parser)` and `run(args) -> int`; they are imported only when their
subcommand runs, so `robolearn --help` stays fast and a missing optional dependency only affects its
own command.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from robolearn.cli.errors import TrainingDiverged, TrainingInterrupted, report

COMMANDS = {
    "demo": ("robolearn.cli.demo", "run every sim task with a scripted controller through the safety layer"),
    "train": ("robolearn.cli.train", "train a learner on a task (sac, avg, fpg, lipbc)"),
    "eval": ("robolearn.cli.evaluate", "evaluate a checkpoint on a task"),
    "export": ("robolearn.cli.export", "export a checkpoint's policy to ONNX (and C), verified"),
    "calibrate": ("robolearn.cli.calibrate", "calibrate motors, camera intrinsics or hand-eye"),
    "doctor": ("robolearn.cli.doctor", "check a servo bus against the calibration (never moves anything)"),
    "vision": ("robolearn.cli.vision", "record frames, pretrain an image encoder, train a reward classifier"),
    "main": ("robolearn.cli.main_job", "the README's main job: demo, train, evaluate, export"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="robolearn", description="Real-robot learning stack.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        if argv and argv[0] not in ("-h", "--help"):
            parser.print_help(sys.stderr)
            print(f"\nrobolearn: unknown command {argv[0]!r}; choose one of {sorted(COMMANDS)}", file=sys.stderr)
            return 2
        parser.print_help()
        return 0
    module_name, help_text = COMMANDS[argv[0]]
    try:
        module = importlib.import_module(module_name)
        # The module docstring's body (examples, notes) follows the options in --help, laid out as written.
        details = (module.__doc__ or "").strip().split("\n\n", 1)
        cmd_parser = argparse.ArgumentParser(prog=f"robolearn {argv[0]}", description=help_text,
                                             epilog=details[1] if len(details) > 1 else None,
                                             formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(cmd_parser)
        args = cmd_parser.parse_args(argv[1:])
        return int(module.run(args) or 0)
    except (ValueError, OSError, RuntimeError, ImportError, ArithmeticError, KeyboardInterrupt,
            TrainingInterrupted, TrainingDiverged) as exc:
        # Library errors carry what was wrong and what to do; show that, not a traceback.
        message, code = report(argv[0], exc)
        print(message, file=sys.stderr)
        return code


if __name__ == "__main__":
    raise SystemExit(main())
