"""`robolearn export CHECKPOINT -o policy.onnx [--task ID] [--c-out policy.c]`: a verified ONNX policy.

The ONNX file is written only if onnxruntime matches PyTorch on the task's observations. With --c-out, a
dependency-free C file is generated from the ONNX file and, where a C compiler is installed, compiled and
checked against onnxruntime on the same inputs; a C file that disagrees is not kept.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path, help="a checkpoint written by `robolearn train`")
    parser.add_argument("-o", "--output", type=Path, default=Path("policy.onnx"), help="ONNX file to write")
    parser.add_argument("--task", default=None,
                        help="task env: gymnasium id or robolearn short name, e.g. ArmReach (default: the env "
                             "recorded in the checkpoint)")
    parser.add_argument("--c-out", type=Path, default=None, help="also write the policy as dependency-free C")
    parser.add_argument("--parity-samples", type=int, default=4096,
                        help="inputs on which onnxruntime must match PyTorch (default 4096)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the rollouts that draw the parity inputs")


def run(args: argparse.Namespace) -> int:
    from robolearn.export.onnx_export import export_checkpoint

    result = export_checkpoint(args.checkpoint, args.output, env_id=args.task, parity_samples=args.parity_samples,
                               seed=args.seed)
    meta = result.metadata
    print(f"wrote {result.path} ({result.path.stat().st_size / 1024:.0f} KiB, opset {meta.opset}): {meta.algo} "
          f"policy for {meta.robot} on {meta.task_id}, {meta.obs_dim} features -> {meta.action_dim} "
          f"{meta.command_kind.value} commands at {meta.control_rate_hz:g} Hz")
    print(f"parity onnxruntime vs PyTorch: {result.parity.describe()}")
    if args.c_out is not None:
        from robolearn.export.c_build import write_verified_c

        print(write_verified_c(result, args.c_out))
    return 0
