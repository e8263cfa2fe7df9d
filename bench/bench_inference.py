"""Batch-1 inference latency and memory of an exported 2x256 MLP policy, four ways, in one run.

    /tmp/venv/bin/python bench/bench_inference.py [--calls 20000] [--chunk 250]

The policy is AVG-shaped (normaliser, 2x256 LeakyReLU, L2-normalised penultimate layer, tanh head) on the
SO-101 reach task (21 features -> 6 joint-position commands), exported with `robolearn export`'s code
path. Each variant maps one float32 feature vector to the command vector:

- torch eager: the exported torch graph under inference_mode
- ort run: onnxruntime `InferenceSession.run`
- ort iobinding: onnxruntime with inputs/outputs bound to preallocated buffers (what PolicyRuntime does)
- PolicyRuntime: the full runtime API (shape and NaN checks, float64 result)
- C (ctypes): the generated C, compiled with -O3, called through ctypes

Calls are interleaved in chunks, rotating the order, so machine load hits every variant alike; ratios to
torch eager are the figures to quote (absolute times drift on a shared machine). Memory: file size on disk
and the RSS increase of a fresh process when it loads the policy and runs it once.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

PERIODS_MS = {"125 Hz": 8.0, "500 Hz": 2.0, "1 kHz": 1.0}


def build_policy(obs_dim: int, act_dim: int, seed: int = 0):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    from robolearn.learners.normalizers import RunningMeanStd

    class Policy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(seed)
            rms = RunningMeanStd((obs_dim,))
            rms.update(np.random.default_rng(seed).normal(0.1, 0.7, (256, obs_dim)))
            self.normalizer = rms.torch_module()
            self.hidden1, self.hidden2 = nn.Linear(obs_dim, 256), nn.Linear(256, 256)
            self.head = nn.Linear(256, 2 * act_dim)

        def forward(self, x):
            h = F.leaky_relu(self.hidden2(F.leaky_relu(self.hidden1(self.normalizer(x)))))
            mean, _ = self.head(F.normalize(h, dim=-1)).chunk(2, dim=-1)
            return torch.tanh(mean)

    return Policy().eval()


def rss_kib() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def measure_rss(variant: str, path: str) -> None:
    """Child process: import what the variant needs, then report the RSS increase of loading + one call."""
    import onnxruntime  # noqa: F401  (imports are not the policy's cost)
    import torch

    torch.set_num_threads(1)
    from robolearn.export.c_build import CPolicy
    from robolearn.export.runtime import PolicyRuntime

    features = np.zeros(int(os.environ["BENCH_OBS_DIM"]), np.float32)
    before = rss_kib()
    if variant == "torch":
        module = build_policy(len(features), int(os.environ["BENCH_ACT_DIM"]))
        module.load_state_dict(torch.load(path, weights_only=True))
        with torch.inference_mode():
            module(torch.from_numpy(features[None]))
    elif variant == "onnxruntime":
        PolicyRuntime(path)(features)
    else:
        CPolicy(path).run(features)
    print(json.dumps({"rss_delta_kib": rss_kib() - before}))


def timed_variants(graph, onnx_path: Path, so_path: Path):
    import onnxruntime as ort
    import torch

    from robolearn.export.c_build import CPolicy
    from robolearn.export.onnx_export import make_session
    from robolearn.export.runtime import PolicyRuntime

    session = make_session(str(onnx_path))
    runtime = PolicyRuntime(onnx_path)
    c_policy = CPolicy(so_path)
    n_obs, n_act = runtime.obs_dim, runtime.action_dim
    bound_in = np.zeros((1, n_obs), np.float32)
    bound_out = np.zeros((1, n_act), np.float32)
    binding = session.io_binding()
    binding.bind_input("features", "cpu", 0, np.float32, [1, n_obs], bound_in.ctypes.data)
    binding.bind_output("command", "cpu", 0, np.float32, [1, n_act], bound_out.ctypes.data)
    assert isinstance(session, ort.InferenceSession)

    def torch_eager(x):
        with torch.inference_mode():
            return graph(torch.from_numpy(x[None]))[1][0].numpy()

    def ort_run(x):
        return session.run(["command"], {"features": x[None]})[0][0]

    def ort_iobinding(x):
        np.copyto(bound_in[0], x)
        session.run_with_iobinding(binding)
        return bound_out[0].copy()

    def c_ctypes(x):
        return c_policy.run(x)[2]

    return {"torch eager": torch_eager, "ort run": ort_run, "ort iobinding": ort_iobinding,
            "PolicyRuntime": runtime, "C (ctypes)": c_ctypes}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20_000, help="timed calls per variant")
    parser.add_argument("--chunk", type=int, default=250, help="calls per variant before switching")
    parser.add_argument("--rss-child", nargs=2, metavar=("VARIANT", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        measure_rss(*args.rss_child)
        return 0

    import gymnasium as gym
    import onnxruntime as ort
    import torch

    import robolearn
    from robolearn.export.c_build import compile_shared
    from robolearn.export.c_codegen import write_c
    from robolearn.export.graph import PolicyGraph
    from robolearn.export.onnx_export import export_policy

    torch.set_num_threads(1)
    load_before = os.getloadavg()
    env = gym.make("robolearn/ArmReach-v0").unwrapped
    spec = env.robot.spec
    obs_dim = env.task.feature_size(spec)
    policy = build_policy(obs_dim, spec.action_size)
    work = Path(tempfile.mkdtemp(prefix="bench_inference_"))
    result = export_policy(policy, env, work / "policy.onnx", task_id="robolearn/ArmReach-v0", parity_samples=1024)
    c_path = write_c(result.path, work / "policy.c")
    so_path = compile_shared(c_path, work / "policy.so", opt="-O3")
    meta = result.metadata
    graph = PolicyGraph(policy, spec, meta.command_mapping, meta.max_delta,
                        meta.block_slice("joint_pos") if meta.max_delta else None)
    torch_path = work / "policy_state.pt"
    torch.save(policy.state_dict(), torch_path)

    variants = timed_variants(graph, result.path, so_path)
    inputs = result.features[np.random.default_rng(0).integers(len(result.features), size=args.chunk)]
    reference = np.stack([variants["torch eager"](x) for x in inputs[:50]])
    for name, fn in variants.items():  # same answer from every variant before timing any of them
        got = np.stack([fn(x) for x in inputs[:50]])
        assert np.abs(got - reference).max() < 1e-4, name
    for fn in variants.values():  # warm-up
        for x in inputs[:200]:
            fn(x)

    times: dict[str, list[int]] = {name: [] for name in variants}
    chunk_medians: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    rounds = max(1, args.calls // args.chunk)
    clock = time.perf_counter_ns
    for r in range(rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:
            fn, bucket = variants[name], times[name]
            for x in inputs:
                t0 = clock()
                fn(x)
                bucket.append(clock() - t0)
            chunk_medians[name].append(float(np.median(bucket[-len(inputs):])))
    load_after = os.getloadavg()

    child_env = dict(os.environ, BENCH_OBS_DIM=str(obs_dim), BENCH_ACT_DIM=str(spec.action_size))
    memory = {}
    for variant, path in (("torch", torch_path), ("onnxruntime", result.path), ("c", so_path)):
        out = subprocess.run([sys.executable, __file__, "--rss-child", variant, str(path)], capture_output=True,
                             text=True, env=child_env, check=True)
        memory[variant] = json.loads(out.stdout.strip().splitlines()[-1])["rss_delta_kib"]

    eager_median = np.median(times["torch eager"])
    print(f"robolearn {robolearn.__version__}, torch {torch.__version__}, onnxruntime {ort.__version__}, "
          f"opset {meta.opset}; 1 thread each")
    print(f"policy: {obs_dim} -> 256 -> 256 -> {spec.action_size} ({meta.command_mapping} commands); "
          f"{rounds} rounds x {args.chunk} calls per variant, interleaved")
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}")
    print(f"{'variant':<15}{'median us':>11}{'p99 us':>9}{'p99.9 us':>10}{'x eager':>9}{'paired':>14}"
          + "".join(f"{'>' + p:>9}" for p in PERIODS_MS))
    eager_chunks = np.asarray(chunk_medians["torch eager"])
    for name in names:
        t = np.asarray(times[name]) / 1000.0
        paired = np.asarray(chunk_medians[name]) / eager_chunks
        misses = "".join(f"{int((t > ms * 1000).sum()):>9}" for ms in PERIODS_MS.values())
        print(f"{name:<15}{np.median(t):>11.1f}{np.percentile(t, 99):>9.1f}{np.percentile(t, 99.9):>10.1f}"
              f"{np.median(times[name]) / eager_median:>9.2f}{np.median(paired):>8.2f}/{paired.max():.2f}{misses}")
    print("paired: median/worst over rounds of (chunk median / torch eager chunk median in the same round); "
          "last columns: calls slower than the control period (deadline misses of inference alone)")
    sizes = {"onnx file": result.path.stat().st_size, "C source": c_path.stat().st_size,
             "C shared library": so_path.stat().st_size, "torch state_dict": torch_path.stat().st_size}
    print("files: " + ", ".join(f"{k} {v / 1024:.0f} KiB" for k, v in sizes.items()))
    print("RSS increase to load and run once: " + ", ".join(f"{k} {v / 1024:.1f} MiB" for k, v in memory.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
