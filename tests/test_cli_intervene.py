"""`robolearn train --intervene`: HIL-SERL in the sim. A scripted "human" (and a gamepad fed a recorded
event stream, through the real evdev decoding) takes over SAC's steps; those steps land in their own
buffer, and the intervention rate per episode reaches metrics.csv, TensorBoard and learning_curve.png."""

import csv
import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest

from robolearn.cli import main
from robolearn.learners.base import learner_class
from robolearn.teleop.gamepad import ABS_X, EV_ABS, EVENT
from robolearn.training import make_env

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
SMALL = ("--config", str(CONFIGS / "sac_small.yaml"))


def _train(*args: str) -> int:
    return main(["train", *args, "--eval-episodes", "0", "--no-progress"])


def _rates(run: Path) -> list[float]:
    with open(run / "metrics.csv") as fh:
        return [float(r["value"]) for r in csv.DictReader(fh) if r["name"] == "train/intervention_rate"]


def _load(run: Path):
    return learner_class("sac").load(run / "checkpoint.pt", make_env("ArmReach"), "cpu")


def test_a_simulated_human_fills_the_intervention_buffer_and_the_logged_rate(tmp_path):
    overseen, alone = tmp_path / "overseen", tmp_path / "alone"
    assert _train("ArmReach", *SMALL, "--steps", "300", "--run-dir", str(overseen), "--intervene", "simulated") == 0
    assert _train("ArmReach", *SMALL, "--steps", "300", "--run-dir", str(alone)) == 0

    learner = _load(overseen)
    rates = _rates(overseen)
    assert len(rates) == 3  # one per 100-step episode
    assert all(0.0 <= r <= 1.0 for r in rates) and max(rates) > 0.0
    human_steps = len(learner.interventions)
    assert human_steps == round(sum(rates) * 100) > 0  # the buffer holds exactly the flagged steps
    # Human steps are online data too (HIL-SERL): every stored human transition is in the online buffer.
    online = {tuple(row) for row in learner.online.observations[: len(learner.online)].round(6)}
    assert all(tuple(row) in online for row in learner.interventions.observations[:human_steps].round(6))
    # The demo buffer is still the scripted demonstrations only (interventions do not evict them).
    assert len(learner.demo_buffer) == len(_load(alone).demo_buffer)

    assert len(_load(alone).interventions) == 0 and _rates(alone) == []
    tags = _tensorboard_tags(overseen)
    assert "train/intervention_rate" in tags
    assert (overseen / "learning_curve.png").stat().st_size > 0


def _tensorboard_tags(run: Path) -> set[str]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(run / "tensorboard"))
    accumulator.Reload()
    return set(accumulator.Tags()["scalars"])


def test_a_gamepad_held_over_from_a_recorded_event_stream_takes_every_step(tmp_path):
    fifo = tmp_path / "event0"
    os.mkfifo(fifo)
    # Held open for writing by the test, so the reader never sees an unplug; the stick is pushed once and held.
    writer = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
    try:
        os.write(writer, EVENT.pack(0, 0, EV_ABS, ABS_X, 30000) + EVENT.pack(0, 0, 0, 0, 0))
        run = tmp_path / "run"
        assert _train("ArmReach", *SMALL, "--steps", "200", "--run-dir", str(run),
                      "--intervene", f"gamepad:{fifo}") == 0
    finally:
        os.close(writer)
    assert _rates(run) == [1.0, 1.0]
    learner = _load(run)
    assert len(learner.interventions) == 200
    # What was stored is what the human asked for (stick right on entry 0, the rest centred) as the safety
    # layer applied it (it eases off at the joint limit), never the policy's own proposal.
    actions = learner.interventions.actions[:200]
    assert actions[0, 0] == pytest.approx((30000 + 0.5) / 32767.5, abs=1e-4)
    assert np.all(actions[:, 0] > -1e-3) and np.all(np.abs(actions[0, 1:]) < 1e-3)
    # The scripted expert's demonstrations were collected without the human: not the held stick.
    demos = learner.demo_buffer.actions[: len(learner.demo_buffer)]
    assert len(demos) == 200 and np.mean(np.abs(demos[:, 0] - actions[0, 0]) > 0.1) > 0.5


@pytest.mark.parametrize("args, message", [
    (("--algo", "avg", "--intervene", "simulated"), "avg does not learn from human takeovers"),
    (("--label-reward",), "add --intervene DEVICE"),
    (("--intervene", "joystick"), "choose one of keyboard, gamepad[:PATH]"),
    (("--intervene", "joy"), "joy, a sensor_msgs/Joy topic, is read by the ROS nodes: intervene:=joy"),
    (("--intervene", "simulated", "--async"), "drop --async"),
    (("--intervene", "gamepad:/dev/input/no-such-node"), "does not exist: plug the gamepad in"),
])
def test_bad_intervention_requests_are_one_clear_line(tmp_path, capsys, args, message):
    assert _train("ArmReach", "--steps", "10", "--run-dir", str(tmp_path / "run"), *args) != 0
    assert message in capsys.readouterr().err


def test_a_task_without_a_scripted_expert_cannot_have_a_simulated_human(tmp_path, capsys):
    assert _train("Pendulum-v1", "--steps", "10", "--run-dir", str(tmp_path / "run"), "--intervene", "simulated") != 0
    assert "needs the task's scripted expert" in capsys.readouterr().err


def test_an_unplugged_device_stops_the_robot_and_keeps_the_run_to_resume(tmp_path):
    from robolearn.teleop.base import DeviceUnplugged
    from robolearn.teleop.intervention import InterventionWrapper
    from robolearn.training import load_config, start_or_resume, train_started

    class UnpluggedAfter:  # the overseer's device read fails at its 151st step, as evdev does on ENODEV
        def __init__(self):
            self.reads = 0

        def decide(self, observation, proposed):
            self.reads += 1
            if self.reads > 150:
                raise DeviceUnplugged("input device read failed ([Errno 19] No such device): it was unplugged")
            return proposed, False

    base = make_env("ArmReach")
    env = InterventionWrapper(base, UnpluggedAfter())
    try:
        sac = learner_class("sac")
        config = dataclasses.replace(load_config(sac, CONFIGS / "sac_small.yaml", 0), demos="none")
        started = start_or_resume(sac, env, tmp_path, steps=400, config=config, resume=False, config_given=True,
                                  seed_given=True, device="cpu")
        with pytest.raises(DeviceUnplugged, match="the robot was stopped.*saved in .* at step 150.*resume with: again"):
            train_started(started, 400, tmp_path, resume_hint="again")
        assert base.unwrapped.robot.safety.stop_reason == "teleop device unplugged"
        assert _load(tmp_path).steps_done == 150
    finally:
        env.close()


def test_the_success_button_stands_in_for_the_reward(tmp_path):
    """--label-reward: the gamepad's A button ends the episode as a success, reward 1 and terminal; every
    other step is worth 0 whatever the task's own reward says."""
    from robolearn.teleop.gamepad import BTN_SOUTH, EV_KEY

    fifo = tmp_path / "event0"
    os.mkfifo(fifo)
    writer = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
    try:
        os.write(writer, EVENT.pack(0, 0, EV_KEY, BTN_SOUTH, 1) + EVENT.pack(0, 0, EV_KEY, BTN_SOUTH, 0))
        run = tmp_path / "run"
        config = tmp_path / "sac.yaml"  # no scripted demos first: the first step the button is read is the run's
        config.write_text((CONFIGS / "sac_small.yaml").read_text() + "demos: none\n")
        assert _train("ArmReach", "--config", str(config), "--steps", "150", "--run-dir", str(run),
                      "--intervene", f"gamepad:{fifo}", "--label-reward") == 0
    finally:
        os.close(writer)
    with open(run / "metrics.csv") as fh:
        returns = [float(r["value"]) for r in csv.DictReader(fh) if r["name"] == "train/episode_return"]
    assert returns[:2] == [1.0, 0.0]  # pressed at the first step; then nobody labels, the time limit ends it
    learner = _load(run)
    first = learner.online.gather(np.array([0]))
    assert float(first.rewards[0]) == 1.0 and float(first.terminated[0]) == 1.0
    assert float(learner.online.rewards[: len(learner.online)].sum()) == 1.0
