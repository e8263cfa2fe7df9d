"""load_demonstrations: what learners consume, from a LeRobot dataset or an .npz, checked against the robot."""

import warnings

import numpy as np
import pytest

pytest.importorskip("pyarrow")

from robolearn.data import load_demonstrations  # noqa: E402
from robolearn.data.episodes import record_episode  # noqa: E402
from robolearn.data.lerobot_format import DatasetError, write_dataset  # noqa: E402
from robolearn.envs.registry import make_env  # noqa: E402
from robolearn.teleop import SimulatedHuman  # noqa: E402
from robolearn.teleop.sources import expert_of  # noqa: E402


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    env = make_env("ArmReach")
    try:
        expert = expert_of(env)
        human = SimulatedHuman(lambda obs: -np.asarray(expert(obs)), expert, threshold=0.05, budget=20)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            episodes = [record_episode(env, human, seed=s) for s in range(2)]
        spec = env.unwrapped.robot.spec
        root = write_dataset(tmp_path_factory.mktemp("d") / "ds", episodes, spec.control_rate_hz, spec.name,
                             action_names=spec.command_names)
        return root, episodes, spec, env.observation_space.shape[0]
    finally:
        env.close()


def test_dataset_gives_applied_transitions_and_intervention_subset(dataset):
    root, episodes, spec, n = dataset
    demos = load_demonstrations(root, spec=spec, state_size=n)
    assert len(demos) == sum(len(e) for e in episodes)
    np.testing.assert_array_equal(demos.actions, np.concatenate([e.applied_actions for e in episodes]))
    np.testing.assert_array_equal(demos.next_observations[: len(episodes[0])], episodes[0].states[1:])
    human = load_demonstrations(root, interventions_only=True)
    assert len(human) == sum(int(e.interventions.sum()) for e in episodes) == 40


def test_dataset_for_another_robot_or_task_is_refused(dataset):
    root, _, spec, n = dataset
    other = make_env("PendulumBalance")
    try:
        with pytest.raises(DatasetError, match="another robot"):
            load_demonstrations(root, spec=other.unwrapped.robot.spec)
    finally:
        other.close()
    with pytest.raises(ValueError, match="another task"):
        load_demonstrations(root, state_size=n + 1)
    with pytest.raises(FileNotFoundError, match="LeRobot v3"):
        load_demonstrations(root / "nothing")
