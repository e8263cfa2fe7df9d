"""The wheel works outside the checkout: it carries calibration/ and configs/, and an installed robolearn
finds them (a simulated robot needs its limits.yaml) and trains from any working directory."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

pytest.importorskip("setuptools")

REPO = Path(__file__).resolve().parents[1]
DATA_FOLDERS = ("calibration", "configs")
SKIP = shutil.ignore_patterns(".git", ".venv", "build", "runs", "*.egg-info", "__pycache__", ".pytest_cache")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    # Built from a copy, so the checkout gets no build/ or egg-info and a stale build/ cannot leak in.
    source = tmp_path_factory.mktemp("source") / "robolearn"
    shutil.copytree(REPO, source, ignore=SKIP)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                    "-q", "-w", str(out), str(source)], check=True, capture_output=True, text=True, timeout=300)
    (built,) = out.glob("robolearn-*.whl")
    return built


def test_the_wheel_carries_every_calibration_and_config_file(wheel):
    with zipfile.ZipFile(wheel) as archive:
        shipped = {name.split(".data/data/", 1)[1] for name in archive.namelist() if ".data/data/" in name}
    expected = {f"share/robolearn/{path.relative_to(REPO)}" for folder in DATA_FOLDERS
                for path in (REPO / folder).rglob("*") if path.is_file()}
    assert expected, "no data files found in the checkout"
    missing = sorted(expected - shipped)
    assert not missing, f"add these to [tool.setuptools.data-files] in pyproject.toml: {missing}"


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """The wheel installed into a fresh prefix whose dependencies come from this interpreter."""
    prefix = tmp_path_factory.mktemp("installed") / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(prefix)], check=True, timeout=120)
    site_packages = Path(sysconfig.get_path("purelib", vars={"base": str(prefix), "platbase": str(prefix)}))
    # The dependencies come from this interpreter's site-packages; a path added by a .pth file does not run
    # that folder's own .pth files, so this checkout's editable install stays invisible.
    (site_packages / "dependencies.pth").write_text(
        "\n".join(p for p in sys.path if p.endswith("site-packages")) + "\n")
    # --ignore-installed: without it pip would uninstall this interpreter's own (editable) robolearn first.
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--ignore-installed", "-q",
                    "--prefix", str(prefix), str(wheel)], check=True, capture_output=True, text=True, timeout=300)
    subprocess.run([sys.executable, "-c", "import robolearn"], check=True, timeout=120)  # ours is intact
    return prefix


def test_an_installed_wheel_finds_its_data_and_trains_outside_the_checkout(installed, tmp_path):
    prefix = installed
    python = prefix / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ROBOLEARN_CALIBRATION_DIR")}
    where = subprocess.run(
        [str(python), "-c", "import robolearn.safety.limits as l, robolearn.cli.main_job as m; "
                            "print(l.__file__); print(l.calibration_dir()); print(m.CONFIG_DIR)"],
        cwd=tmp_path, env=env, check=True, capture_output=True, text=True, timeout=120).stdout.split()
    module, calibration, configs = map(Path, where)
    assert module.is_relative_to(prefix), f"imported {module}, not the installed copy"
    assert calibration == prefix / "share" / "robolearn" / "calibration"
    assert configs == prefix / "share" / "robolearn" / "configs"
    assert (configs / "sac_main.yaml").is_file()

    run = subprocess.run([str(python), "-m", "robolearn", "train", "PendulumBalance", "--algo", "avg",
                          "--steps", "200", "--run-dir", str(tmp_path / "run"), "--no-progress"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert any((tmp_path / "run").rglob("*.pt")), "training wrote no checkpoint"


NODE_SCRIPTS = ("robolearn-driver", "robolearn-sim", "robolearn-policy", "robolearn-camera", "robolearn-train-on-robot",
                "robolearn-record-on-robot", "robolearn-keyboard-joy")


@pytest.mark.ros
def test_every_node_has_a_console_script_and_the_sim_starts_by_name(installed, tmp_path):
    """pip install gives each ROS node an executable by name (no colcon); robolearn-sim, run from outside the
    checkout with the installed copy, publishes joint_states over real DDS."""
    from ros_helpers import require_ros, ros_client, wait_for

    require_ros()
    from sensor_msgs.msg import JointState

    from robolearn_drivers.ros import qos

    missing = [name for name in NODE_SCRIPTS if not (installed / "bin" / name).is_file()]
    assert not missing, f"add these to [project.scripts] in pyproject.toml: {missing}"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ROBOLEARN_CALIBRATION_DIR")}
    log = tmp_path / "sim.log"
    ns = "/by_name"
    with ros_client("by_name_client") as client, log.open("w") as out:
        states = client.collect(JointState, f"{ns}/joint_states", qos.STATE_SUB)
        node = subprocess.Popen([str(installed / "bin" / "robolearn-sim"), "--ros-args", "-p",
                                 "robot_model:=pendulum", "-r", f"__ns:={ns}"], cwd=tmp_path, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            try:
                wait_for(lambda: len(states) > 5, 60, "joint_states from robolearn-sim")
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{log.read_text()[-3000:]}") from None
        finally:
            os.killpg(node.pid, signal.SIGINT)
            try:
                node.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(node.pid, signal.SIGKILL)
                node.wait(5)
    assert node.returncode == 0, log.read_text()[-3000:]
    assert "driving pendulum (simulated)" in log.read_text()
