"""The one stop rule: velocity robots brake at their deceleration limit (zero at once on an e-stop or hazard),
every stop says why, the driver loop stops through the same rule, and an episode reset clears only what the
episode's own state latched."""

from __future__ import annotations

import numpy as np
import pytest

from robolearn.envs.registry import make_env
from robolearn.robots.workspace import ArmWorkspace
from robolearn.safety import SafetyController, SafetyLimits
from robolearn.safety.controller import ESTOP, HAZARD, IDLE, NONFINITE, WATCHDOG, WORKSPACE
from robolearn.spec import Observation
from robolearn_drivers.core.driver_loop import MALFORMED, DriverLoop
from robolearn_sim import make_robot

RATE_HZ = 50.0
DT = 1.0 / RATE_HZ
MAX_ACCEL = np.array([2.0, 5.0])  # per second: 0.04 and 0.1 per control period


def velocity_limits(**extra) -> SafetyLimits:
    return SafetyLimits.from_dict({
        "schema_version": 2, "robot": "test_bot", "command_kind": "joint_velocity", "control_rate_hz": RATE_HZ,
        "watchdog_timeout_s": 0.1, "stale_observation_s": 1.0,
        "commands": [{"name": "j0", "low": -1.0, "high": 1.0, "max_acceleration": float(MAX_ACCEL[0])},
                     {"name": "j1", "low": -1.0, "high": 1.0, "max_acceleration": float(MAX_ACCEL[1])}],
        **extra,
    })


def observe(safety: SafetyController, t: float, **values) -> None:
    base = {"joint_pos": np.zeros(2), "joint_vel": np.zeros(2)}
    base.update({k: np.asarray(v, float) for k, v in values.items()})
    safety.update_observation(Observation(t, base))


def drive_at(safety: SafetyController, velocity, until: float) -> float:
    """Accelerate to `velocity` within the rate limit; return the time of the last command."""
    t = 0.0
    while t < until:
        observe(safety, t)
        assert not safety.filter(np.asarray(velocity, float), t).stopped
        t = round(t + DT, 9)
    return t - DT


def test_a_watchdog_stop_brakes_a_velocity_robot_at_its_deceleration_limit():
    safety = SafetyController(velocity_limits())
    last = drive_at(safety, [0.4, -0.5], until=0.5)
    t, ramp = last, []
    while True:
        t = round(t + DT, 9)
        observe(safety, t)
        decision = safety.tick(t)
        if decision.stopped:
            ramp.append(decision.command)
        if len(ramp) > 1 and not safety.ramping:
            break
        assert t < 2.0, "the ramp never ended"
    ramp = np.array(ramp)
    assert safety.stop_reason == WATCHDOG
    steps = np.abs(np.diff(np.vstack([[0.4, -0.5], ramp]), axis=0))
    assert np.all(steps <= MAX_ACCEL * DT + 1e-9), steps  # never faster than the deceleration limit
    assert np.all(steps[0] > 0)  # the first stop command already brakes
    assert np.all(ramp * np.array([0.4, -0.5]) >= 0)  # braking never reverses
    np.testing.assert_array_equal(ramp[-1], 0.0)
    assert len(ramp) == pytest.approx(0.4 / (MAX_ACCEL[0] * DT), abs=1)  # the slower joint sets the length


@pytest.mark.parametrize("cause", ["estop", "hazard"])
def test_an_estop_or_hazard_zeroes_a_velocity_robot_at_once(cause):
    safety = SafetyController(velocity_limits())
    t = drive_at(safety, [0.4, -0.5], until=0.5)
    t = round(t + DT, 9)
    if cause == "estop":
        observe(safety, t)
        safety.trigger_estop()
    else:
        observe(safety, t, hazards=[1.0])
    decision = safety.filter(np.array([0.4, -0.5]), t)
    assert decision.stopped and not safety.ramping
    np.testing.assert_array_equal(decision.command, 0.0)
    assert safety.stop_reason == (ESTOP if cause == "estop" else HAZARD)


def test_an_estop_during_a_ramp_cuts_it_to_zero():
    safety = SafetyController(velocity_limits())
    t = drive_at(safety, [0.4, 0.4], until=0.5)
    t = round(t + 7 * DT, 9)  # past the 0.1 s watchdog, 2 periods into the ramp
    observe(safety, t)
    assert safety.tick(t).stopped and safety.ramping
    safety.trigger_estop()
    np.testing.assert_array_equal(safety.tick(t).command, 0.0)


def test_the_stop_reason_is_the_first_cause_not_what_the_idle_ticks_say():
    safety = SafetyController(velocity_limits())
    observe(safety, 0.0)
    assert safety.tick(0.0).stopped and safety.stop_reason == IDLE  # never commanded
    assert not safety.filter(np.array([0.02, 0.0]), 0.01).stopped and safety.stop_reason == ""
    decision = safety.filter(np.array([np.nan, 0.0]), 0.02)
    assert decision.interventions == (NONFINITE,)
    for k in range(1, 20):
        safety.tick(0.02 + k * DT)
    assert safety.stop_reason == NONFINITE
    assert safety.status()["stop_reason"] == NONFINITE


def test_stop_and_workspace_counts_reach_on_intervention():
    class Identity:
        def current(self, observation):
            return observation["joint_pos"]

        def predicted(self, command, observation, dt):
            return observation["joint_pos"] + command * dt

    seen: list[str] = []
    safety = SafetyController(velocity_limits(workspace={"low": [-0.01, -1.0], "high": [0.01, 1.0]}), Identity(),
                              on_intervention=lambda kind, detail: seen.append(kind))
    observe(safety, 0.0, joint_pos=[0.01, 0.0])
    assert safety.filter(np.array([0.04, 0.0]), 0.01).stopped
    safety.trigger_estop()
    assert seen == [WORKSPACE, ESTOP]
    assert seen.count(WORKSPACE) == safety.counts[WORKSPACE] and seen.count(ESTOP) == safety.counts[ESTOP]


# ------------------------------------------------------------------------------ the driver loop
def test_a_malformed_command_stops_through_the_safety_layers_rule():
    robot = make_robot("so101_arm", seed=0)
    robot.connect()
    try:
        robot.reset(seed=0)
        loop = DriverLoop(robot, advance_physics=True)
        for _ in range(10):
            loop.submit(robot.observe()["joint_pos"])
            loop.step()
        assert not loop.submit([0.0])  # wrong length
        first = loop.step()
        assert loop.safety.stop_reason == MALFORMED
        target = loop.safety.holding
        np.testing.assert_array_equal(first.applied, target)
        for _ in range(30):
            np.testing.assert_array_equal(loop.step().applied, target)  # the latched hold, every tick
    finally:
        robot.disconnect()


def test_the_driver_loop_keeps_writing_a_velocity_robots_ramp_until_it_is_zero():
    robot = make_robot("diffdrive_base", seed=0, walls=[])
    robot.connect()
    try:
        robot.reset(seed=0, options={"base_pose": [0.0, 0.0, 0.0]})
        loop = DriverLoop(robot, advance_physics=True)
        for _ in range(20):
            loop.submit([0.4, 0.0])
            loop.step()
        written = []
        for _ in range(40):  # no more commands: the watchdog (0.5 s) stops the base, which then brakes
            result = loop.step()
            if result.applied is not None:
                written.append(result.applied[0])
        assert loop.safety.stop_reason == WATCHDOG
        decel = loop.safety.limits.max_rate[0] / robot.spec.control_rate_hz
        assert len(written) >= round(0.4 / decel) - 1, written  # one write per braking tick
        assert np.all(np.diff([0.4] + written) <= 0.0) and np.all(np.diff([0.4] + written) >= -decel - 1e-9)
        assert written[-1] == 0.0
    finally:
        robot.disconnect()


# -------------------------------------------------------------------------------- episode resets
def _bump_into_wall(env) -> None:
    robot = env.unwrapped.robot
    env.reset(seed=0, options={"base_pose": [0.0, 0.0, 0.0]})
    for _ in range(200):
        env.step(np.array([1.0, 0.0], dtype=np.float32))
        if robot.safety.estopped:
            return
    raise AssertionError("the base never reached the wall")


def test_a_sim_reset_clears_a_hazard_latch_but_never_an_operator_estop():
    env = make_env("robolearn/BaseGoal-v0", walls=[((1.0, 0.0), (0.05, 1.0))])
    robot = env.unwrapped.robot
    try:
        _bump_into_wall(env)
        assert robot.safety.estop_reason == HAZARD
        env.reset(seed=1, options={"base_pose": [0.0, 0.0, 0.0]})
        assert not robot.safety.estopped  # a new episode, a new scene: training goes on
        env.step(np.array([1.0, 0.0], dtype=np.float32))
        assert not robot.last_decision.stopped
        assert robot.last_decision.command[0] > 0.0

        robot.safety.trigger_estop(ESTOP)  # a person pressed the button
        env.reset(seed=2, options={"base_pose": [0.0, 0.0, 0.0]})
        assert robot.safety.estopped and robot.safety.estop_reason == ESTOP
        env.step(np.array([1.0, 0.0], dtype=np.float32))
        assert robot.last_decision.stopped
    finally:
        env.close()


def test_a_hazard_at_the_new_start_latches_again_after_the_reset():
    env = make_env("robolearn/BaseGoal-v0", walls=[((1.0, 0.0), (0.05, 1.0))])
    robot = env.unwrapped.robot
    try:
        _bump_into_wall(env)
        env.reset(seed=1, options={"base_pose": [0.8, 0.0, 0.0]})  # starts touching the wall
        assert robot.safety.estopped and robot.safety.estop_reason == HAZARD
    finally:
        env.close()


def test_a_sim_reset_after_a_workspace_stop_relatches_the_hold_at_the_new_pose():
    env = make_env("robolearn/BaseGoal-v0", walls=[])
    robot = env.unwrapped.robot
    try:
        env.reset(seed=0, options={"base_pose": [1.8, 0.0, 0.0]})
        for _ in range(40):
            env.step(np.array([1.0, 0.0], dtype=np.float32))
        assert robot.safety.counts[WORKSPACE] > 0 and robot.last_decision.stopped
        env.reset(seed=0, options={"base_pose": [0.0, 0.0, 0.0]})
        assert robot.safety.stop_reason == "" and not robot.safety.ramping
        env.step(np.array([1.0, 0.0], dtype=np.float32))
        assert not robot.last_decision.stopped and robot.last_decision.command[0] > 0.0
    finally:
        env.close()


def test_the_controller_takes_an_arms_forward_kinematics_as_a_plain_callable():
    calls = []

    def fk(joints):  # a toy planar arm: tool point = the first two joint values
        calls.append(np.array(joints))
        return np.asarray(joints, dtype=float)[:2]

    limits = SafetyLimits.from_dict({
        "schema_version": 2, "robot": "toy_arm", "command_kind": "joint_position", "control_rate_hz": RATE_HZ,
        "commands": [{"name": "a", "low": -1.0, "high": 1.0, "max_velocity": 5.0},
                     {"name": "b", "low": -1.0, "high": 1.0, "max_velocity": 5.0}],
        "workspace": {"low": [-0.5, -0.5], "high": [0.5, 0.5]},
    })
    safety = SafetyController(limits, ArmWorkspace(fk))
    observe(safety, 0.0, joint_pos=[0.45, 0.0])
    assert not safety.filter(np.array([0.5, 0.0]), 0.01).stopped
    decision = safety.filter(np.array([0.6, 0.0]), 0.02)
    assert decision.stopped and WORKSPACE in decision.interventions
    assert any(np.allclose(c, [0.55, 0.0]) for c in calls)  # the rate-limited target went through the FK


def test_a_command_without_a_rate_limit_stays_finite_when_no_time_has_passed():
    limits = SafetyLimits.from_dict({
        "schema_version": 2, "robot": "test_bot", "command_kind": "twist", "control_rate_hz": RATE_HZ,
        "commands": [{"name": "v", "low": -1.0, "high": 1.0, "max_acceleration": 2.0},
                     {"name": "w", "low": -1.0, "high": 1.0}],  # no rate limit on w
    })
    safety = SafetyController(limits)
    observe(safety, 0.0)
    safety.filter(np.array([0.01, 0.5]), 0.01)
    decision = safety.filter(np.array([0.5, -0.5]), 0.01)  # same instant: v may not move, w may
    np.testing.assert_array_equal(decision.command, [0.01, -0.5])


def _position_limits(**extra) -> SafetyLimits:
    return SafetyLimits.from_dict({
        "schema_version": 2, "robot": "test_bot", "command_kind": "joint_position", "control_rate_hz": RATE_HZ,
        "commands": [{"name": "a", "low": -1.0, "high": 1.0, "max_velocity": 5.0},
                     {"name": "b", "low": -1.0, "high": 1.0, "max_velocity": 5.0}],
        **extra,
    })


@pytest.mark.parametrize("hold", ["measured", "last_command"])
def test_the_limits_file_chooses_what_a_position_stop_holds(hold):
    safety = SafetyController(_position_limits(hold=hold))
    observe(safety, 0.0, joint_pos=[0.0, 0.0])
    assert not safety.filter(np.array([0.1, -0.1]), 0.02).stopped
    observe(safety, 0.04, joint_pos=[0.06, -0.05])  # lagging the command, as a loaded servo does
    safety.trigger_estop()
    expected = [0.06, -0.05] if hold == "measured" else [0.1, -0.1]
    np.testing.assert_array_equal(safety.holding, expected)
    observe(safety, 0.08, joint_pos=[0.0, -0.2])  # whatever is measured later, the target stays
    np.testing.assert_array_equal(safety.filter(np.array([0.5, 0.5]), 0.08).command, expected)
    assert SafetyLimits.from_dict(_position_limits(hold=hold).to_dict()).hold == hold


def test_a_hold_choice_is_refused_where_it_cannot_apply():
    with pytest.raises(ValueError, match="hold 'sometimes' unknown"):
        _position_limits(hold="sometimes")
    with pytest.raises(ValueError, match="joint_position commands only"):
        velocity_limits(hold="last_command")


def test_a_command_without_a_rate_limit_stops_at_once_while_the_others_brake():
    limits = SafetyLimits.from_dict({
        "schema_version": 2, "robot": "test_bot", "command_kind": "twist", "control_rate_hz": RATE_HZ,
        "watchdog_timeout_s": 0.1,
        "commands": [{"name": "v", "low": -1.0, "high": 1.0, "max_acceleration": 2.0},
                     {"name": "w", "low": -1.0, "high": 1.0}],
    })
    safety = SafetyController(limits)
    t = drive_at(safety, [0.4, 0.5], until=0.5)
    t = round(t + 6 * DT, 9)
    observe(safety, t)
    decision = safety.tick(t)
    assert decision.stopped and safety.ramping
    assert 0.0 < decision.command[0] < 0.4 and decision.command[1] == 0.0
