"""The safety filter: properties that must hold whatever it is fed, and the watchdog / e-stop contract."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from robolearn.safety import SafetyController, SafetyLimits
from robolearn.safety.controller import (
    CLOCK, ESTOP, HAZARD, LIMIT, NONFINITE, NOT_FRESH, OVERLOAD, POSITION_LIMIT, RATE, STALE, WATCHDOG, WORKSPACE,
)
from robolearn.spec import Observation
from robolearn.safety.limits import RATE_KEY
from robolearn.spec import CommandKind

RATE_HZ = 50.0
DT = 1.0 / RATE_HZ


def make_limits(kind: str = "joint_position", workspace: bool = False) -> SafetyLimits:
    rate_key = RATE_KEY[CommandKind(kind)]
    data = {
        "schema_version": 2,
        "robot": "test_bot",
        "command_kind": kind,
        "control_rate_hz": RATE_HZ,
        "watchdog_timeout_s": 0.2,
        "stale_observation_s": 0.1,
        "commands": [
            # Rate limits per second: 0.1 and 0.05 per 50 Hz control period.
            {"name": "j0", "low": -1.0, "high": 1.0, rate_key: 0.1 * RATE_HZ, "position": [-1.5, 1.5], "effort": 5.0},
            {"name": "j1", "low": -0.5, "high": 2.0, rate_key: 0.05 * RATE_HZ, "position": [-1.0, 1.0]},
        ],
    }
    if workspace:
        data["workspace"] = {"low": [-1.0, -1.0], "high": [1.0, 1.0]}
    return SafetyLimits.from_dict(data)


class IdentityWorkspace:
    """Workspace point = the joint vector itself (measured or commanded): easy to reason about."""

    def current(self, observation: Observation) -> np.ndarray:
        return np.asarray(observation.values["joint_pos"], dtype=float)

    def predicted(self, command: np.ndarray, observation: Observation, dt: float) -> np.ndarray:
        return np.asarray(command, dtype=float)


def obs(t: float, pos=(0.0, 0.0), effort=(0.0, 0.0), hazards=None) -> Observation:
    values = {"joint_pos": np.array(pos, float), "joint_vel": np.zeros(2), "joint_effort": np.array(effort, float)}
    if hazards is not None:
        values["hazards"] = np.array(hazards, float)
    return Observation(t, values)


finite_or_not = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.floats(min_value=-3.0, max_value=3.0),
)
event = st.tuples(
    st.sampled_from(["command", "command", "command", "tick", "observe", "estop", "reset"]),
    st.lists(finite_or_not, min_size=2, max_size=2),
    st.floats(min_value=-0.05, max_value=0.3),  # time step; negative = clock going backwards
    st.lists(st.floats(min_value=-3.0, max_value=3.0), min_size=2, max_size=2),  # measured position
)


@pytest.mark.parametrize("kind", ["joint_position", "joint_velocity", "joint_effort", "twist"])
@given(events=st.lists(event, min_size=1, max_size=60))
def test_never_emits_a_command_outside_limits_whatever_it_is_fed(kind, events):
    limits = make_limits(kind)
    safety = SafetyController(limits)
    low, high, step = limits.low, limits.high, limits.max_rate * DT
    t = 0.0
    previous = None  # last command that passed without a stop
    braking = None  # last stop command of a velocity robot's ramp
    for what, values, dt, pos in events:
        t += dt
        if what == "observe":
            safety.update_observation(obs(t, pos))
            continue
        if what == "estop":
            safety.trigger_estop()
            previous = braking = None
            continue
        if what == "reset":
            safety.reset(t)
            previous = braking = None
            continue
        decision = safety.filter(np.array(values), t) if what == "command" else safety.tick(t)
        if decision.command is None:
            previous = None
            continue
        out = decision.command
        assert out.shape == (2,)
        assert np.all(np.isfinite(out)), out
        assert np.all(out >= low - 1e-12) and np.all(out <= high + 1e-12), out
        if decision.stopped:
            if kind != "joint_position":
                # Zero at once on an e-stop; otherwise a ramp that only ever brakes towards zero.
                if safety.estopped:
                    assert np.all(out == 0.0)
                elif braking is not None:
                    assert np.all(np.abs(out) <= np.abs(braking) + 1e-12) and np.all(out * braking >= 0.0)
                braking = out
            previous = None
            continue
        braking = None
        if previous is not None:
            assert np.all(np.abs(out - previous) <= step + 1e-9), (out, previous)
        previous = out


@given(values=st.lists(finite_or_not, min_size=2, max_size=2))
def test_nonfinite_commands_stop_and_are_counted(values):
    safety = SafetyController(make_limits("joint_velocity"))
    safety.update_observation(obs(0.0))
    decision = safety.filter(np.array(values), 0.01)
    if all(math.isfinite(v) for v in values):
        assert NONFINITE not in decision.interventions
    else:
        assert decision.stopped and decision.interventions == (NONFINITE,)
        assert np.all(decision.command == 0.0)
        assert safety.counts[NONFINITE] == 1


def test_clips_to_limits_and_rate_limits_from_the_measured_position():
    safety = SafetyController(make_limits("joint_position"))
    safety.update_observation(obs(0.0, pos=(0.5, 0.0)))
    decision = safety.filter(np.array([5.0, -5.0]), 0.01)
    # Absolute limit first (1.0, -0.5), then at most max_step away from where the joints are.
    np.testing.assert_allclose(decision.command, [0.6, -0.05])
    assert set(decision.interventions) == {LIMIT, RATE}
    assert safety.counts[LIMIT] == 1 and safety.counts[RATE] == 1


def test_watchdog_stops_when_commands_stop_arriving():
    safety = SafetyController(make_limits("joint_velocity"))
    safety.update_observation(obs(0.0))
    assert not safety.filter(np.array([0.05, 0.05]), 0.0).stopped
    safety.update_observation(obs(0.15))
    held = safety.tick(0.15)
    assert not held.stopped and np.allclose(held.command, [0.05, 0.05])
    safety.update_observation(obs(0.25))
    stopped = safety.tick(0.25)  # 0.25 s since the command > 0.2 s timeout
    assert stopped.stopped and stopped.interventions == (WATCHDOG,)
    assert np.all(stopped.command == 0.0)
    assert safety.counts[WATCHDOG] == 1


def test_a_command_issued_long_ago_is_refused_by_the_watchdog():
    safety = SafetyController(make_limits("joint_velocity"))
    safety.update_observation(obs(1.0))
    decision = safety.filter(np.array([0.05, 0.05]), now=1.0, command_time=0.5)
    assert decision.stopped and WATCHDOG in decision.interventions


def test_estop_latches_until_reset_and_a_fresh_command():
    safety = SafetyController(make_limits("joint_velocity"))
    safety.update_observation(obs(0.0))
    assert not safety.filter(np.array([0.05, 0.0]), 0.01).stopped
    safety.trigger_estop()
    for k in range(5):
        t = 0.02 + 0.01 * k
        safety.update_observation(obs(t))
        decision = safety.filter(np.array([0.05, 0.0]), t)
        assert decision.stopped and decision.interventions == (ESTOP,)
        assert safety.tick(t).stopped
    safety.update_observation(obs(0.1))
    safety.reset(now=0.1)
    assert not safety.estopped
    # A command queued before the reset must not move the robot.
    stale_cmd = safety.filter(np.array([0.05, 0.0]), now=0.11, command_time=0.09)
    assert stale_cmd.stopped and stale_cmd.interventions == (NOT_FRESH,)
    # Reset alone does not move anything: the watchdog has nothing to repeat.
    assert safety.tick(0.11).stopped
    fresh = safety.filter(np.array([0.05, 0.0]), now=0.12, command_time=0.12)
    assert not fresh.stopped and np.allclose(fresh.command, [0.05, 0.0])


def test_stale_observation_stops():
    safety = SafetyController(make_limits("twist"))
    safety.update_observation(obs(0.0))
    assert not safety.filter(np.array([0.05, 0.0]), 0.05).stopped
    decision = safety.filter(np.array([0.05, 0.0]), 0.2)  # newest observation is 0.2 s old > 0.1 s
    assert decision.stopped and decision.interventions == (STALE,)


def test_no_observation_means_no_motion():
    safety = SafetyController(make_limits("joint_position"))
    decision = safety.filter(np.array([0.1, 0.1]), 0.0)
    assert decision.stopped and decision.command is None  # nothing to hold yet: send nothing


def test_time_going_backwards_stops():
    safety = SafetyController(make_limits("joint_velocity"))
    safety.update_observation(obs(1.0))
    assert not safety.filter(np.array([0.01, 0.0]), 1.0).stopped
    decision = safety.filter(np.array([0.01, 0.0]), 0.5)
    assert decision.stopped and decision.interventions == (CLOCK,)


def test_velocity_commands_cannot_push_past_position_limits():
    safety = SafetyController(make_limits("joint_velocity"))
    safety.update_observation(obs(0.0, pos=(1.6, -1.2)))  # j0 above its max, j1 below its min
    outward = safety.filter(np.array([0.05, -0.05]), 0.01)
    assert np.allclose(outward.command, [0.0, 0.0]) and POSITION_LIMIT in outward.interventions
    inward = safety.filter(np.array([-0.05, 0.05]), 0.01 + DT)  # one period later
    assert np.allclose(inward.command, [-0.05, 0.05]) and POSITION_LIMIT not in inward.interventions


def test_workspace_refuses_leaving_and_allows_returning():
    safety = SafetyController(make_limits("joint_position", workspace=True), workspace=IdentityWorkspace())
    safety.update_observation(obs(0.0, pos=(0.95, 0.0)))
    assert not safety.filter(np.array([1.0, 0.0]), 0.01).stopped  # on the boundary: inside
    safety = SafetyController(make_limits("joint_position", workspace=True), workspace=IdentityWorkspace())
    safety.update_observation(obs(0.02, pos=(0.5, 1.0)))
    leaving = safety.filter(np.array([0.5, 1.04]), 0.03)
    assert leaving.stopped and WORKSPACE in leaving.interventions
    np.testing.assert_allclose(leaving.command, [0.5, 1.0])  # held where it is
    # Already outside (e.g. pushed): moving back towards the box is allowed.
    safety.update_observation(obs(0.04, pos=(0.0, 1.5)))
    back = safety.filter(np.array([0.0, 1.45]), 0.05)
    assert not back.stopped


def test_workspace_needs_a_model():
    with pytest.raises(ValueError, match="workspace"):
        SafetyController(make_limits("joint_position", workspace=True))


def test_overload_and_hazards_latch_the_estop():
    safety = SafetyController(make_limits("joint_position"))
    safety.update_observation(obs(0.0, effort=(6.0, 0.0)))  # j0 effort limit is 5
    assert safety.estopped and safety.estop_reason == OVERLOAD
    assert safety.filter(np.array([0.0, 0.0]), 0.01).stopped
    base = SafetyController(make_limits("twist"))
    base.update_observation(obs(0.0, hazards=[0.0, 1.0]))
    assert base.estopped and base.estop_reason == HAZARD


def test_position_stop_holds_measured_position_clipped_to_limits():
    safety = SafetyController(make_limits("joint_position"))
    safety.update_observation(obs(0.0, pos=(0.3, 5.0)))
    safety.trigger_estop()
    decision = safety.filter(np.array([0.0, 0.0]), 0.01)
    np.testing.assert_allclose(decision.command, [0.3, 2.0])


def test_wrong_command_length_is_a_clear_error():
    safety = SafetyController(make_limits("joint_position"))
    with pytest.raises(ValueError, match=r"expected 2 .*j0"):
        safety.filter(np.zeros(3), 0.0)


def test_interventions_are_reported_to_a_callback():
    seen = []
    safety = SafetyController(make_limits("twist"), on_intervention=lambda kind, detail: seen.append(kind))
    safety.update_observation(obs(0.0))
    safety.filter(np.array([np.nan, 0.0]), 0.01)
    safety.filter(np.array([9.0, 0.0]), 0.02)
    assert seen[0] == NONFINITE and LIMIT in seen
    assert safety.status()["counts"][NONFINITE] == 1


def test_rate_limit_is_per_second_times_the_measured_time_capped_at_one_period():
    safety = SafetyController(make_limits("joint_position"))
    safety.update_observation(obs(0.0, pos=(0.0, 0.0)))
    first = safety.filter(np.array([1.0, 0.0]), 0.0)
    assert first.command[0] == pytest.approx(0.1)  # from the measured state: one full period, 5 rad/s x 20 ms
    half = safety.filter(np.array([1.0, 0.0]), 0.5 * DT)
    assert half.command[0] == pytest.approx(0.1 + 0.05)  # a loop running twice as fast moves as fast per second
    late = 0.5 * DT + 0.09  # a 90 ms stall, inside the watchdog and the stale-observation guard
    safety.update_observation(obs(late, pos=(0.15, 0.0)))
    stalled = safety.filter(np.array([1.0, 0.0]), late)
    assert stalled.command[0] == pytest.approx(0.15 + 0.1)  # never more than one period's step at once


def test_limits_in_per_step_units_are_refused_with_the_conversion():
    data = make_limits("joint_position").to_dict()
    data["schema_version"] = 1
    data["commands"][0].pop("max_velocity")
    data["commands"][0]["max_step"] = 0.1
    with pytest.raises(ValueError, match=r"j0: max_velocity: 5\b.*|max_step x control_rate_hz") as info:
        SafetyLimits.from_dict(data, "bot/limits.yaml")
    assert "bot/limits.yaml" in str(info.value) and "j0: max_velocity: 5" in str(info.value)


def test_a_rate_limit_wider_than_the_joint_range_is_refused():
    data = make_limits("joint_position").to_dict()
    data["commands"][0]["max_velocity"] = 2.5 * RATE_HZ  # 2.5 rad per period on a 2 rad range: never acts
    with pytest.raises(ValueError, match="more than j0's whole range"):
        SafetyLimits.from_dict(data, "bot/limits.yaml")
