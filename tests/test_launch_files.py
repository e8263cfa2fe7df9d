"""The launch files, without `launch` (not on PyPI): statically, every executable, package, parameter file
and argument they name exists; then every node they start is started for real over DDS with the same
parameter file and the launch arguments' values, and must come up running (not refusing).
"""

from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from ros_helpers import CONFIG, REPO, NodeProcess, exported_pendulum_policy, require_ros, ros_client, wait_for

LAUNCH_DIR = REPO / "launch"
LAUNCH_FILES = sorted(LAUNCH_DIR.glob("*.launch.py"))
PACKAGE_XML = REPO / "drivers" / "package.xml"
SETUP_PY = REPO / "drivers" / "setup.py"


@dataclass
class LaunchedNode:
    package: str
    executable: str
    name: str
    param_files: list[str]
    overrides: dict[str, str]  # parameter -> launch argument it takes its value from
    condition: str | None = None  # the launch argument of an IfCondition


@dataclass
class LaunchFile:
    path: Path
    arguments: dict[str, str]  # name -> default value
    nodes: list[LaunchedNode] = field(default_factory=list)
    used_arguments: set[str] = field(default_factory=set)


def package_name() -> str:
    import xml.etree.ElementTree as ET

    return ET.parse(PACKAGE_XML).getroot().findtext("name")


def setup_executables() -> dict[str, str]:
    """console_scripts of drivers/setup.py: the NODES table, read without running setup()."""
    tree = ast.parse(SETUP_PY.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "NODES" for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError("drivers/setup.py has no NODES table")


def _call_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Call):
        return getattr(node.func, "id", None) or getattr(node.func, "attr", None)
    return None


def parse_launch(path: Path) -> LaunchFile:
    tree = ast.parse(path.read_text(), str(path))
    constants = {t.id: ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)
                 for t in n.targets if isinstance(t, ast.Name) and isinstance(n.value, ast.Constant)}
    aliases = {}  # local variables bound to LaunchConfiguration("x")
    for n in ast.walk(tree):
        if isinstance(n, ast.Assign) and _call_name(n.value) == "LaunchConfiguration":
            aliases[n.targets[0].id] = n.value.args[0].value

    def value(expr: ast.AST):
        if isinstance(expr, ast.Constant):
            return expr.value
        if isinstance(expr, ast.Name) and expr.id in constants:
            return constants[expr.id]
        raise AssertionError(f"{path.name}:{expr.lineno}: expected a literal, got {ast.unparse(expr)}")

    def argument_of(expr: ast.AST) -> str | None:
        if isinstance(expr, ast.Name) and expr.id in aliases:
            return aliases[expr.id]
        if _call_name(expr) == "LaunchConfiguration":
            return value(expr.args[0])
        if _call_name(expr) == "ParameterValue":
            return argument_of(expr.args[0])
        return None

    launch = LaunchFile(path, {})
    for n in ast.walk(tree):
        name = _call_name(n)
        if name == "DeclareLaunchArgument":
            kw = {k.arg: k.value for k in n.keywords}
            launch.arguments[value(n.args[0])] = value(kw["default_value"])
        elif name == "LaunchConfiguration":
            launch.used_arguments.add(value(n.args[0]))
        elif name == "Node":
            kw = {k.arg: k.value for k in n.keywords}
            files, overrides = [], {}
            for entry in kw["parameters"].elts:
                if _call_name(entry) == "PathJoinSubstitution":
                    parts = entry.args[0].elts
                    assert _call_name(parts[0]) == "FindPackageShare", f"{path.name}: use FindPackageShare"
                    files.append("/".join(value(p) for p in parts[1:]))
                elif isinstance(entry, ast.Dict):
                    for k, v in zip(entry.keys, entry.values):
                        arg = argument_of(v)
                        assert arg is not None, f"{path.name}: parameter {value(k)} must come from an argument"
                        overrides[value(k)] = arg
                else:
                    raise AssertionError(f"{path.name}: unsupported parameters entry {ast.unparse(entry)}")
            condition = None
            if "condition" in kw:
                assert _call_name(kw["condition"]) == "IfCondition", f"{path.name}: only IfCondition is checked"
                condition = argument_of(kw["condition"].args[0])
            launch.nodes.append(LaunchedNode(value(kw["package"]), value(kw["executable"]), value(kw["name"]),
                                             files, overrides, condition))
        elif name == "IncludeLaunchDescription":
            include_launch(launch, n, value, argument_of)
    launch.used_arguments |= set(aliases.values())
    return launch


def include_launch(launch: LaunchFile, call: ast.Call, value, argument_of) -> None:
    """Add the nodes of an included launch file, its arguments renamed to the includer's as passed (an
    argument not passed keeps its own default), so the checks below see what `ros2 launch` would start."""
    source = call.args[0]
    assert _call_name(source) == "PythonLaunchDescriptionSource", f"{launch.path.name}: include a Python file"
    parts = source.args[0].args[0].elts
    assert _call_name(parts[0]) == "FindPackageShare" and value(parts[1]) == "launch", \
        f"{launch.path.name}: include launch files from this package's share/launch"
    included = parse_launch(LAUNCH_DIR / value(parts[-1]))
    passed = {k.arg: k.value for k in call.keywords}.get("launch_arguments")
    renamed = {}
    if passed is not None:
        assert isinstance(passed.func, ast.Attribute) and isinstance(passed.func.value, ast.Dict), \
            f"{launch.path.name}: pass launch_arguments as {{...}}.items()"
        for key, val in zip(passed.func.value.keys, passed.func.value.values):
            assert value(key) in included.arguments, f"{launch.path.name}: {value(key)} is not an argument there"
            renamed[value(key)] = argument_of(val)
    for name, default in included.arguments.items():
        if name not in renamed:
            launch.arguments.setdefault(name, default)
    for node in included.nodes:
        launch.nodes.append(LaunchedNode(
            node.package, node.executable, node.name, node.param_files,
            {param: renamed.get(arg, arg) for param, arg in node.overrides.items()},
            renamed.get(node.condition, node.condition) if node.condition else None))


def started(launch: LaunchFile, arguments: dict[str, str]) -> list[LaunchedNode]:
    values = {**launch.arguments, **arguments}
    return [n for n in launch.nodes if n.condition is None or values[n.condition].lower() == "true"]


def declared_parameters(module: str, seen: set[str] | None = None) -> set[str]:
    """Names the node declares (declare_parameter("x", ...) or a DEFAULTS table), read from its source and
    from the robolearn_drivers.ros modules it builds on (the sim node is the driver node class)."""
    seen = set() if seen is None else seen
    seen.add(module)
    tree = ast.parse(Path(importlib.util.find_spec(module).origin).read_text())
    names = {n.args[0].value for n in ast.walk(tree)
             if _call_name(n) == "declare_parameter" and isinstance(n.args[0], ast.Constant)}
    for n in ast.walk(tree):
        if isinstance(n, ast.Assign) and any(getattr(t, "id", None) == "DEFAULTS" for t in n.targets):
            names |= set(ast.literal_eval(n.value))
        if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("robolearn_drivers.ros.") \
                and n.module not in seen:
            names |= declared_parameters(n.module, seen)
    return names


# ------------------------------------------------------------------------------------ static checks
def test_the_four_launch_files_exist():
    assert {p.name for p in LAUNCH_FILES} >= {"robot.launch.py", "sim.launch.py", "train.launch.py",
                                              "deploy.launch.py"}


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_file_names_only_things_that_exist(path):
    launch = parse_launch(path)
    executables = setup_executables()
    assert launch.nodes, f"{path.name} starts no node"
    assert "namespace" in launch.arguments and "robot_model" in launch.arguments
    undeclared = launch.used_arguments - set(launch.arguments)
    assert not undeclared, f"{path.name} uses undeclared launch arguments {sorted(undeclared)}"
    for node in launch.nodes:
        assert node.package == package_name()
        assert node.executable in executables, f"{path.name}: no executable {node.executable!r} in setup.py"
        module, function = executables[node.executable].split(":")
        spec = importlib.util.find_spec(module)
        assert spec is not None, f"{node.executable} -> {module} is not importable"
        assert f"def {function}(" in Path(spec.origin).read_text()
        for file in node.param_files:
            assert file.startswith("config/") and (CONFIG / file.removeprefix("config/")).is_file(), file
        declared = declared_parameters(module)
        unknown = set(node.overrides) - declared
        assert not unknown, f"{path.name}: {node.executable} does not declare parameters {sorted(unknown)}"


@pytest.mark.parametrize("path", sorted(CONFIG.glob("*.yaml")), ids=lambda p: p.name)
def test_parameter_files_are_well_formed_and_only_set_declared_parameters(path):
    data = yaml.safe_load(path.read_text())
    assert list(data) == ["/**"], "one wildcard section, so any node name and namespace picks it up"
    params = data["/**"]["ros__parameters"]
    users = [n for f in LAUNCH_FILES for n in parse_launch(f).nodes if f"config/{path.name}" in n.param_files]
    modules = {setup_executables()[n.executable].split(":")[0] for n in users}
    # The sim node's own files (`ros2 run robolearn_drivers sim_node`, the tests, the benchmark); the launch
    # files bring the sim up through robot.launch.py with use_sim:=true.
    if path.name in ("pendulum_sim.yaml", "sim.yaml"):
        modules = {"robolearn_drivers.ros.driver_node"}
    assert modules, f"{path.name} is used by no launch file"
    for module in modules:
        unknown = set(params) - declared_parameters(module)
        assert not unknown, f"{path.name}: {module} declares no {sorted(unknown)} (a typo would be ignored)"


def test_colcon_install_layout(tmp_path):
    """What `colcon build` (ament_python) installs: launch files and configs in share/, executables in lib/."""
    import shutil
    import subprocess
    import sys

    src = tmp_path / "src"
    shutil.copytree(REPO / "drivers", src / "drivers", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copytree(LAUNCH_DIR, src / "launch")
    root = tmp_path / "root"
    result = subprocess.run([sys.executable, "setup.py", "-q", "install", "--root", str(root), "--prefix", "/install"],
                            cwd=src / "drivers", capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    share = root / "install" / "share" / package_name()
    assert {p.name for p in (share / "launch").iterdir()} == {p.name for p in LAUNCH_FILES}
    assert {p.name for p in (share / "config").iterdir()} == {p.name for p in CONFIG.glob("*.yaml")}
    assert (root / "install" / "share" / "ament_index" / "resource_index" / "packages" / package_name()).is_file()
    assert {p.name for p in (root / "install" / "lib" / package_name()).iterdir()} >= set(setup_executables())


# ---------------------------------------------------------------------------------- nodes for real
# Launch-argument values for CI: the simulated pendulum stands in for the hardware, a generated video file
# for the camera; the rest are the defaults.
CI_ARGUMENTS = {"use_sim": "true", "robot_model": "pendulum", "task": "robolearn/PendulumBalance-v0",
                "camera": "true"}


def video_file(root: Path) -> Path:
    import cv2
    import numpy as np

    path = root / "camera.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (32, 24))
    for i in range(10):
        writer.write(np.full((24, 32, 3), 20 * i, np.uint8))
    writer.release()
    return path


def node_process(launch: LaunchFile, node: LaunchedNode, namespace: str, extra: dict | None = None,
                 extra_params: dict | None = None) -> NodeProcess:
    """The node as the launch file starts it: its parameter file, then the launch arguments' values."""
    module = setup_executables()[node.executable].split(":")[0]
    arguments = {**launch.arguments, **CI_ARGUMENTS, **(extra or {})}
    params = {param: arguments[arg] for param, arg in node.overrides.items()}
    params.update(extra_params or {})
    (param_file,) = node.param_files
    return NodeProcess(module, CONFIG / param_file.removeprefix("config/"), params=params, namespace=namespace,
                       remaps={"__node": node.name})


def running_statuses(client, namespace: str, names: list[str]):
    from robolearn_drivers.ros.conversions import diagnostic_values

    statuses = {}
    for _, msg in list(client.diags):
        for key, values in diagnostic_values(msg).items():
            statuses[key] = values
    return all(any(k.startswith(f"{namespace}/{n}:") and v["level"] != "2" for k, v in statuses.items())
               for n in names), statuses


@pytest.mark.ros
def test_every_node_of_the_launch_files_runs_with_its_parameter_files(tmp_path_factory):
    """robot, sim and deploy launch files, each in its own namespace, all started side by side."""
    require_ros()
    from diagnostic_msgs.msg import DiagnosticArray

    from robolearn_drivers.ros import qos

    extra = {"policy_path": str(exported_pendulum_policy(tmp_path_factory)),
             "camera_source": str(video_file(tmp_path_factory.mktemp("video")))}
    with ros_client("launch_client") as client:
        expected, processes = {}, []
        try:
            for name in ("robot.launch.py", "sim.launch.py", "deploy.launch.py"):
                launch = parse_launch(LAUNCH_DIR / name)
                namespace = "/launch_" + name.split(".")[0]
                nodes = started(launch, {**CI_ARGUMENTS, **extra})
                diags = client.collect(DiagnosticArray, "/diagnostics", qos.DIAGNOSTICS)
                expected[name] = (namespace, [n.name for n in nodes], diags)
                processes += [node_process(launch, n, namespace, extra) for n in nodes]
            for name, (namespace, names, diags) in expected.items():
                client.diags = diags
                ok = wait_for(lambda: running_statuses(client, namespace, names)[0], 40,
                              f"{name}: {names} to report running", processes[0])
                assert ok, running_statuses(client, namespace, names)[1]
            assert all(p.alive() for p in processes)
        finally:
            for p in processes:
                p.__exit__(None, None, None)


@pytest.mark.ros
@pytest.mark.slow
@pytest.mark.parametrize("async_actor", [False, True], ids=["in_loop", "async_actor"])
def test_train_launch_trains_on_the_sim_robot_through_ros(tmp_path, async_actor):
    """async_actor: the RosRobot control loop runs in the actor process, the updates in the trainer's."""
    require_ros()
    launch = parse_launch(LAUNCH_DIR / "train.launch.py")
    namespace = "/launch_train"
    by_exe = {n.executable: n for n in launch.nodes}
    run_dir = tmp_path / "run"
    driver = node_process(launch, by_exe["driver_node"], namespace)
    # `steps` is not a launch argument; CI shortens the run through the same parameter mechanism.
    trainer = node_process(launch, by_exe["train_on_robot"], namespace, {"run_dir": str(run_dir)},
                           {"steps": 40, "device": "cpu", "async_actor": async_actor})
    with driver, trainer:
        deadline = time.monotonic() + 60
        while trainer.alive() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert trainer.process.poll() == 0, trainer.output()[-3000:]
        assert (run_dir / "checkpoint.pt").is_file()
        assert "checkpoint" in trainer.output()
        # the actor process reports its control loop when it ends: only the async path has one
        assert ("weights version" in trainer.output()) == async_actor


@pytest.mark.ros
@pytest.mark.slow
def test_train_launch_acts_for_a_learner_on_another_machine(tmp_path):
    """learner_address: train_on_robot only acts (RosRobot at the control rate) for a `robolearn learner
    --listen` elsewhere (here a second process on loopback), which trains and checkpoints."""
    require_ros()
    launch = parse_launch(LAUNCH_DIR / "train.launch.py")
    namespace = "/launch_remote"
    by_exe = {n.executable: n for n in launch.nodes}
    key = tmp_path / "link.key"
    key.write_text("ab" * 32)
    run_dir = tmp_path / "learner_run"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    learner = subprocess.Popen([sys.executable, "-m", "robolearn", "learner", CI_ARGUMENTS["task"], "--algo", "avg",
                                "--listen", "127.0.0.1:0", "--key-file", str(key), "--steps", "60",
                                "--run-dir", str(run_dir), "--no-progress"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO)
    try:
        seen = ""
        while "listening on" not in seen:
            line = learner.stdout.readline()
            assert line, seen
            seen = line if "listening on" in line else seen + line
        address = seen.split("listening on ")[1].split()[0]
        driver = node_process(launch, by_exe["driver_node"], namespace)
        actor = node_process(launch, by_exe["train_on_robot"], namespace,
                             {"learner_address": address, "key_file": str(key)}, {"steps": 60, "device": "cpu"})
        with driver, actor:
            deadline = time.monotonic() + 60
            while actor.alive() and time.monotonic() < deadline:
                time.sleep(0.2)
            assert actor.process.poll() == 0, actor.output()[-3000:]
            assert "weights version 0" not in actor.output() and "60 ticks" in actor.output(), actor.output()[-2000:]
        out, _ = learner.communicate(timeout=60)
        assert learner.returncode == 0, out
        assert (run_dir / "checkpoint.pt").is_file()
    finally:
        learner.kill()


@pytest.mark.ros
def test_the_managed_launch_file_brings_the_lifecycle_driver_to_active():
    """managed_robot.launch.py: the lifecycle driver configures and activates itself (autostart), so it
    publishes state and reports `active`, with no lifecycle manager sending transitions."""
    require_ros()
    from lifecycle_msgs.srv import GetState
    from sensor_msgs.msg import JointState

    from robolearn_drivers.ros import qos

    launch = parse_launch(LAUNCH_DIR / "managed_robot.launch.py")
    (node,) = started(launch, CI_ARGUMENTS)
    assert node.executable == "lifecycle_driver_node" and launch.arguments["autostart"] == "true"
    namespace = "/launch_managed"
    with ros_client("managed_launch_client") as client, node_process(launch, node, namespace) as process:
        states = client.collect(JointState, f"{namespace}/joint_states", qos.STATE_SUB)
        wait_for(lambda: len(states) > 3, 30, "joint_states from the autostarted driver", process)
        service = client.node.create_client(GetState, f"{namespace}/{node.name}/get_state")
        assert service.wait_for_service(timeout_sec=20), "get_state did not appear"
        future = service.call_async(GetState.Request())
        answer = wait_for(lambda: future.done() and (future.result(),), 20, "get_state", process)[0]
        assert answer.current_state.label == "active"
