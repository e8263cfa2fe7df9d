"""Test-only helpers for the ROS 2 tests: isolation check, node processes, and an in-test rclpy client.

Nodes run as real separate processes (`python -m robolearn_drivers.ros.<node> --ros-args ...`) in their own
process group, torn down with SIGINT and then SIGKILL, so no test leaks a process. The client node runs
on its own rclpy Context with an executor thread. Never imported by the library.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "drivers" / "config"
DOMAIN_ID = int(os.environ.setdefault("ROS_DOMAIN_ID", "42"))
os.environ.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")


def isolation_mode() -> str | None:
    """How DDS traffic is kept on this machine, or None if it is not (then the ROS tests must not run)."""
    interfaces = {name for _, name in socket.if_nameindex()}
    if interfaces == {"lo"}:
        return "loopback-only network namespace"
    if os.environ.get("ROS_AUTOMATIC_DISCOVERY_RANGE") == "LOCALHOST":
        return "ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST"
    return None


def require_ros() -> str:
    """Skip (with the reason) unless rclpy imports and DDS is isolated; returns the isolation mode."""
    try:
        import rclpy  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"rclpy cannot be imported here ({exc}); the ROS 2 wheels are x86_64-only")
    mode = isolation_mode()
    if mode is None:
        pytest.skip("DDS is not isolated: run inside `unshare -n` (tests/run.sh does) or set "
                    "ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST")
    return mode


class NodeProcess:
    """One node as a child process; `stop()` sends SIGINT (the node stops its robot), then kills the group."""

    def __init__(self, module: str, params_file: Path | None = None, params: dict[str, Any] | None = None,
                 namespace: str = "", remaps: dict[str, str] | None = None, wrapper: str | None = None) -> None:
        ros_args = []
        if params_file is not None:
            ros_args += ["--params-file", str(params_file)]
        for key, value in (params or {}).items():
            ros_args += ["-p", f"{key}:={_param_text(value)}"]
        if namespace:
            ros_args += ["-r", f"__ns:={namespace}"]
        for src, dst in (remaps or {}).items():
            ros_args += ["-r", f"{src}:={dst}"]
        # `wrapper`: a module that sets something up and then runs `module` (python -m wrapper module ...).
        launcher = ["-m", wrapper, module] if wrapper else ["-m", module]
        self.command = [sys.executable, *launcher, "--ros-args", *ros_args]
        self._log = tempfile.NamedTemporaryFile("w+", prefix=module.rsplit(".", 1)[-1] + "_", suffix=".log",
                                                delete=False)
        env = dict(os.environ, PYTHONUNBUFFERED="1", ROS_DOMAIN_ID=str(DOMAIN_ID), OMP_NUM_THREADS="1")
        self.process = subprocess.Popen(self.command, stdout=self._log, stderr=subprocess.STDOUT, env=env,
                                        cwd=REPO, start_new_session=True, preexec_fn=_die_with_parent)

    def output(self) -> str:
        return Path(self._log.name).read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> int:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        # Children the node may have started share its group; make sure none outlives the test.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL: the node gets no chance to say goodbye (a crashed policy, a pulled cable)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def __enter__(self) -> "NodeProcess":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
        os.unlink(self._log.name)


def _die_with_parent() -> None:
    """Linux: the node gets SIGKILL if the test process dies without tearing it down (a killed CI job)."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _param_text(value: Any) -> str:
    """A -p value: parsed as YAML by rcl, so booleans are lower case and an empty string is quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if str(value) != "" else '""'


class RosClient:
    """An rclpy node in the test process, on its own Context, spun by a background thread."""

    def __init__(self, name: str = "test_client") -> None:
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor

        self.context = Context()
        rclpy.init(context=self.context, domain_id=DOMAIN_ID)
        self.node = rclpy.create_node(name, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._running = True
        self._thread.start()

    def _spin(self) -> None:
        while self._running and self.context.ok():
            self.executor.spin_once(timeout_sec=0.02)

    def collect(self, msg_type, topic: str, qos) -> list:
        """Subscribe and return the list the messages are appended to (with their receive time)."""
        received: list = []

        def on_msg(msg) -> None:
            with self._lock:
                received.append((time.monotonic(), msg))

        self.node.create_subscription(msg_type, topic, on_msg, qos)
        return received

    def publisher(self, msg_type, topic: str, qos):
        return self.node.create_publisher(msg_type, topic, qos)

    def call(self, srv_type, name: str, timeout: float = 10.0):
        client = self.node.create_client(srv_type, name)
        if not client.wait_for_service(timeout_sec=timeout):
            raise AssertionError(f"service {name} did not appear within {timeout} s")
        future = client.call_async(srv_type.Request())
        deadline = time.monotonic() + timeout
        while not future.done():
            if time.monotonic() > deadline:
                raise AssertionError(f"service {name} did not answer within {timeout} s")
            time.sleep(0.01)
        return future.result()

    def close(self) -> None:
        self._running = False
        self._thread.join(5)
        self.node.destroy_node()
        self.context.try_shutdown()


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, process: NodeProcess | None = None) -> Any:
    """Poll until `predicate()` is truthy; on timeout fail with `what` and the node's output."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    detail = f"\n--- node output ---\n{process.output()[-3000:]}" if process is not None else ""
    raise AssertionError(f"timed out after {timeout} s waiting for {what}{detail}")


def latest_status(diagnostics, name: str) -> dict:
    """The newest values of the diagnostic status `name` among the collected /diagnostics messages ({} if none)."""
    from robolearn_drivers.ros.conversions import diagnostic_values

    for _, message in reversed(list(diagnostics)):
        values = diagnostic_values(message).get(name)
        if values is not None:
            return values
    return {}


@contextlib.contextmanager
def ros_client(name: str = "test_client") -> Iterator[RosClient]:
    client = RosClient(name)
    try:
        yield client
    finally:
        client.close()


_EXPORTED: dict[str, Path] = {}


def exported_pendulum_policy(tmp_path_factory) -> Path:
    """A PD balance law for the pendulum, exported once per session with the library's own exporter.

    action = tanh(-(10 angle + 2 rate) / 2); the export's affine map onto +-2 N·m makes it a PD torque law
    that keeps the simulated pendulum upright (and it falls without it).
    """
    if "pendulum_pd" not in _EXPORTED:
        import gymnasium as gym
        import torch

        from robolearn.export.onnx_export import export_policy

        torch.set_num_threads(1)
        path = tmp_path_factory.mktemp("policies") / "pendulum_pd.onnx"
        env = gym.make("robolearn/PendulumBalance-v0").unwrapped
        try:
            layer = torch.nn.Linear(2, 1)
            with torch.no_grad():
                layer.weight.copy_(torch.tensor([[-5.0, -1.0]]))
                layer.bias.zero_()
            export_policy(torch.nn.Sequential(layer, torch.nn.Tanh()), env, path,
                          task_id="robolearn/PendulumBalance-v0", parity_samples=64)
        finally:
            env.close()
        _EXPORTED["pendulum_pd"] = path
    return _EXPORTED["pendulum_pd"]
