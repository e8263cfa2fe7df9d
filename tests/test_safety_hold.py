"""A stop holds: the target is latched once, so a loaded arm under a latched e-stop does not creep down."""

import numpy as np
import pytest

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
