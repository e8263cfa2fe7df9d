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
from robolearn_drivers.core.diagnostics import ERROR, OK, STALE, WARN, safety_summary, stop_level
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
    ({"robot_model": "pendulum", "use_sim": True, "real_time_factor": 0}, "real_time_factor=0.0 is invalid"),
    ({"robot_model": "pendulum", "use_sim": True, "real_time_factor": float("inf")}, "real_time_factor=inf is invalid"),
    ({"robot_model": "pendulum", "use_sim": True, "far_start": "jump"}, "far_start='jump' is invalid"),
    ({"robot_model": "so101_arm", "calibration_file": "/x.yaml", "real_time_factor": 2}, "applies to simulated robots only"),
])
def test_bad_parameters_are_refused_with_what_to_fix(values, message):
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(").replace(".", r"\.")):
        DriverParams.from_mapping(values)


def test_a_faster_than_real_time_sim_ticks_faster_on_the_wall_clock():
    params = DriverParams.from_mapping({"robot_model": "pendulum", "use_sim": True, "real_time_factor": 4})
    assert params.tick_period_s(1 / 60) == pytest.approx(1 / 240)
    assert DriverParams.from_mapping({"robot_model": "pendulum", "use_sim": True}).tick_period_s(0.1) == 0.1


def test_the_loop_clock_never_runs_backwards_across_robot_resets(pendulum_loop):
    for _ in range(5):
        pendulum_loop.step()
    before = pendulum_loop.clock()
    pendulum_loop.reset_robot(seed=1)
    assert pendulum_loop.robot.now() < before, "the sim's own clock restarts with the episode"
    pendulum_loop.step()
    assert pendulum_loop.clock() > before


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


def test_levels_follow_the_meaning_of_the_stop():
    assert stop_level(("no_command",)) == OK
    assert stop_level(("watchdog",)) == WARN
    assert stop_level(("stale_observation",)) == STALE
    for reason in ("estop", "malformed_command", "nonfinite_command", "driver_fault", "a_reason_added_later"):
        assert stop_level(("watchdog", reason)) == ERROR, reason
    status = {"estopped": False, "estop_reason": "", "counts": {}, "last_command": None}
    assert safety_summary("n", "r", status, adjusted=("command_limit",)).level == WARN
    problem = safety_summary("n", "r", status, qos_problems=("publish with durability=transient_local",))
    assert problem.level == ERROR and "transient_local" in problem.message


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


# --------------------------------------------------------------------------------- trajectories
def test_trajectory_is_reordered_interpolated_from_the_current_position_and_held_at_the_end():
    from robolearn_drivers.core.trajectory import JointTrajectory

    traj = JointTrajectory.parse("arm", ["a", "b"], ["b", "a"], [1.0, 2.0], [[10.0, 1.0], [20.0, 2.0]],
                                 start=5.0, current=np.array([0.0, 0.0]))
    assert traj.sample(5.0).tolist() == [0.0, 0.0]
    assert traj.sample(5.5).tolist() == pytest.approx([0.5, 5.0])
    assert traj.sample(6.5).tolist() == pytest.approx([1.5, 15.0])
    assert traj.sample(100.0).tolist() == [2.0, 20.0] and traj.end == 7.0


def test_a_trajectory_stamped_in_the_future_is_appended_and_one_stamped_now_replaces():
    """joint_trajectory_controller's rule: the old trajectory runs until the new one's start, which then
    continues from where the old one is at that moment."""
    from robolearn_drivers.core.trajectory import JointTrajectory

    def parse(times, positions, start, current):
        return JointTrajectory.parse("arm", ["a"], ["a"], times, [[q] for q in positions], start=start,
                                     current=np.asarray(current, dtype=float))

    old = parse([1.0, 2.0], [1.0, 2.0], start=0.0, current=[0.0])  # 0 -> 1 -> 2 over 2 s
    # Appended: starts at 1.5 (the old one is at 1.5 then), reaches 5 one second later.
    appended = old.spliced(parse([1.0], [5.0], start=1.5, current=old.sample(1.5)))
    assert appended.sample(0.5)[0] == pytest.approx(0.5)  # the old motion, untouched before the hand-over
    assert appended.sample(1.5)[0] == pytest.approx(1.5)  # continuous at the hand-over
    assert appended.sample(2.0)[0] == pytest.approx(3.25)  # the old point at 2 s is gone: halfway 1.5 -> 5
    assert appended.sample(9.0)[0] == pytest.approx(5.0)
    # Replaced: a trajectory starting now (t=0.5) takes over at once from the old one's position there.
    replaced = old.spliced(parse([1.0], [-1.0], start=0.5, current=old.sample(0.5)))
    assert replaced.sample(1.0)[0] == pytest.approx(-0.25) and replaced.sample(9.0)[0] == pytest.approx(-1.0)
    # A new trajectory starting after the old one ended: the old end is held until then.
    late = old.spliced(parse([0.0, 1.0], [2.0, 3.0], start=4.0, current=old.sample(4.0)))
    assert late.sample(3.0)[0] == pytest.approx(2.0) and late.sample(4.5)[0] == pytest.approx(2.5)


@pytest.mark.parametrize("names, times, positions, message", [
    (["a", "b"], [], [], "no points"),
    (["a", "c"], [1.0], [[0, 0]], "must be each of"),
    (["a", "a"], [1.0], [[0, 0]], "must be each of"),
    (["a", "b"], [1.0], [[0]], "needs 2 positions"),
    (["a", "b"], [1.0, 1.0], [[0, 0], [1, 1]], "strictly increasing"),
    (["a", "b"], [-1.0], [[0, 0]], "strictly increasing"),
    (["a", "b"], [1.0], [[0, float("nan")]], "NaN"),
])
def test_bad_trajectories_are_refused_with_what_to_fix(names, times, positions, message):
    from robolearn_drivers.core.trajectory import JointTrajectory

    with pytest.raises(MalformedMessageError, match=message):
        JointTrajectory.parse("arm", ["a", "b"], names, times, positions, start=0.0, current=np.zeros(2))


def test_a_trajectory_that_already_ended_or_does_not_stop_at_its_end_is_refused():
    from robolearn_drivers.core.trajectory import JointTrajectory

    def parse(**kwargs):
        return JointTrajectory.parse("arm", ["a"], ["a"], [1.0], [[0.5]], start=10.0, current=np.zeros(1), **kwargs)

    with pytest.raises(MalformedMessageError, match="ended 0.500 s ago"):
        parse(now=11.5)
    assert parse(now=10.9).end == 11.0  # started late, still running: accepted
    with pytest.raises(MalformedMessageError, match="must be zero"):
        parse(final_velocities=[0.2])
    assert parse(final_velocities=[0.0]).end == 11.0
