"""`robolearn train --demos <dataset>`: SAC/RLPD's demo buffer and Lipschitz BC train from a dataset that
`robolearn record` wrote, checked against the task's robot; a dataset for another robot is refused before a
run starts."""

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pyarrow")

from robolearn.cli import main  # noqa: E402
from robolearn.data.demos import load_demonstrations  # noqa: E402
from robolearn.learners.base import learner_class  # noqa: E402
from robolearn.training import make_env  # noqa: E402

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.fixture(scope="module")
def reach_demos(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("data") / "reach"
    assert main(["record", "ArmReach", "--by", "expert", "--episodes", "2", "--out", str(out)]) == 0
    return out


def _train(*args: str) -> int:
    return main(["train", *args, "--eval-episodes", "0", "--no-progress"])


def test_sac_fills_its_demo_buffer_from_a_recorded_dataset_and_a_resume_keeps_it(reach_demos, tmp_path):
    run = tmp_path / "sac"
    assert _train("ArmReach", "--algo", "sac", "--config", str(CONFIGS / "sac_small.yaml"), "--demos",
                  str(reach_demos), "--steps", "150", "--run-dir", str(run)) == 0
    demos = load_demonstrations(reach_demos)
    learner = learner_class("sac").load(run / "checkpoint.pt", make_env("ArmReach"), "cpu")
    assert learner.config.demos == str(reach_demos)
    assert len(learner.demo_buffer) == len(demos)  # the dataset, not the scripted expert's 2 episodes
    stored = learner.demo_buffer.state_dict()
    np.testing.assert_array_equal(np.asarray(stored["observations"])[: len(demos)], demos.observations)
    np.testing.assert_array_equal(np.asarray(stored["actions"])[: len(demos)], demos.actions)
    assert _train("ArmReach", "--algo", "sac", "--steps", "200", "--run-dir", str(run), "--resume") == 0


def test_a_resume_with_other_demonstrations_is_refused(reach_demos, tmp_path, capsys):
    run = tmp_path / "sac"
    args = ("ArmReach", "--algo", "sac", "--config", str(CONFIGS / "sac_small.yaml"), "--run-dir", str(run))
    assert _train(*args, "--steps", "120", "--demos", str(reach_demos)) == 0
    capsys.readouterr()
    other = tmp_path / "other"
    assert main(["record", "ArmReach", "--by", "expert", "--episodes", "1", "--out", str(other)]) == 0
    assert _train(*args, "--steps", "150", "--resume", "--demos", str(other)) != 0
    assert "demos: checkpoint" in capsys.readouterr().err


def test_lipschitz_bc_clones_a_recorded_dataset(reach_demos, tmp_path):
    run = tmp_path / "bc"
    assert _train("ArmReach", "--algo", "lipbc", "--config", str(CONFIGS / "lipbc_reach.yaml"), "--demos",
                  str(reach_demos), "--steps", "20", "--run-dir", str(run)) == 0
    learner = learner_class("lipbc").load(run / "checkpoint.pt", make_env("ArmReach"), "cpu")
    np.testing.assert_allclose(learner.demo_obs.cpu().numpy(), load_demonstrations(reach_demos).observations)


def test_a_dataset_for_another_robot_is_refused_before_a_run_starts(tmp_path, capsys):
    pendulum = tmp_path / "pendulum"
    assert main(["record", "PendulumBalance", "--by", "expert", "--episodes", "1", "--out", str(pendulum)]) == 0
    capsys.readouterr()
    run = tmp_path / "run"
    assert _train("ArmReach", "--algo", "sac", "--demos", str(pendulum), "--steps", "50", "--run-dir", str(run)) != 0
    err = capsys.readouterr().err
    assert "these demonstrations are for another robot" in err and str(pendulum) in err
    assert not run.exists(), "refused before the run folder was made"


def test_demos_for_a_learner_without_demonstrations_and_a_missing_dataset_are_one_clear_line(tmp_path, capsys,
                                                                                               reach_demos):
    assert _train("ArmReach", "--algo", "avg", "--demos", str(reach_demos), "--steps", "10",
                  "--run-dir", str(tmp_path / "a")) != 0
    assert "avg learns without demonstrations; sac, lipbc train from them" in capsys.readouterr().err
    assert _train("ArmReach", "--algo", "sac", "--demos", str(tmp_path / "nothing"), "--steps", "10",
                  "--run-dir", str(tmp_path / "b")) != 0
    assert "not found: give a robolearn .npz or a LeRobot v3 dataset" in capsys.readouterr().err
