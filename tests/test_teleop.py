"""Teleop devices through their real decoding paths: a pseudo-terminal for the keyboard, kernel
input_event records through a pipe for the gamepad; humans (real or simulated) through the safety layer."""

import os
import warnings

import numpy as np
import pytest

from robolearn.data.episodes import record_episode
from robolearn.envs.registry import make_env
from robolearn.teleop import DeviceUnplugged, SimulatedHuman, TakeoverSource, TeleopSource
from robolearn.teleop.gamepad import ABS_X, ABS_Y, BTN_SOUTH, EV_ABS, EV_KEY, EVENT, EvdevGamepad
from robolearn.teleop.keyboard import TerminalKeyboard
from robolearn.teleop.sources import expert_of


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


@pytest.fixture
def keyboard():
    master, slave = os.openpty()
    clock = FakeClock()
    kb = TerminalKeyboard(3, fd=slave, release_s=0.2, clock=clock)
    yield kb, master, clock
    kb.close()
    os.close(master)
    os.close(slave)


def test_keyboard_decodes_keys_arrows_and_events_from_a_tty(keyboard):
    kb, master, clock = keyboard
    os.write(master, b"qd\x1b[B")
    r = kb.read()
    np.testing.assert_array_equal(r.action, [1.0, -1.0, -1.0])
    assert r.active and r.event is None
    clock.t = 1.0  # keys not repeated: the action returns to rest
    r = kb.read()
    assert not r.active and np.all(r.action == 0)
    os.write(master, b"\r")
    assert kb.read().event == "success"
    os.write(master, b"\x1b")  # an escape sequence split across reads
    kb.read()
    os.write(master, b"[C")
    assert kb.read().action[0] == 1.0


def test_keyboard_refuses_a_non_terminal():
    r, w = os.pipe()
    try:
        with pytest.raises(ValueError, match="needs a terminal"):
            TerminalKeyboard(2, fd=r)
    finally:
        os.close(r)
        os.close(w)


def _events(*records):
    return b"".join(EVENT.pack(0, 0, t, c, v) for t, c, v in records)


def test_gamepad_decodes_kernel_input_events():
    r, w = os.pipe()
    pad = EvdevGamepad(2, fd=r)
    os.write(w, _events((EV_ABS, ABS_X, 32767), (EV_ABS, ABS_Y, -32768))[:30])  # half a record first
    pad.read()
    os.write(w, _events((EV_ABS, ABS_X, 32767), (EV_ABS, ABS_Y, -32768))[30:])
    reading = pad.read()
    np.testing.assert_allclose(reading.action, [1.0, -1.0], atol=1e-4)
    os.write(w, _events((EV_ABS, ABS_X, 100), (EV_KEY, BTN_SOUTH, 1)))
    reading = pad.read()
    assert reading.event == "success" and reading.action[0] == 0.0  # inside the dead zone
    os.close(w)
    with pytest.raises(DeviceUnplugged):
        pad.read()
    os.close(r)


@pytest.mark.parametrize("keep", [False, True])
def test_unplugged_device_mid_episode_stops_the_robot(keep, tmp_path):
    pytest.importorskip("pyarrow")
    from robolearn.data.episodes import SourceFailed, record_dataset
    from robolearn.data.lerobot_format import read_dataset, write_dataset

    env = make_env("ArmReach")
    r, w = os.pipe()
    pad = EvdevGamepad(env.action_space.shape[0], fd=r, axes=[(EV_ABS, c) for c in range(6)])
    steps = []

    class Unplugs(TeleopSource):
        def __call__(self, obs):
            if len(steps) == 3:
                os.close(w)
            steps.append(1)
            return super().__call__(obs)

    robot = env.unwrapped.robot
    written, kept = [], []
    original = robot._write
    robot._write = lambda command: (written.append(command), original(command))[1]
    try:
        with pytest.raises(SourceFailed, match="robot was stopped") as failed:
            record_dataset(env, Unplugs(pad), 2, kept.append, keep_on_failure=keep)
        assert isinstance(failed.value.__cause__, DeviceUnplugged)
        np.testing.assert_array_equal(written[-1], robot.safety.stop_command())
    finally:
        os.close(r)
        env.close()
    if keep:
        assert len(kept) == 1 and len(kept[0]) == 3 and kept[0].truncated[-1] and kept[0].success is False
        write_dataset(tmp_path / "ds", kept, 30.0, "so101_arm")
        assert read_dataset(tmp_path / "ds")[0].equals(kept[0])
    else:
        assert kept == []


def test_takeover_flags_human_steps_and_applies_them_through_safety(keyboard):
    kb, master, clock = keyboard
    env = make_env("PendulumBalance")
    kb.action_size = 1
    kb._action, kb._seen = np.zeros(1), np.full(1, -np.inf)
    calls = []

    def source(obs):
        if len(calls) == 5:
            os.write(master, b"q")
        if len(calls) == 10:
            clock.t += 1.0
        if len(calls) == 15:
            os.write(master, b"\r")
        calls.append(1)
        return take(obs)

    take = TakeoverSource(lambda obs: np.zeros(1), kb)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            e = record_episode(env, source, seed=0)
    finally:
        env.close()
    assert e.success is True and len(e) == 15
    assert e.interventions.tolist() == [False] * 5 + [True] * 5 + [False] * 5
    assert np.all(e.requested_actions[5:10] == 1.0)
    assert np.all(np.abs(e.applied_actions) <= 1.0 + 1e-6)


def test_simulated_human_takes_over_after_reaction_delay_within_budget():
    env = make_env("ArmReach")
    try:
        expert = expert_of(env)
        bad_policy = lambda obs: -np.asarray(expert(obs))  # noqa: E731
        human = SimulatedHuman(bad_policy, expert, threshold=0.05, reaction_steps=2, budget=10)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            e = record_episode(env, human, seed=0)
            again = record_episode(env, human, seed=1)
            good = record_episode(env, SimulatedHuman(expert, expert, budget=10), seed=0)
    finally:
        env.close()
    flags = e.interventions
    assert not flags[:2].any() and flags[2:12].all() and flags.sum() == 10  # delay, then the budget runs out
    assert again.interventions.sum() == 10  # the budget starts over each episode
    assert not good.interventions.any()


def test_a_simulated_human_watches_the_share_of_episodes_its_attention_gives():
    """attention 0.3: the human watches about 30% of episodes (drawn per episode, reproducible by seed) and
    takes none of the others' steps, however far the policy strays."""
    always = lambda obs: np.ones(2)  # noqa: E731
    never = lambda obs: -np.ones(2)  # noqa: E731

    def watched(attention: float, seed: int) -> list[bool]:
        human = SimulatedHuman(None, always, threshold=0.5, reaction_steps=0, budget=5, attention=attention,
                               seed=seed)
        episodes = []
        for _ in range(400):
            human.reset()
            episodes.append(any(human.decide(None, never(None))[1] for _ in range(10)))
        return episodes

    share = np.mean(watched(0.3, seed=1))
    assert 0.24 < share < 0.36, share
    assert watched(0.3, seed=1) == watched(0.3, seed=1) != watched(0.3, seed=2)
    assert not any(watched(0.0, seed=1)) and all(watched(1.0, seed=1))
    with pytest.raises(ValueError, match="share of episodes"):
        SimulatedHuman(None, always, attention=1.5)


def test_task_without_expert_is_refused_with_what_to_do():
    import gymnasium as gym

    env = gym.make("Pendulum-v1")
    try:
        with pytest.raises(ValueError, match="teleop device"):
            expert_of(env)
    finally:
        env.close()
