"""A human's input over ROS (sensor_msgs/Joy) for interventions under ros2 launch, over real Fast DDS on loopback:
the Joy reader (`intervene:=joy`), robolearn-keyboard-joy driven through a pseudo-terminal, and
train_on_robot storing the takeovers a Joy publisher asks for."""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import subprocess
import sys
import termios
import time

import numpy as np
import pytest

from ros_helpers import CONFIG, DOMAIN_ID, REPO, NodeProcess, require_ros, ros_client, wait_for

pytestmark = pytest.mark.ros


@pytest.fixture(scope="module")
def mode() -> str:
    return require_ros()


def joy(axes, buttons=()):
    from sensor_msgs.msg import Joy

    return Joy(axes=[float(a) for a in axes], buttons=[int(b) for b in buttons])


def test_joy_axes_take_over_and_a_button_press_ends_the_episode_once(mode):
    from robolearn_drivers.ros import qos
    from robolearn_drivers.ros.joy_teleop import JoyTeleop
    from sensor_msgs.msg import Joy

    with ros_client("joy_sender") as client:
        publisher = client.publisher(Joy, "/joy_a/joy", qos.TELEOP_PUB)
        device = JoyTeleop(3, namespace="/joy_a", wait_s=10.0)
        try:
            assert device.topic == "/joy_a/joy"
            reading = device.read()
            assert not reading.active and reading.event is None  # nothing sent yet: nobody takes over
            publisher.publish(joy([0.05, -0.02, 0.0, 0.9]))  # inside the dead zone; axis 3 is not the task's
            wait_for(lambda: device._last is not None, 5, "the first Joy message")
            reading = device.read()
            assert not reading.active and np.all(reading.action == 0.0)
            publisher.publish(joy([0.5, -1.7, 0.0], buttons=[1, 0, 0, 0]))  # A pressed with the stick
            publisher.publish(joy([0.5, -1.7, 0.0], buttons=[1, 0, 0, 0]))  # and still held
            wait_for(lambda: device._axes[0] == 0.5, 5, "the takeover message")
            time.sleep(0.2)
            reading = device.read()
            assert reading.active and np.allclose(reading.action, [0.5, -1.0, 0.0]), "axes clipped to [-1, 1]"
            assert reading.event == "success"
            assert device.read().event is None, "a held button is one press"
            publisher.publish(joy([0, 0, 0], buttons=[0, 0, 0, 1]))  # Y: discard
            wait_for(lambda: device.read().event == "discard", 5, "the discard press")
        finally:
            device.close()


def test_an_input_that_goes_silent_or_away_during_a_takeover_is_an_unplugged_device(mode):
    from robolearn.teleop.base import DeviceUnplugged
    from robolearn_drivers.ros import qos
    from robolearn_drivers.ros.joy_teleop import JoyTeleop
    from sensor_msgs.msg import Joy

    with ros_client("joy_sender_b") as client:
        publisher = client.publisher(Joy, "/joy_b/joy", qos.TELEOP_PUB)
        device = JoyTeleop(2, namespace="/joy_b", silent_s=0.3)
        try:
            publisher.publish(joy([1.0, 0.0]))
            wait_for(lambda: device.read().active, 5, "a takeover")
            time.sleep(0.5)  # the human's input stops arriving while they hold the robot
            with pytest.raises(DeviceUnplugged, match="fell silent"):
                device.read()
        finally:
            device.close()
        # An idle input may be quiet; its publisher going away is still a lost device.
        device = JoyTeleop(2, namespace="/joy_b", silent_s=0.3)
        try:
            publisher.publish(joy([0.0, 0.0]))
            wait_for(lambda: device._last is not None, 5, "the idle message")
            time.sleep(0.5)
            assert not device.read().active
            client.node.destroy_publisher(publisher)
            with pytest.raises(DeviceUnplugged, match="went away"):
                wait_for(lambda: device.read() and False, 5, "the publisher to go")
        finally:
            device.close()


def test_nobody_publishing_is_refused_with_how_to_start_an_input(mode):
    from robolearn.teleop.base import DeviceUnplugged
    from robolearn_drivers.ros.joy_teleop import JoyTeleop

    with pytest.raises(DeviceUnplugged, match="robolearn-keyboard-joy"):
        JoyTeleop(2, namespace="/joy_nobody", wait_s=0.5)


def _in_a_terminal() -> None:
    """Child side: a session of its own with the pseudo-terminal on fd 0 as its controlling terminal."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def test_keyboard_joy_publishes_the_keys_of_its_terminal(mode):
    from robolearn_drivers.ros import qos
    from sensor_msgs.msg import Joy

    master, slave = os.openpty()
    env = dict(os.environ, PYTHONUNBUFFERED="1", ROS_DOMAIN_ID=str(DOMAIN_ID))
    process = subprocess.Popen([sys.executable, "-m", "robolearn_drivers.ros.keyboard_joy", "--ros-args",
                                "-r", "__ns:=/kbd", "-p", "axes:=2"], stdin=slave, stdout=slave, stderr=slave,
                               env=env, cwd=REPO, preexec_fn=_in_a_terminal)
    os.close(slave)
    shown = b""

    def drain() -> bytes:
        nonlocal shown
        while select.select([master], [], [], 0)[0]:
            try:
                shown += os.read(master, 4096)
            except OSError:
                break
        return shown

    try:
        with ros_client("kbd_listener") as client:
            messages = client.collect(Joy, "/kbd/joy", qos.TELEOP)
            wait_for(lambda: drain() and messages, 20, "Joy messages from keyboard_joy")
            assert all(list(m.axes) == [0.0, 0.0] for _, m in messages), "no key held: all axes rest"

            def pressed(key: bytes, check) -> bool:
                os.write(master, key)
                time.sleep(0.03)
                drain()
                return any(check(m) for _, m in messages[-5:])

            wait_for(lambda: pressed(b"s", lambda m: list(m.axes) == [0.0, -1.0]), 5, "'s' pushing axis 1 down")
            wait_for(lambda: pressed(b"\r", lambda m: list(m.buttons)[:1] == [1]), 5, "Enter as button 0")
            os.write(master, b"\x03")  # Ctrl-C in the raw terminal
            process.wait(10)
        assert process.returncode == 0, drain().decode(errors="replace")
        assert b"publishing 2 axes on /kbd/joy" in drain()
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait(10)
        os.close(master)


@pytest.mark.slow
def test_train_on_robot_stores_the_takeovers_of_a_joy_publisher(tmp_path, mode):
    """train_on_robot intervene:=joy next to the sim driver: a human holding a Joy axis (as
    robolearn-keyboard-joy or joy_node publish it) takes over the steps, and they reach SAC's intervention
    buffer."""
    from robolearn.learners.base import learner_class
    from robolearn.training import make_env
    from robolearn_drivers.ros import qos
    from sensor_msgs.msg import Joy

    namespace = "/joy_train"
    run_dir = tmp_path / "run"
    config = tmp_path / "sac_tiny.yaml"
    config.write_text("demos: none\nlearning_starts: 20\nbatch_size: 16\nhidden_sizes: [32, 32]\n"
                      "critic_ensemble: 2\nutd: 1\n")
    with ros_client("joy_human") as client:
        publisher = client.publisher(Joy, f"{namespace}/joy", qos.TELEOP_PUB)
        driver = NodeProcess("robolearn_drivers.ros.sim_node", CONFIG / "pendulum_sim.yaml", namespace=namespace)
        trainer = NodeProcess("robolearn_drivers.ros.train_on_robot", namespace=namespace,
                              params={"task": "PendulumBalance", "algo": "sac", "steps": 60, "device": "cpu",
                                      "config_file": str(config), "run_dir": str(run_dir), "intervene": "joy"})
        with driver, trainer:
            deadline = time.monotonic() + 90
            while trainer.alive() and time.monotonic() < deadline:
                publisher.publish(joy([0.8]))  # the human holds the stick over to one side
                time.sleep(0.05)
            assert trainer.process.poll() == 0, trainer.output()[-3000:]
    learner = learner_class("sac").load(run_dir / "checkpoint.pt", make_env("PendulumBalance"), "cpu")
    assert len(learner.online) == 60
    assert len(learner.interventions) >= 50, "the held stick takes over (nearly) every step"
    # Stored as applied: the human's 0.8, or less where the safety layer's rate or position limit cut it.
    actions = learner.interventions.actions[: len(learner.interventions), 0]
    assert np.all((actions >= -1e-6) & (actions <= 0.8 + 1e-6)) and np.isclose(actions, 0.8, atol=1e-5).any()
