"""robolearn/robots: each robot is defined once, and the sim, the hardware and the ROS clients read it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from robolearn.robots.registry import ROBOT_NAMES, robot_definition
from robolearn.safety import LimitsError, load_robot_limits


@pytest.mark.parametrize("name", [n for n in ROBOT_NAMES if n != "create2"])
def test_each_definition_builds_a_spec_from_its_limits_file(name):
    definition = robot_definition(name)
    spec, safety = definition.describe()
    assert spec.name == name and spec.command_names == definition.command_names
    assert dict(spec.observation_shapes) == dict(definition.observation_shapes)
    assert safety.limits.robot == name
    if definition.urdf is not None:
        assert definition.urdf_path.is_file()


def test_the_create2_is_the_diffdrive_base_and_its_hazards_are_named():
    base = robot_definition("create2")
    assert base is robot_definition("diffdrive_base")
    assert base.observation_shapes["hazards"] == (len(base.hazard_names),)


def test_every_simulated_robot_reads_the_library_definition():
    robolearn_sim = pytest.importorskip("robolearn_sim")
    assert set(robolearn_sim.ROBOTS) == set(ROBOT_NAMES) - {"create2"}
    for name in robolearn_sim.ROBOTS:
        assert robolearn_sim.robot_class(name).definition is robot_definition(name)


def test_unknown_robot_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown robot 'koch'.*so101_arm"):
        robot_definition("koch")


def test_limits_of_another_robot_or_layout_are_refused():
    with pytest.raises(LimitsError, match="not 'so101_arm'"):
        robot_definition("so101_arm").load_limits(load_robot_limits("pendulum"))
    pendulum = load_robot_limits("pendulum")
    with pytest.raises(LimitsError, match="the robot takes joint_effort commands"):
        robot_definition("cartpole").check_limits(dataclasses.replace(pendulum, robot="cartpole"))


def test_a_workspace_box_needs_a_workspace_model():
    arm = load_robot_limits("so101_arm")
    assert arm.workspace_low is not None
    model = robot_definition("so101_arm").workspace_model(arm)
    tip = model.predicted(np.array([0.0, 0.0, 1.3, 0.6, 0.0, 0.0]), None, 0.0)
    assert tip.shape == (3,) and np.all(np.isfinite(tip))
    boxed = dataclasses.replace(load_robot_limits("pendulum"), workspace_low=arm.workspace_low,
                                workspace_high=arm.workspace_high)
    with pytest.raises(LimitsError, match="no workspace model"):
        robot_definition("pendulum").workspace_model(boxed)
