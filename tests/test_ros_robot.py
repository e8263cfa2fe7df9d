"""RosRobot: the shared Robot interface over DDS, against a real sim node process."""

from __future__ import annotations

import time

import numpy as np
import pytest

from robolearn.safety.controller import STALE
from ros_helpers import CONFIG, NodeProcess, require_ros

pytestmark = pytest.mark.ros
NS = "/ros_robot_test"


@pytest.fixture(scope="module")
def sim():
    require_ros()
    with NodeProcess("robolearn_drivers.ros.sim_node", CONFIG / "pendulum_sim.yaml", namespace=NS) as node:
        yield node


def test_ros_robot_behaves_like_the_robot_interface(sim):
    from robolearn.envs.robot_env import RobotEnv
    from robolearn.tasks.balance import pendulum_balance
    from robolearn_drivers.ros.ros_robot import RosRobot

    robot = RosRobot.for_model("pendulum", namespace=NS, connect_timeout_s=30)
    env = RobotEnv(robot, pendulum_balance(), max_episode_steps=1000)
    try:
        features, _ = env.reset(seed=0)
        obs = robot.observe()
        obs.check_against(robot.spec)
        assert abs(obs["joint_pos"][0]) < 0.2, "robot/reset brought the sim pendulum to its upright start"

        # Beyond the 2 N·m limit and the 1 N·m-per-step rate limit: the returned command is what the driver
        # will apply, because the mirror runs the same limits.
        applied = robot.send_action(np.array([50.0]))
        assert applied[0] == pytest.approx(1.0)
        assert {"command_limit", "rate_limit"} <= set(robot.last_decision.interventions)

        # The task's expert over DDS: the pendulum stays upright, one step per control period.
        angles, start = [], time.monotonic()
        for _ in range(60):
            action = env.task.expert_action(robot.observe(), robot.spec)
            features, reward, terminated, truncated, info = env.step(action)
            angles.append(abs(info["pole_angle"]))
            assert not terminated
        elapsed = time.monotonic() - start
        assert max(angles) < 0.3
        assert elapsed == pytest.approx(60 / 60.0, rel=0.25), "wait() paces steps at the 60 Hz control rate"
        assert np.all(np.abs(info["applied_command"]) <= 2.0)

        # NaN goes through the mirror as a counted safety stop, as on every Robot.
        applied = robot.send_action(np.array([np.nan]))
        assert robot.last_decision.stopped and "nonfinite_command" in robot.last_decision.interventions
        assert applied[0] == 0.0
        with pytest.raises(ValueError, match="expected \\(1,\\)"):
            robot.send_action(np.zeros(3))
    finally:
        env.close()
    assert not robot.is_connected


def test_connect_without_a_driver_fails_with_a_clear_error():
    require_ros()
    from robolearn.robot import RobotError
    from robolearn_drivers.ros.ros_robot import RosRobot

    robot = RosRobot.for_model("pendulum", namespace="/nobody_here", connect_timeout_s=1.0)
    with pytest.raises(RobotError, match="no state on /nobody_here/joint_states within 1.0 s"):
        robot.connect()
    assert not robot.is_connected


def test_ros_robot_drives_a_sim_base_through_odom_hazards_and_cmd_vel():
    """The diff-drive base behind the driver node: Odometry + hazard flags in, Twist out, via RosRobot."""
    require_ros()
    from robolearn_drivers.ros.ros_robot import RosRobot

    ns = "/ros_robot_base"
    with NodeProcess("robolearn_drivers.ros.sim_node", CONFIG / "sim.yaml", params={"robot_model": "diffdrive_base"},
                     namespace=ns) as node:
        robot = RosRobot.for_model("diffdrive_base", namespace=ns, connect_timeout_s=30)
        try:
            with robot:
                obs = robot.reset(seed=0)
                obs.check_against(robot.spec)
                assert obs["hazards"].tolist() == [0.0, 0.0, 0.0, 0.0]
                x0, y0, yaw0 = obs["base_pose"]
                # 1.5 s at 20 Hz; one control step = send_action, wait, observe. On a loaded machine an
                # observation can arrive late, and the client's safety copy then stops the base and ramps
                # again: that is correct, so the run is extended by those steps, and only those.
                steps = 0
                while steps < 30 + 10 * robot.safety.counts[STALE] and steps < 120:
                    applied = robot.send_action(np.array([0.2, 0.0]))
                    robot.wait()
                    obs = robot.observe()
                    steps += 1
                stale_stops = robot.safety.counts[STALE]
                assert stale_stops <= 3, f"{stale_stops} stale-observation stops: odometry is not flowing"
                assert applied.tolist() == [0.2, 0.0]
                travelled = np.hypot(obs["base_pose"][0] - x0, obs["base_pose"][1] - y0)
                seconds = steps / 20
                assert 0.1 < travelled < 0.3 * seconds, f"0.2 m/s for {seconds} s moved the base {travelled:.3f} m"
                assert obs["base_twist"][0] == pytest.approx(0.2, abs=0.05)
        except Exception:
            print(node.output()[-3000:])
            raise
