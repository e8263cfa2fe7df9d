"""System identification: a safe excitation, refused before any motion where it would leave the limits,
recorded through the safety layer; a CMA-ES fit that recovers a known mass and latency of a sim robot;
recordings of another robot or rate refused; a fit that does not converge writes nothing."""

from __future__ import annotations

import numpy as np
import pytest

from robolearn.cli import main
from robolearn.sim2real.excitation import ExcitationAborted, ExcitationConfig, ExcitationRefused, excite
from robolearn.sim2real.recording import Recording
from robolearn.sim2real.sysid import SysidError, fit, write_fit
from robolearn_sim import Perturbation, load_perturbation, make_robot

SHORT = ExcitationConfig(segment_s=1.0, commands=("shoulder_lift", "elbow_flex"))
SERVO = {"actuator": "sts3215"}


def _record(truth: Perturbation, config: ExcitationConfig = SHORT) -> Recording:
    with make_robot("so101_arm", perturbation=truth, **SERVO) as robot:
        robot.reset(seed=0)
        return excite(robot, config, {"source": "sim", "sim": {"options": SERVO}})


@pytest.fixture(scope="module")
def changed_arm() -> Recording:
    """60 steps of a servo-model arm 1.3x heavier than nominal, whose commands arrive 2 steps late."""
    return _record(Perturbation(mass_scale=1.3, action_latency_steps=2))


def test_the_excitation_is_recorded_as_sent_through_the_safety_layer(changed_arm, tmp_path):
    assert len(changed_arm) == 60
    assert np.allclose(np.diff(changed_arm.command_times), 1 / 30)  # the robot's clock, not a nominal rate
    moved = np.ptp(changed_arm.observations["joint_pos"], axis=0)
    assert moved[1] > 0.1 and moved[2] > 0.1 and moved[0] < 0.01  # only the excited joints moved
    np.testing.assert_array_equal(changed_arm.applied, changed_arm.commands)  # nothing had to be clipped
    loaded = Recording.load(changed_arm.save(tmp_path / "rec"))
    np.testing.assert_array_equal(loaded.observations["joint_pos"], changed_arm.observations["joint_pos"])
    assert loaded.meta["sim"]["options"] == SERVO


def test_sysid_recovers_a_known_mass_and_latency(changed_arm, tmp_path):
    result = fit(changed_arm, ["mass_scale", "action_latency_steps"], budget=300)
    assert result.converged, result.stop_reasons
    assert result.values["action_latency_steps"] == 2
    assert abs(result.values["mass_scale"] - 1.3) < 0.05
    assert result.loss < 0.01 * result.nominal_loss
    assert all(result.channel_rms[j] < result.channel_rms_nominal[j] for j in ("shoulder_lift", "elbow_flex"))
    written = write_fit(result, tmp_path / "params.yaml", plot=True)
    assert written["plot"].stat().st_size > 1000
    assert "actuator='sts3215'" in written["params"].read_text()  # the model the parameters hold for
    # The sim loads the file as the robot's perturbation.
    loaded = load_perturbation(str(written["params"]), "so101_arm")
    assert loaded == result.perturbation
    with make_robot("so101_arm", perturbation=str(written["params"]), **SERVO) as robot:
        robot.reset(seed=0)
        assert robot.perturbation.action_latency_steps == 2


def test_an_excitation_that_would_leave_the_limits_is_refused_before_any_motion():
    with make_robot("so101_arm") as robot:
        start = robot.reset(seed=0)["joint_pos"]
        with pytest.raises(ExcitationRefused, match="elbow_flex.*outside its limits.*Nothing was sent"):
            # elbow starts at ~1.3 rad of its 1.65 limit: a full-range excitation would cross it
            excite(robot, ExcitationConfig(amplitude=1.0, segment_s=1.0, commands=("elbow_flex",)))
        assert robot.last_decision is None and not robot.safety.counts  # no command reached the safety layer
        robot.wait()
        np.testing.assert_allclose(robot.observe()["joint_pos"], start, atol=0.02)


def test_a_base_excitation_that_would_leave_the_workspace_box_is_refused():
    with make_robot("diffdrive_base", walls=[]) as robot:
        robot.reset(seed=0, options={"base_pose": [1.9, 0.0, 0.0]})  # 0.1 m from the box's edge, facing it
        with pytest.raises(ExcitationRefused, match="workspace box"):
            excite(robot, ExcitationConfig(commands=("linear_x",)))
        assert robot.last_decision is None


def test_a_safety_stop_during_the_excitation_stops_the_robot():
    with pytest.raises(ExcitationAborted, match="overload; the robot was stopped"):
        # fast steps on a heavier arm with lagging commands saturate its servos past the limits file's effort
        _record(Perturbation(mass_scale=1.5, action_latency_steps=2), ExcitationConfig(
            segment_s=1.0, rate_fraction=1.0, commands=("shoulder_lift", "elbow_flex")))


def test_a_recording_of_another_robot_or_rate_is_refused(changed_arm, tmp_path, capsys):
    path = changed_arm.save(tmp_path / "arm.npz")
    assert main(["sysid", "fit", str(path), "--robot", "diffdrive_base", "--out", str(tmp_path / "p.yaml")]) == 1
    assert "the recording is of robot 'so101_arm', not 'diffdrive_base'" in capsys.readouterr().err
    slow = Recording(**{**changed_arm.__dict__, "control_rate_hz": 20.0,
                        "command_times": changed_arm.command_times * 1.5})
    path = slow.save(tmp_path / "slow.npz")
    assert main(["sysid", "fit", str(path), "--out", str(tmp_path / "p.yaml")]) == 1
    err = capsys.readouterr().err
    assert "commanded at 20.0 Hz" in err and "30.0 Hz" in err
    assert not (tmp_path / "p.yaml").exists()


def test_a_fit_that_does_not_converge_writes_nothing_over_the_previous_file(changed_arm, tmp_path, capsys):
    previous = tmp_path / "params.yaml"
    previous.write_text("robot: so101_arm\nperturbation: {mass_scale: 1.1}\n")
    path = changed_arm.save(tmp_path / "rec.npz")
    code = main(["sysid", "fit", str(path), "--out", str(previous), "--params", "mass_scale,gain_scale",
                 "--budget", "10", "--no-plot"])
    assert code == 1
    assert "did not converge" in capsys.readouterr().err
    assert previous.read_text() == "robot: so101_arm\nperturbation: {mass_scale: 1.1}\n"
    assert not (tmp_path / "params.yaml.report.yaml").exists()
    with pytest.raises(SysidError, match="did not converge"):
        write_fit(fit(changed_arm, ["gain_scale"], budget=10), previous)


def test_randomisation_ranges_centred_on_the_identified_robot(tmp_path):
    from robolearn_sim import PerturbationRanges, save_perturbation

    fitted = Perturbation(mass_scale=1.3, action_latency_steps=1, joint_damping=0.02,
                          encoder_offset=(0.01, 0.0, -0.02, 0.0, 0.0, 0.0))
    save_perturbation(fitted, tmp_path / "params.yaml", "so101_arm")
    ranges = PerturbationRanges(mass_scale=(0.9, 1.1), action_latency_steps=(0, 1), encoder_offset=(-0.01, 0.01),
                                centre=str(tmp_path / "params.yaml"))
    assert ranges.centre == fitted
    low, high = ranges.bound("low"), ranges.bound("high")
    assert low.mass_scale == pytest.approx(1.17) and high.mass_scale == pytest.approx(1.43)
    assert (low.action_latency_steps, high.action_latency_steps) == (1, 2)
    assert high.encoder_offset == pytest.approx((0.02, 0.01, -0.01, 0.01, 0.01, 0.01))
    assert high.joint_damping == pytest.approx(0.02)  # a fixed field keeps the centre's value
    assert PerturbationRanges.from_dict(ranges.to_dict()) == ranges
    document = tmp_path / "ranges.yaml"
    save_perturbation(ranges, document, "so101_arm")
    with make_robot("so101_arm", perturbation=str(document)) as robot:
        for seed in range(3):
            robot.reset(seed=seed)
            drawn = robot.perturbation
            assert 1.17 <= min(drawn.mass_scale) and max(drawn.mass_scale) <= 1.43
            assert drawn.action_latency_steps in (1, 2)
    beside = tmp_path / "ranges_beside.yaml"  # a relative centre is read beside the ranges file
    beside.write_text("robot: so101_arm\nranges: {mass_scale: [0.9, 1.1], centre: params.yaml}\n")
    assert load_perturbation(str(beside), "so101_arm").centre == fitted
    with pytest.raises(ValueError, match="centre must be one Perturbation"):
        PerturbationRanges(centre={"ranges": {"mass_scale": [1, 2]}})


def test_the_excite_command_records_the_sim_robot_of_a_task_and_refuses_before_motion(tmp_path, capsys):
    out = tmp_path / "rec.npz"
    assert main(["sysid", "excite", "ArmReach", "--out", str(out), "--actuator", "sts3215", "--segment-s", "0.5",
                 "--commands", "elbow_flex"]) == 0
    recording = Recording.load(out)
    assert recording.robot == "so101_arm" and len(recording) == 15
    assert recording.meta["sim"]["options"] == SERVO and recording.meta["sim"]["perturbation"]["mass_scale"] == 1.0
    capsys.readouterr()
    refused = tmp_path / "refused.npz"
    assert main(["sysid", "excite", "so101_arm", "--out", str(refused), "--amplitude", "1",
                 "--commands", "elbow_flex"]) == 1
    assert "outside its limits" in capsys.readouterr().err and not refused.exists()
    assert main(["sysid", "excite", "so101_arm", "--out", str(refused), "--calibration", "arm.yaml"]) == 1
    assert "add --port" in capsys.readouterr().err


def test_the_excite_command_drives_the_real_arm_through_its_safety_layer(tmp_path):
    """`--port`: the same excitation on the real arm (the protocol-true virtual Feetech bus on a pseudo-terminal,
    driven by the vendor SDK), from where it stands, recorded with the hardware's own timestamps."""
    from virtual_devices.bus_families import FAMILIES

    from robolearn.calibration.motors import ArmCalibration, MotorCalibration
    from robolearn.robots.registry import robot_definition

    feetech = FAMILIES["feetech"]
    joints = robot_definition("so101_arm").command_names
    ids = {name: i + 1 for i, name in enumerate(joints)}
    calibration = ArmCalibration(robot="so101_arm", bus="feetech", motors=tuple(
        MotorCalibration(name=n, id=ids[n], model=feetech.model, resolution=4096, homing_offset=2048, direction=1,
                         range_min=300, range_max=3800) for n in joints)).save(tmp_path / "arm.yaml")
    out = tmp_path / "real.npz"
    with feetech.virtual({i: feetech.number for i in ids.values()}) as bus:
        assert main(["sysid", "excite", "so101_arm", "--port", bus.path, "--calibration", str(calibration),
                     "--out", str(out), "--segment-s", "0.5", "--commands", "elbow_flex"]) == 0
        assert bus.servos[ids["elbow_flex"]].position_writes > 0
    recording = Recording.load(out)
    assert recording.meta["source"] == "hardware" and len(recording) == 15
    assert np.ptp(recording.observations["joint_pos"][:, 2]) > 0.02  # the elbow followed the excitation
    assert np.all(np.diff(recording.command_times) > 0)
