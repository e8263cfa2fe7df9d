"""The ROS-free logic behind the nodes (robolearn_drivers.core): no DDS, no rclpy; real sim robots."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import yaml

from robolearn.robots.registry import robot_definition
from robolearn.safety import load_robot_limits
from robolearn_drivers.core.camera_info import load_intrinsics, projection_matrix
from robolearn_drivers.core.diagnostics import ERROR, OK, WARN, safety_summary
from robolearn_drivers.core.driver_loop import MALFORMED, DriverLoop
from robolearn_drivers.core.errors import ConfigurationError, MalformedMessageError
from robolearn_drivers.core.params import DriverParams
from robolearn_drivers.core.policy_loop import PolicyLoop
from robolearn_drivers.core.robot_factory import build_robot
from robolearn_drivers.core.state_layout import StateLayout
from robolearn_drivers.core.ticker import Ticker


# ------------------------------------------------------------------------------------ parameters
@pytest.mark.parametrize("values, message", [
    ({"robot_model": ""}, "robot_model is empty"),
    ({"robot_model": "pendulum", "use_sim": True, "control_rate_hz": float("nan")}, "control_rate_hz=nan is invalid"),
    ({"robot_model": "pendulum", "use_sim": True, "control_rate_hz": 5000}, "control_rate_hz=5000.0 is invalid"),
    ({"robot_model": "pendulum", "use_sim": True, "control_rate_hz": "fast"}, "must be a number, got 'fast'"),
    ({"robot_model": "so101_arm", "use_sim": False}, "calibration_file is empty"),
    ({"robot_model": "so101_arm", "calibration_file": "/no/such.yaml"}, "/no/such.yaml does not exist"),
    ({"robot_model": "pendulum", "use_sim": True, "limits_file": "/no/limits.yaml"}, "/no/limits.yaml does not exist"),
    ({"robot_model": "pendulum", "use_sim": True, "diagnostics_period_s": 0}, "diagnostics_period_s=0.0"),
])
def test_bad_parameters_are_refused_with_what_to_fix(values, message):
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(").replace(".", r"\.")):
        DriverParams.from_mapping(values)


def test_unknown_model_and_wrong_rate_are_configuration_errors():
    with pytest.raises(ConfigurationError, match="unknown sim robot 'nope'.*pendulum"):
        build_robot(DriverParams.from_mapping({"robot_model": "nope", "use_sim": True}))
    with pytest.raises(ConfigurationError, match="differs from pendulum's 60 Hz"):
        build_robot(DriverParams.from_mapping({"robot_model": "pendulum", "use_sim": True, "control_rate_hz": 100}))
    robot = build_robot(DriverParams.from_mapping({"robot_model": "pendulum", "use_sim": True, "control_rate_hz": 60}))
    assert robot.spec.name == "pendulum" and not robot.is_connected


def test_hardware_without_a_port_is_refused_before_touching_anything(tmp_path):
    calibration = tmp_path / "motors.yaml"
    calibration.write_text("schema_version: 1\n")
    params = DriverParams.from_mapping({"robot_model": "so101_arm", "calibration_file": str(calibration)})
    with pytest.raises(ConfigurationError, match="port is empty"):
        build_robot(params)


# ---------------------------------------------------------------------------------- state layout
def test_joint_layout_parses_commands_and_reorders_named_state():
    spec = robot_definition("so101_arm").spec(load_robot_limits("so101_arm"))
    layout = StateLayout.for_spec(spec)
    assert not layout.is_base and layout.joint_names == spec.joint_names and len(layout.joint_names) == 6
    with pytest.raises(MalformedMessageError, match="has 5 values, expected 6"):
        layout.parse_command([0.0] * 5)
    with pytest.raises(MalformedMessageError, match="not numeric"):
        layout.parse_command(["a"] * 6)
    assert np.isnan(layout.parse_command([np.nan] + [0.0] * 5)[0]), "NaN is the safety layer's to count"
    names = list(reversed(spec.joint_names))
    obs = layout.observation_from_joints(1.0, names, {"joint_pos": np.arange(6.0), "joint_vel": np.zeros(6),
                                                      "joint_effort": np.zeros(6)})
    assert obs["joint_pos"].tolist() == list(reversed(range(6)))
    with pytest.raises(MalformedMessageError, match="not this robot's joints"):
        layout.observation_from_joints(1.0, ["a"] * 6, {"joint_pos": np.zeros(6)})
    with pytest.raises(MalformedMessageError, match="lacks joint_effort"):
        layout.observation_from_joints(1.0, names, {"joint_pos": np.zeros(6), "joint_vel": np.zeros(6)})


def test_base_layout_needs_hazards_before_an_observation():
    spec = robot_definition("diffdrive_base").spec(load_robot_limits("diffdrive_base"))
    layout = StateLayout.for_spec(spec)
    assert layout.is_base and layout.twist_commands and layout.hazard_count == 4
    with pytest.raises(MalformedMessageError, match="expected 4 hazard flags, got none"):
        layout.observation_from_base(0.0, [0, 0, 0], [0, 0], None)
    obs = layout.observation_from_base(0.0, [1, 2, 0.5], [0.1, 0.0], [0, 0, 0, 0])
    obs.check_against(spec)


# ----------------------------------------------------------------------------------- driver loop
@pytest.fixture()
def pendulum_loop():
    robot = build_robot(DriverParams.from_mapping({"robot_model": "pendulum", "use_sim": True}))
    robot.connect()
    loop = DriverLoop(robot, advance_physics=True)
    loop.reset_robot(seed=0)
    yield loop
    loop.shutdown()
    assert not robot.is_connected


def test_only_the_newest_command_is_applied_once_per_tick(pendulum_loop):
    loop = pendulum_loop
    loop.submit([0.3])
    loop.submit([5.0])  # newer: replaces the queued one, then is clipped to 2 N·m and rate limited to 1 per step
    result = loop.step()
    assert result.applied.tolist() == [1.0]
    assert set(result.decision.interventions) == {"command_limit", "rate_limit"}
    before = loop.robot.now()
    loop.step()
    assert loop.robot.now() == pytest.approx(before + 1 / 60), "each tick advances the sim one control period"


def test_malformed_command_is_counted_and_holds_the_robot_until_a_valid_one(pendulum_loop):
    loop = pendulum_loop
    loop.submit([1.0])
    loop.step()
    assert not loop.submit([1.0, 2.0])
    result = loop.step()
    assert result.decision is None and result.applied.tolist() == [0.0], "held: zero torque"
    assert loop.status()["counts"][MALFORMED] == 1 and "expected 1" in loop.status()["last_rejection"]
    assert loop.step().decision is None, "stays held without a valid command"
    loop.submit([0.5])
    assert loop.step().applied.tolist() == [0.5]


def test_estop_stops_and_only_reset_plus_a_fresh_command_resumes(pendulum_loop):
    loop = pendulum_loop
    loop.submit([0.5])
    loop.step()
    loop.estop()
    assert loop.status()["estopped"] and loop.status()["estop_reason"] == "external_estop"
    loop.submit([0.5])
    result = loop.step()
    assert result.decision.stopped and "estop" in result.decision.interventions and result.applied.tolist() == [0.0]
    loop.submit([0.5])  # queued before the reset: dropped by it
    loop.reset_safety()
    result = loop.step()
    assert result.decision.stopped and result.decision.interventions == (), "no command since the reset"
    loop.submit([0.5])
    assert loop.step().applied.tolist() == [0.5]


def test_watchdog_stops_when_commands_stop(pendulum_loop):
    loop = pendulum_loop
    loop.submit([0.5])
    loop.step()
    timeout = loop.safety.limits.watchdog_timeout_s
    steps = 0
    while not (result := loop.step()).decision.stopped:
        steps += 1
        assert steps < 200
    assert "watchdog" in result.decision.interventions and result.applied.tolist() == [0.0]
    assert steps / 60 == pytest.approx(timeout, abs=2 / 60)


def test_status_reports_levels():
    status = {"estopped": False, "estop_reason": "", "counts": {"watchdog": 2}, "last_command": [0.5]}
    assert safety_summary("n", "r", status).level == OK
    assert safety_summary("n", "r", status, ("watchdog",)).level == WARN
    summary = safety_summary("n", "r", {**status, "estopped": True, "estop_reason": "external_estop"})
    assert summary.level == ERROR and "safety/reset" in summary.message
    assert summary.values["count.watchdog"] == "2" and summary.values["last_command"] == "0.5"


# ------------------------------------------------------------------------------------- ticker
def test_ticker_keeps_its_period_and_does_not_burst_after_an_overrun():
    times: list[float] = []
    done = threading.Event()

    def tick():
        times.append(time.monotonic())
        if len(times) == 5:
            time.sleep(0.1)  # five periods late
        if len(times) == 15:
            done.set()

    ticker = Ticker(0.02, tick)
    ticker.start()
    assert done.wait(5)
    ticker.stop()
    gaps = np.diff(times)
    assert ticker.overruns >= 3
    assert np.all(gaps[5:] > 0.01), "after the overrun the schedule restarts instead of catching up"
    with pytest.raises(ValueError):
        Ticker(0.0, tick)


# -------------------------------------------------------------------------------- policy / camera
def test_policy_loop_refuses_missing_and_corrupt_files(tmp_path):
    with pytest.raises(ConfigurationError, match="policy_path is empty"):
        PolicyLoop.load("", "pendulum")
    with pytest.raises(ConfigurationError, match="does not exist"):
        PolicyLoop.load(str(tmp_path / "none.onnx"), "pendulum")
    (tmp_path / "bad.onnx").write_bytes(b"\x00garbage")
    with pytest.raises(ConfigurationError, match="not an ONNX model"):
        PolicyLoop.load(str(tmp_path / "bad.onnx"), "pendulum")


def test_camera_intrinsics_load_and_bad_files_are_explained(tmp_path):
    good = {"schema_version": 1, "kind": "camera_intrinsics", "camera": "wrist", "image_width": 640,
            "image_height": 480,
            "camera_matrix": [[500, 0, 320], [0, 510, 240], [0, 0, 1]], "distortion_coefficients": [0.1, 0, 0, 0, 0]}
    path = tmp_path / "camera.yaml"
    path.write_text(yaml.safe_dump(good))
    intrinsics = load_intrinsics(str(path))
    assert (intrinsics.width, intrinsics.height) == (640, 480) and projection_matrix(intrinsics).shape == (3, 4)
    path.write_text(yaml.safe_dump({**good, "kind": "motors"}))
    with pytest.raises(ConfigurationError, match="expected 'camera_intrinsics'"):
        load_intrinsics(str(path))
    path.write_text(yaml.safe_dump({k: v for k, v in good.items() if k != "camera_matrix"}))
    with pytest.raises(ConfigurationError, match="missing 'camera_matrix'"):
        load_intrinsics(str(path))
    path.write_text(yaml.safe_dump({**good, "camera_matrix": [1, 2, 3]}))
    with pytest.raises(ConfigurationError, match="finite 3x3 matrix"):
        load_intrinsics(str(path))
