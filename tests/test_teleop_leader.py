"""Leader arm on a virtual servo bus (the real SDK over a pty) driving the sim arm through the safety layer."""

import numpy as np
import pytest

from virtual_devices.bus_families import FAMILIES, TEST_LATENCY_MS, fast_thread_switching  # noqa: F401
from robolearn.calibration.motors import ArmCalibration, MotorCalibration
from robolearn.envs.registry import make_env
from robolearn.teleop.leader_arm import LeaderArm, LeaderFollowSource

JOINTS = ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper")


@pytest.fixture
def leader_rig():
    family = FAMILIES["feetech"]
    calibration = ArmCalibration(robot="so101_arm", bus=family.name, motors=tuple(
        MotorCalibration(name=n, id=i + 1, model=family.model, resolution=4096, homing_offset=2048,
                         direction=1 if i % 2 == 0 else -1, range_min=500, range_max=3600)
        for i, n in enumerate(JOINTS)))
    with family.virtual({i + 1: family.number for i in range(len(JOINTS))}) as device:
        leader = LeaderArm(family.bus(device.path, latency_ms=TEST_LATENCY_MS), calibration, JOINTS)
        env = make_env("ArmReach")
        try:
            with leader:
                yield leader, device, env
        finally:
            env.close()


def _pose(leader, device, radians):
    for m, q in zip(leader.motors, radians):
        device.servos[m.id].position = m.to_ticks(float(q))


def test_guard_refuses_a_far_follower_then_follows(leader_rig):
    leader, device, env = leader_rig
    obs, _ = env.reset(seed=0)
    follower = np.array(env.unwrapped.last_observation.values["joint_pos"])
    _pose(leader, device, follower + 0.8)  # the leader starts far from the follower
    source = LeaderFollowSource(leader, env)
    source.reset()
    for _ in range(5):
        action, human = source(obs)
        obs, *_ = env.step(action)
    assert not source.engaged and source.gap > 0.7 and human
    held = np.array(env.unwrapped.last_observation.values["joint_pos"])
    assert np.max(np.abs(held - follower)) < 0.05  # no jump towards the far leader
    assert not any(device.servos[m.id].torque for m in leader.motors)  # the leader stays limp

    _pose(leader, device, held + 0.05)  # the human brings the leader to the follower and moves it a little
    for _ in range(20):
        action, _ = source(obs)
        obs, *_ = env.step(action)
    assert source.engaged
    now = np.array(env.unwrapped.last_observation.values["joint_pos"])
    assert np.max(np.abs(now - (held + 0.05))) < 0.03 < np.max(np.abs(held + 0.05 - follower))


def test_leader_for_other_joints_is_refused(leader_rig):
    leader, _, env = leader_rig
    leader.joint_names = JOINTS[:-1]
    with pytest.raises(ValueError, match="calibrate the leader"):
        LeaderFollowSource(leader, env)


def test_record_by_leader_through_the_cli(leader_rig, tmp_path):
    from robolearn.cli import main
    from robolearn.data.lerobot_format import read_dataset

    leader, device, env = leader_rig
    calibration = tmp_path / "leader.yaml"
    from robolearn.calibration.motors import ArmCalibration

    ArmCalibration(robot="so101_arm", bus="feetech", motors=leader.motors).save(calibration)
    leader.close()  # the CLI opens the bus itself
    _pose(leader, device, np.full(len(JOINTS), 1.0))  # far from the follower's start: it must hold
    out = tmp_path / "ds"
    assert main(["record", "ArmReach", "--by", f"leader:{device.path}:{calibration}", "--episodes", "1",
                 "--out", str(out)]) == 0
    e = read_dataset(out)[0]
    assert e.interventions.all()
    assert np.max(np.abs(e.states[-1, :6] - e.states[0, :6])) < 0.1  # the follower held its start pose
    leader.open()  # the fixture closes it


def test_leader_source_needs_port_and_calibration(tmp_path, capsys):
    from robolearn.cli import main

    assert main(["record", "ArmReach", "--by", "leader:/dev/ttyACM9", "--episodes", "1",
                 "--out", str(tmp_path / "d")]) != 0
    assert "leader:PORT:CALIBRATION.yaml" in capsys.readouterr().err


def test_moving_the_leader_takes_over_a_policy_and_letting_go_hands_back(leader_rig):
    """HIL-SERL with a leader arm (`train --intervene leader:...`): the policy drives while the leader rests;
    moving it takes over (the follower follows once the guard is satisfied); still for release_steps: back."""
    from robolearn.teleop.intervention import InterventionWrapper
    from robolearn.teleop.leader_arm import LeaderTakeover

    leader, device, env = leader_rig
    takeover = LeaderTakeover(LeaderFollowSource(leader, env), release_steps=5)
    wrapped = InterventionWrapper(env, takeover)
    obs, _ = wrapped.reset(seed=0)
    follower = np.array(env.unwrapped.last_observation.values["joint_pos"])
    _pose(leader, device, follower)
    push = np.zeros(wrapped.action_space.shape)
    push[0] = 1.0  # the policy turns the base
    flags = []
    for _ in range(4):
        obs, _, _, _, info = wrapped.step(push)
        flags.append(info["intervention"])
    assert not any(flags)
    moved = np.array(env.unwrapped.last_observation.values["joint_pos"])
    assert moved[0] - follower[0] > 0.02  # the policy's action went through

    target = moved.copy()
    target[1] += 0.05  # the human grabs the leader at the follower's pose and lifts the shoulder
    _pose(leader, device, target)
    for _ in range(15):
        obs, _, _, _, info = wrapped.step(push)
        assert info["intervention"]
        target[1] += 0.005  # on, slowly (0.15 rad/s at 30 Hz)
        _pose(leader, device, target)
    now = np.array(env.unwrapped.last_observation.values["joint_pos"])
    assert abs(now[0] - moved[0]) < 0.03 and now[1] - moved[1] > 0.08  # the leader's pose, not the policy's push
    assert takeover.source.engaged

    flags = []
    for _ in range(8):  # the human lets go: the leader rests
        obs, _, _, _, info = wrapped.step(push)
        flags.append(info["intervention"])
    assert flags[:4] == [True] * 4 and not any(flags[6:])
