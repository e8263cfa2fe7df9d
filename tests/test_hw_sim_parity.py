"""The real robots promise the same interface as their simulated stand-ins: a policy trained on one runs on
the other. Compared spec against spec, built from the repository's limits files."""

from __future__ import annotations

import numpy as np
import pytest

from robolearn.calibration.motors import ArmCalibration
from robolearn.safety import calibration_dir
from robolearn.hardware import make_hardware_robot

robolearn_sim = pytest.importorskip("robolearn_sim")


def real_robot(name: str, tmp_path):
    if name == "diffdrive_base":
        return make_hardware_robot(name, "/dev/null")
    example = ArmCalibration.load(calibration_dir() / name / "example_arm.yaml", robot=name, allow_example=True)
    return make_hardware_robot(name, "/dev/null", example.save(tmp_path / "arm.yaml"))


@pytest.mark.parametrize("name", ["so101_arm", "diffdrive_base"])
def test_real_and_simulated_specs_match(name, tmp_path):
    real, sim = real_robot(name, tmp_path).spec, robolearn_sim.make_robot(name, seed=0).spec
    assert real.name == sim.name and real.command_kind == sim.command_kind
    assert real.command_names == sim.command_names
    assert np.array_equal(real.command_low, sim.command_low) and np.array_equal(real.command_high, sim.command_high)
    assert real.control_rate_hz == sim.control_rate_hz
    assert dict(real.observation_shapes) == dict(sim.observation_shapes)
    assert real.joint_names == sim.joint_names
