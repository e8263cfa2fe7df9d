"""What a robot-side install costs against the full one: size on disk and import time of the policy node's
modules, in two fresh virtual environments built from this checkout side by side.

    deploy: pip install ".[hardware]"            (numpy, pyyaml, onnxruntime + serial/servo SDKs/OpenCV)
    full:   pip install torch==2.13.0 ".[dev]"   (what every machine installed before the `learn` extra)

The import is the policy node's path without ROS (PolicyLoop with its task and robot definition,
PolicyRuntime, the hardware factory); in the full install `import robolearn` also registers the gymnasium
envs, as it always did. Import times are the median of --repeats fresh interpreters, run alternately.

    python bench/bench_deploy_install.py --repeats 7 [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
INSTALLS = {"deploy": ([], ".[hardware]"), "full": (["torch==2.13.0"], ".[dev]")}
POLICY_NODE_IMPORTS = ("import robolearn_drivers.core.policy_loop, robolearn.export.runtime, "
                       "robolearn.hardware.factory")


def build(root: Path, name: str) -> Path:
    first, spec = INSTALLS[name]
    venv = root / name
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    if first:
        subprocess.run(pip + first, check=True)
    subprocess.run(pip + [spec], cwd=REPO, check=True)
    return venv / "bin" / "python"


def site_packages_mb(python: Path) -> float:
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    total = sum(f.stat().st_size for f in Path(site).rglob("*") if f.is_file() and not f.is_symlink())
    return total / 2**20


def import_seconds(python: Path) -> float:
    started = time.perf_counter()
    # Run from a neutral directory so the installed package, not the checkout, is imported.
    subprocess.run([str(python), "-c", POLICY_NODE_IMPORTS], check=True, cwd=tempfile.gettempdir(),
                   env={**os.environ, "PYTHONPATH": ""})
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="build the environments here and keep them")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="robolearn_installs_"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        pythons = {name: build(root, name) for name in INSTALLS}
        sizes = {name: site_packages_mb(python) for name, python in pythons.items()}
        times: dict[str, list[float]] = {name: [] for name in pythons}
        for _ in range(args.repeats):  # alternate, so machine load hits both alike
            for name, python in pythons.items():
                times[name].append(import_seconds(python))
        medians = {name: statistics.median(values) for name, values in times.items()}
        print(json.dumps({
            "site_packages_mb": {k: round(v, 1) for k, v in sizes.items()},
            "size_deploy_over_full": round(sizes["deploy"] / sizes["full"], 3),
            "import_s_median": {k: round(v, 3) for k, v in medians.items()},
            "import_deploy_over_full": round(medians["deploy"] / medians["full"], 3),
            "command": f"python bench/bench_deploy_install.py --repeats {args.repeats}",
        }, indent=2))
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
