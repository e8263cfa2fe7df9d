"""A stop holds: the target is latched once, so a loaded arm under a latched e-stop does not creep down."""

import numpy as np
import pytest
import yaml

from robolearn.safety.limits import default_limits_path

from robolearn.safety.controller import WATCHDOG
from robolearn_drivers.core.driver_loop import MALFORMED, DriverLoop
from robolearn_sim import make_robot

CONTROL_HZ = 30
LOADED_POSE = np.array([0.0, 1.2, -0.3, 0.0, 0.0, 0.0])  # upper arm near horizontal: gravity pulls hardest


@pytest.fixture
def loop():
    robot = make_robot("so101_arm", seed=0)
    robot.connect()
    robot.reset(seed=0)
    yield DriverLoop(robot, advance_physics=True)
    robot.disconnect()


def _drive_to(loop, pose, seconds=3.0):
    for _ in range(int(seconds * CONTROL_HZ)):
        loop.submit(pose)
        loop.step()


@pytest.mark.parametrize("cause", ["estop", "malformed", "watchdog"])
def test_a_stopped_loaded_arm_holds_for_20_seconds(loop, cause):
    _drive_to(loop, LOADED_POSE)
    if cause == "estop":
        loop.estop("test")
    elif cause == "malformed":
        assert not loop.submit([0.0, 1.0])  # two values for six joints
    # watchdog: simply no more commands; the stop begins when the last one is too old
    for _ in range(int(loop.safety.limits.watchdog_timeout_s * CONTROL_HZ) + 2):
        loop.step()
    assert loop.safety.stop_reason == {"estop": "test", "malformed": MALFORMED, "watchdog": WATCHDOG}[cause]
    stopped_at = loop.last_observation["joint_pos"].copy()
    target = loop.safety.holding
    assert target is not None
    for _ in range(20 * CONTROL_HZ):
        result = loop.step()
        assert result.decision is None or result.decision.stopped  # None: held for the malformed command
        np.testing.assert_array_equal(loop.safety.stop_command(), target)  # never re-derived
    drift = np.abs(loop.last_observation["joint_pos"] - stopped_at).max()
    assert drift < 0.005, f"the held arm drifted {drift:.4f} rad in 20 s"


def test_moving_again_releases_the_hold_and_a_reset_relatches_it(loop):
    _drive_to(loop, LOADED_POSE, 1.0)
    loop.estop("test")
    loop.step()
    first = loop.safety.holding
    loop.reset_safety()
    _drive_to(loop, np.zeros(6), 2.0)
    assert loop.safety.holding is None  # commands pass again: nothing latched
    loop.reset_robot(seed=1)
    loop.estop("test")
    loop.step()
    assert not np.allclose(loop.safety.holding, first, atol=1e-3)  # latched at the new pose, not the old one


def _limits_with(tmp_path, robot: str, **fields) -> str:
    data = yaml.safe_load(default_limits_path(robot).read_text())
    data.update(fields)
    path = tmp_path / f"{robot}_limits.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_a_long_hold_switches_torque_off_where_the_limits_allow_and_a_fresh_command_switches_it_on(tmp_path):
    robot = make_robot("so101_arm", seed=0, limits_path=_limits_with(tmp_path, "so101_arm", torque_off_after_hold_s=2.0))
    with robot:
        robot.reset(seed=0)
        loop = DriverLoop(robot, advance_physics=True)
        _drive_to(loop, LOADED_POSE)
        loop.estop("test")
        ticks_off = None
        for tick in range(4 * CONTROL_HZ):
            if loop.step().torque_off:
                assert ticks_off is None, "torque goes off once per stop"
                ticks_off = tick
        assert ticks_off is not None and abs(ticks_off - 2 * CONTROL_HZ) <= 1  # after the 2 s hold, not before
        assert loop.status()["torque_off"] and loop.safety.stop_command() is None  # a stop sends nothing now
        sagged = loop.last_observation["joint_pos"].copy()
        assert abs(sagged[1] - LOADED_POSE[1]) > 0.1, "limp, the loaded shoulder falls"
        # Reset and a fresh command: torque on again, rate-limited from where the limp arm now is.
        loop.reset_safety()
        loop.submit(LOADED_POSE)
        result = loop.step()
        assert not loop.status()["torque_off"]
        max_step = loop.safety.limits.max_rate / CONTROL_HZ
        reference = np.clip(sagged, loop.safety.limits.low, loop.safety.limits.high)  # limp, it may hang past one
        assert np.all(np.abs(result.applied - reference) <= max_step + 1e-9)
        _drive_to(loop, LOADED_POSE)
        assert np.abs(loop.last_observation["joint_pos"] - LOADED_POSE).max() < 0.05, "driven back up"


def test_without_the_field_a_hold_never_switches_torque_off_and_a_robot_that_cannot_refuses_it(tmp_path, loop):
    _drive_to(loop, LOADED_POSE, 1.0)
    loop.estop("test")
    assert not any(loop.step().torque_off for _ in range(3 * CONTROL_HZ))
    with pytest.raises(ValueError, match="cannot be switched off by software; remove the field"):
        make_robot("pendulum", limits_path=_limits_with(tmp_path, "pendulum", torque_off_after_hold_s=1.0))


def test_the_hold_before_torque_off_counts_from_the_first_clock_reading_after_the_stop(tmp_path):
    """An e-stop arrives between two control ticks, after the last clock reading the filter saw: counting the
    hold from that earlier reading would switch the torque off up to a tick early (seen on the virtual servo
    bus under load). The count starts at the first reading after the stop, so a hold is never cut short."""
    hold = 0.3
    robot = make_robot("so101_arm", seed=0, limits_path=_limits_with(tmp_path, "so101_arm",
                                                                      torque_off_after_hold_s=hold))
    with robot:
        robot.reset(seed=0)
        loop = DriverLoop(robot, advance_physics=True)
        _drive_to(loop, LOADED_POSE, seconds=0.5)
        last_reading = robot.now()
        loop.estop("test")  # later in wall time than `last_reading`, by an unknown amount
        safety = loop.safety
        first = last_reading + 0.1  # the next tick
        assert not safety.torque_off_due(first)
        assert not safety.torque_off_due(last_reading + hold), "the hold counts from the first reading, not before"
        assert not safety.torque_off_due(first + hold - 1e-6)
        assert safety.torque_off_due(first + hold + 1e-9)
