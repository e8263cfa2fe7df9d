"""The deploy path runs without the learning stack: with torch, PyBullet and gymnasium impossible to import,
an exported ONNX policy drives the real arm code over a virtual Feetech bus on a pseudo-terminal, through
the policy node's loop and the safety layer (workspace box by numpy forward kinematics)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TASK = "robolearn/ArmReach-v0"

DEPLOY = r'''
import importlib.abc, json, sys

BLOCKED = {"torch", "pybullet", "pybullet_data", "gymnasium", "tensorboard", "matplotlib"}


class NotInstalled(importlib.abc.MetaPathFinder):
    """As on a robot-side install: these packages are simply absent."""

    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name.split(".")[0])


sys.meta_path.insert(0, NotInstalled())
sys.path.insert(0, sys.argv[3])  # tests/, for the virtual servo bus

import numpy as np

from robolearn.calibration.motors import ArmCalibration, MotorCalibration
from robolearn.hardware import make_hardware_robot
from robolearn_drivers.core.policy_loop import PolicyLoop
from virtual_devices.bus_families import FAMILIES, TEST_LATENCY_MS

joints = ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper")
family = FAMILIES["feetech"]
ids = {name: i + 1 for i, name in enumerate(joints)}
calibration = ArmCalibration(robot="so101_arm", bus=family.name, motors=tuple(
    MotorCalibration(name=n, id=ids[n], model=family.model, resolution=4096, homing_offset=2048, direction=1,
                     range_min=300, range_max=3800) for n in joints)).save(sys.argv[2] + "/arm.yaml")
loop = PolicyLoop.load(sys.argv[1], "so101_arm")
report = {"commands": [], "positions": []}
with family.virtual({i: family.number for i in ids.values()}) as device:
    robot = make_hardware_robot("so101_arm", device.path, calibration, latency_ms=TEST_LATENCY_MS)
    with robot:
        obs = robot.observe()
        robot.safety.reset(robot.now())
        for _ in range(15):
            obs = robot.observe()
            command = loop.command_for(obs)
            applied = robot.send_action(command)
            report["commands"].append(np.asarray(applied).tolist())
            report["positions"].append(np.asarray(obs["joint_pos"]).tolist())
            robot.wait()
        report["workspace"] = type(robot.safety.workspace).__module__
        report["stopped"] = bool(robot.last_decision.stopped)
report["imported"] = sorted(m for m in BLOCKED if m in sys.modules)
try:
    import rclpy  # noqa: F401  (the ROS nodes, where the ROS wheels are installed)
except ImportError:
    report["ros_nodes"] = "rclpy not installed"
else:
    import robolearn_drivers.ros.driver_node, robolearn_drivers.ros.policy_node, robolearn_drivers.ros.ros_robot  # noqa
    report["ros_nodes"] = "imported"
report["imported"] = sorted(m for m in BLOCKED if m in sys.modules)
print(json.dumps(report))
'''


@pytest.fixture(scope="module")
def arm_policy(tmp_path_factory) -> Path:
    """A small fixed network for the arm, exported by the library's exporter (which needs torch: here only)."""
    import gymnasium as gym
    import torch

    import robolearn  # noqa: F401
    from robolearn.export.onnx_export import export_policy

    env = gym.make(TASK).unwrapped
    torch.manual_seed(0)
    policy = torch.nn.Sequential(torch.nn.Linear(env.observation_space.shape[0], env.action_space.shape[0]),
                                 torch.nn.Tanh())
    path = tmp_path_factory.mktemp("deploy") / "arm_policy.onnx"
    try:
        export_policy(policy, env, path, task_id=TASK, parity_samples=64)
    finally:
        env.close()
    return path


def test_an_exported_policy_drives_the_arm_with_torch_pybullet_and_gymnasium_absent(arm_policy, tmp_path):
    result = subprocess.run([sys.executable, "-c", DEPLOY, str(arm_policy), str(tmp_path), str(REPO / "tests")],
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["imported"] == [], f"the deploy path imported {report['imported']}"
    assert report["workspace"] == "robolearn.robots.workspace"
    commands = report["commands"]
    assert len(commands) == 15 and all(len(c) == 6 for c in commands)
    assert not report["stopped"]
    # The policy moved the arm: the commands change, and the servos followed them.
    import numpy as np

    assert np.abs(np.diff(np.array(commands), axis=0)).max() > 1e-3
    assert np.abs(np.array(report["positions"][-1]) - np.array(report["positions"][0])).max() > 1e-3
    assert report["ros_nodes"] in ("imported", "rclpy not installed")


@pytest.mark.parametrize("command", [["train", "PendulumBalance"], ["eval", "checkpoint.pt"], ["export", "c.pt"]])
def test_a_deploy_install_asked_to_learn_names_the_extra(command):
    blocker = DEPLOY.split("sys.meta_path.insert(0, NotInstalled())")[0]
    code = blocker + "sys.meta_path.insert(0, NotInstalled())\nfrom robolearn.cli import main\nsys.exit(main(sys.argv[1:]))"
    result = subprocess.run([sys.executable, "-c", code, *command], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    assert "pip install 'robolearn[learn]'" in result.stderr and "Traceback" not in result.stderr
