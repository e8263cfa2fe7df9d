"""Limits files: every malformed input is refused with a message that names the problem."""

from __future__ import annotations

import copy

import pytest
import yaml

from robolearn.safety import LimitsError, SafetyLimits, load_robot_limits
from robolearn.spec import CommandKind

GOOD = {
    "schema_version": 2,
    "robot": "bot",
    "command_kind": "twist",
    "control_rate_hz": 20,
    "commands": [
        {"name": "linear_x", "low": -0.5, "high": 0.5, "max_acceleration": 1.0},
        {"name": "angular_z", "low": -2, "high": 2},
    ],
    "workspace": {"low": [-3, -3], "high": [3, 3]},
}


def write(tmp_path, data, name="limits.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


def test_round_trip(tmp_path):
    limits = SafetyLimits.from_yaml(write(tmp_path, GOOD))
    assert limits.command_kind is CommandKind.TWIST
    assert limits.names == ("linear_x", "angular_z")
    assert limits.max_rate[1] == float("inf") and limits.max_rate[0] == 1.0
    again = SafetyLimits.from_dict(limits.to_dict())
    assert again.names == limits.names and again.low.tolist() == limits.low.tolist()
    assert limits.torque_off_after_hold_s is None  # default: a stop holds as long as it lasts
    timed = SafetyLimits.from_dict({**GOOD, "torque_off_after_hold_s": 30})
    assert SafetyLimits.from_dict(timed.to_dict()).torque_off_after_hold_s == 30.0


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.pop("commands"), "missing required key 'commands'"),
        (lambda d: d.update(schema_version=0), "schema_version 0 is not supported"),
        (lambda d: d.update(command_kind="teleport"), "command_kind 'teleport' unknown"),
        (lambda d: d.update(extra=1), r"unknown keys \['extra'\]"),
        (lambda d: d["commands"][0].update(low=1.0), "low 1.0 is above high 0.5"),
        (lambda d: d["commands"][0].update(max_acceleration=-1), "max_acceleration: must be > 0"),
        (lambda d: d["commands"][0].update(max_velocity=1.0), "max_velocity is for other command kinds"),
        (lambda d: d["commands"][0].update(high=float("nan")), "must be finite"),
        (lambda d: d["commands"][1].update(name="linear_x"), "duplicate command names"),
        (lambda d: d["commands"][0].update(low="zero"), "expected a number"),
        (lambda d: d.update(control_rate_hz=0), "control_rate_hz: must be > 0"),
        (lambda d: d.update(workspace={"low": [1, 1], "high": [0, 0]}), "workspace low/high"),
        (lambda d: d.update(commands=[]), "non-empty list"),
        (lambda d: d.update(torque_off_after_hold_s=0), "torque_off_after_hold_s: must be > 0"),
        (lambda d: d.update(torque_off_after_hold_s="soon"), "torque_off_after_hold_s: expected a number"),
    ],
)
def test_malformed_files_are_refused_with_the_reason(tmp_path, mutate, message):
    data = yaml.safe_load(yaml.safe_dump(GOOD))
    mutate(data)
    with pytest.raises(LimitsError, match=message):
        SafetyLimits.from_yaml(write(tmp_path, data))


def test_missing_file_says_where_and_what_to_do(tmp_path):
    with pytest.raises(LimitsError, match="does not exist.*limits.yaml"):
        SafetyLimits.from_yaml(tmp_path / "nope.yaml")


def test_not_yaml(tmp_path):
    with pytest.raises(LimitsError, match="not valid YAML"):
        SafetyLimits.from_yaml(write(tmp_path, "commands: [unclosed"))
    with pytest.raises(LimitsError, match="mapping at the top level"):
        SafetyLimits.from_yaml(write(tmp_path, "- 1\n- 2\n"))


def test_another_robots_limits_are_refused(tmp_path):
    path = write(tmp_path, GOOD)
    with pytest.raises(LimitsError, match="for robot 'bot', not 'other'"):
        load_robot_limits("other", path)
    assert load_robot_limits("bot", path).robot == "bot"


def test_calibration_dir_override(tmp_path, monkeypatch):
    (tmp_path / "bot").mkdir()
    write(tmp_path / "bot", GOOD)
    monkeypatch.setenv("ROBOLEARN_CALIBRATION_DIR", str(tmp_path))
    assert load_robot_limits("bot").control_rate_hz == 20


def test_a_rate_wider_than_the_range_is_refused_naming_the_file_under_a_calibration_dir(tmp_path, monkeypatch):
    (tmp_path / "bot").mkdir()
    data = copy.deepcopy(GOOD)
    data["commands"][0]["max_acceleration"] = 1e6  # wider than the command's whole range in one period
    write(tmp_path / "bot", data)
    monkeypatch.setenv("ROBOLEARN_CALIBRATION_DIR", str(tmp_path))
    expected = str(tmp_path / "bot" / "limits.yaml")
    with pytest.raises(LimitsError) as info:
        load_robot_limits("bot")
    assert str(info.value).startswith(expected) and "whole range" in str(info.value)
    write(tmp_path / "bot", GOOD)
    with pytest.raises(LimitsError) as info:
        load_robot_limits("other", tmp_path / "bot" / "limits.yaml")
    assert expected in str(info.value)
    assert load_robot_limits("bot").source == expected


def test_errors_name_the_file_they_came_from_under_a_calibration_dir_override(tmp_path, monkeypatch):
    from robolearn.safety.limits import load_robot_limits

    monkeypatch.setenv("ROBOLEARN_CALIBRATION_DIR", str(tmp_path))
    (tmp_path / "bot").mkdir()
    path = write(tmp_path / "bot", {**GOOD, "robot": "other"})
    with pytest.raises(LimitsError, match=str(path)):
        load_robot_limits("bot")
    bad = {**GOOD, "commands": [dict(GOOD["commands"][0], max_acceleration="fast")]}
    write(tmp_path / "bot", bad)
    with pytest.raises(LimitsError, match=str(path)):
        load_robot_limits("bot")
    assert SafetyLimits.from_yaml(write(tmp_path, GOOD, "ok.yaml")).source == str(tmp_path / "ok.yaml")
