"""Deploy install vs the learning install: size on disk and import time of the policy node's modules.

Sizes: the requirement closure of `robolearn[hardware]` (what a robot installs) and of `robolearn[all]`,
resolved through the installed distributions' metadata and summed over the files each one installed
(its RECORD), so no download is needed; the same for `robolearn[hardware]` as it was before the split
(REFERENCE commit's pyproject.toml, when torch and gymnasium were base dependencies).
Start-up time: a fresh interpreter doing what the policy node does before its first command (import the
node and onnxruntime, describe the arm, build the policy's task), from this tree with the learning stack
made unimportable (as on a deploy install) and from the REFERENCE tree (git archive) with everything
installed, in alternating rounds; the median of each and their ratio. ROS (rclpy) is loaded in both.

    /work/main/.venv/bin/python bench/bench_deploy_install.py [--rounds 7] [--reference 50cf161]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from importlib import metadata
from io import BytesIO
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
LEARNING = ("torch", "pybullet", "gymnasium", "tensorboard", "matplotlib")

# What the policy node does before its first command: import the node, the ONNX runtime, describe the robot
# (spec and safety with its workspace model) and build the policy's task. `describe` differs per tree.
START = """
import importlib.abc, json, sys, time
BLOCKED = set(sys.argv[1].split(",")) if sys.argv[1] else set()


class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name.split(".")[0])


sys.meta_path.insert(0, NotInstalled())
start = time.perf_counter()
import robolearn_drivers.ros.policy_node
from robolearn.export.runtime import PolicyRuntime
from robolearn_drivers.core.policy_loop import _task_for
%s
_task_for("robolearn/ArmReach-v0")
elapsed = time.perf_counter() - start
print(json.dumps({"s": elapsed, "modules": len(sys.modules),
                  "learning": sorted(m for m in %r if m in sys.modules)}))
"""
DESCRIBE_NOW = "from robolearn.robots.registry import robot_definition\nrobot_definition('so101_arm').describe()"
DESCRIBE_BEFORE = ("from robolearn_drivers.core.robot_definition import robot_definition\n"
                   "robot_definition('so101_arm')")


def closure(requirements: list[str], project: dict) -> tuple[dict[str, int], list[str]]:
    """Installed size (bytes) of every distribution the requirements pull in, and the ones not installed."""
    sizes: dict[str, int] = {}
    missing: list[str] = []
    pending = [(Requirement(r), "") for r in requirements]
    while pending:
        req, extra = pending.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(req.name)
        if name == "robolearn":  # the project's own extras, from the pyproject being measured
            for e in req.extras:
                pending += [(Requirement(r), "") for r in project["optional-dependencies"][e]]
            continue
        if name not in sizes:
            try:
                dist = metadata.distribution(name)
            except metadata.PackageNotFoundError:
                missing.append(name)
                continue
            sizes[name] = sum(f.stat().st_size for f in (dist.locate_file(p) for p in dist.files or ())
                              if f.is_file())
            pending += [(Requirement(r), "") for r in dist.requires or () if "extra ==" not in r]
        for e in req.extras:  # the requirement's own extras, e.g. rclpy[fastrtps]
            dist = metadata.distribution(name)
            pending += [(Requirement(r), e) for r in dist.requires or () if "extra ==" in r]
    return sizes, sorted(set(missing))


def install(pyproject: dict, extras: list[str]) -> tuple[dict[str, int], list[str]]:
    project = pyproject["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    return closure(requirements, project)


def start_once(root: Path, describe: str, blocked: tuple[str, ...]) -> dict:
    path = os.pathsep.join(str(root / p) for p in ("", "sim", "drivers"))
    env = {**os.environ, "PYTHONPATH": path}
    out = subprocess.run([sys.executable, "-c", START % (describe, LEARNING), ",".join(blocked)], env=env,
                         capture_output=True, text=True, cwd=tempfile.gettempdir())
    if out.returncode != 0:
        raise SystemExit(f"the policy node's start-up failed in {root}:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--reference", default="50cf161", help="commit before the deploy/learn split")
    args = parser.parse_args()

    now = tomllib.loads((REPO / "pyproject.toml").read_text())
    before = tomllib.loads(subprocess.run(["git", "show", f"{args.reference}:pyproject.toml"], cwd=REPO,
                                          capture_output=True, text=True, check=True).stdout)
    print("Install size (installed files of the requirement closure, this environment's versions)")
    rows = [("deploy: robolearn[hardware]", now, ["hardware"]),
            (f"deploy before ({args.reference}): robolearn[hardware]", before, ["hardware"]),
            ("full: robolearn[all]", now, ["all"])]
    totals = {}
    for label, pyproject, extras in rows:
        sizes, missing = install(pyproject, extras)
        totals[label] = sum(sizes.values())
        top = sorted(sizes.items(), key=lambda kv: -kv[1])[:4]
        print(f"  {label:<44} {totals[label] / 2**20:8.0f} MiB  {len(sizes):3d} distributions; largest "
              + ", ".join(f"{n} {s / 2**20:.0f}" for n, s in top) + (f"; not installed here: {missing}" if missing
                                                                         else ""))
    deploy = totals[rows[0][0]]
    print(f"  ratio before/deploy {totals[rows[1][0]] / deploy:.1f}x, full/deploy {totals[rows[2][0]] / deploy:.1f}x")

    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "archive", args.reference], cwd=REPO, capture_output=True, check=True).stdout
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        # The deploy install lacks the learning stack: block it there, as tests/test_deploy_path.py does.
        trees = {"deploy (this tree)": (REPO, DESCRIBE_NOW, LEARNING + ("pybullet_data",)),
                 f"before ({args.reference})": (Path(tmp), DESCRIBE_BEFORE, ())}
        for tree in trees.values():
            start_once(*tree)  # warm the file cache
        times: dict[str, list[float]] = {k: [] for k in trees}
        last: dict[str, dict] = {}
        for i in range(args.rounds):
            for label in (list(trees) if i % 2 == 0 else list(trees)[::-1]):
                last[label] = start_once(*trees[label])
                times[label].append(last[label]["s"])
    print(f"\nPolicy node start-up in a fresh interpreter: import the node and onnxruntime, describe so101_arm, "
          f"build its task (median of {args.rounds} alternating rounds)")
    for label in trees:
        print(f"  {label:<24} {statistics.median(times[label]) * 1e3:7.0f} ms  {last[label]['modules']:5d} modules; "
              f"learning stack imported: {last[label]['learning'] or 'none'}")
    a, b = (statistics.median(times[k]) for k in trees)
    print(f"  ratio before/deploy {b / a:.1f}x")


if __name__ == "__main__":
    main()
