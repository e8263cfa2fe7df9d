"""`robolearn` command line: one subcommand per module in this package.

Each module exposes `add_arguments(parser)` and `run(args) -> int`; they are imported only when their
subcommand runs, so `robolearn --help` stays fast and a missing optional dependency only affects its
own command.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
import threading
from typing import Iterator

from robolearn.cli.errors import report

COMMANDS = {
    "demo": ("robolearn.cli.demo", "run every sim task with a scripted controller through the safety layer"),
    "train": ("robolearn.cli.train", "train a learner on a task (sac, avg, fpg, lipbc)"),
    "eval": ("robolearn.cli.evaluate", "evaluate a checkpoint on a task"),
    "export": ("robolearn.cli.export", "export a checkpoint's policy to ONNX (and C), verified"),
    "calibrate": ("robolearn.cli.calibrate", "calibrate motors, camera intrinsics or hand-eye"),
    "doctor": ("robolearn.cli.doctor", "check a servo bus against the calibration (never moves anything)"),
    "vision": ("robolearn.cli.vision", "record frames, pretrain an image encoder, train a reward classifier"),
    "record": ("robolearn.cli.record", "record episodes (teleop, expert or policy) into a LeRobot v3 dataset"),
    "teleop": ("robolearn.cli.teleop", "drive a task's robot with the keyboard, a gamepad or a SpaceMouse"),
    "dataset": ("robolearn.cli.dataset", "dataset info, validate, convert (LeRobot v3 <-> MCAP), plot"),
    "learner": ("robolearn.cli.learner", "run SAC's updates for a remote actor (--listen HOST:PORT)"),
    "actor": ("robolearn.cli.actor", "run the policy at the control rate, learning from a remote learner"),
    "sysid": ("robolearn.cli.sysid", "excite a robot safely and record it; fit the sim's parameters to the recording"),
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
    with _background_errors(argv[0]) as background:
        code, message = _run_command(argv, module_name, help_text)
    for line in dict.fromkeys(background):  # a writer thread's failure, unless the command said the same
        if line != message:
            print(line, file=sys.stderr)
            code = code or 1
    return code


def _run_command(argv: list[str], module_name: str, help_text: str) -> tuple[int, str | None]:
    """(exit code, the error line printed or None)."""
    try:
        module = importlib.import_module(module_name)
        # The module docstring's body (examples, notes) follows the options in --help, laid out as written.
        details = (module.__doc__ or "").strip().split("\n\n", 1)
        cmd_parser = argparse.ArgumentParser(prog=f"robolearn {argv[0]}", description=help_text,
                                             epilog=details[1] if len(details) > 1 else None,
                                             formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(cmd_parser)
        args = cmd_parser.parse_args(argv[1:])
        return int(module.run(args) or 0), None
    except (ValueError, OSError, RuntimeError, ImportError, ArithmeticError, KeyboardInterrupt) as exc:
        # Library errors carry what was wrong and what to do; show that, not a traceback.
        message, code = report(argv[0], exc)
        print(message, file=sys.stderr)
        return code, message


@contextlib.contextmanager
def _background_errors(command: str) -> Iterator[list[str]]:
    """OS errors in library threads (TensorBoard's event writer on a full disk) as report lines instead of
    a thread traceback; anything else is a bug and keeps the default traceback."""
    lines: list[str] = []
    default = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        if isinstance(args.exc_value, OSError):
            lines.append(report(command, args.exc_value)[0])
        else:
            default(args)

    threading.excepthook = hook
    try:
        yield lines
    finally:
        threading.excepthook = default


if __name__ == "__main__":
    raise SystemExit(main())
