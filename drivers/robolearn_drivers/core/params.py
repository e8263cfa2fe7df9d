"""Validated parameters of the driver (and sim) node, independent of how ROS delivered them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from robolearn.safety.limits import calibration_dir

from robolearn_drivers.core.errors import ConfigurationError

# Above this the Python loop cannot keep its period on a loaded machine; ros2_control runs faster in C++.
MAX_CONTROL_RATE_HZ = 1000.0
MAX_REAL_TIME_FACTOR = 100.0


@dataclass(frozen=True)
class DriverParams:
    robot_model: str
    use_sim: bool = False
    port: str = ""
    calibration_file: str = ""
    limits_file: str = ""  # "": calibration/<robot>/limits.yaml
    control_rate_hz: float = 0.0  # 0: the rate in the robot's limits.yaml
    sim_seed: int = 0
    diagnostics_period_s: float = 0.5
    real_time_factor: float = 1.0  # sim only: simulated seconds per wall-clock second
    frame_prefix: str = ""  # before every tf frame id (robot_state_publisher's frame_prefix), for several robots
    # Servo arms: a first command far from the measured pose is refused ("refuse") or ramped to ("ramp": the
    # operator configured the move, which counts as confirming it).
    far_start: str = "refuse"

    def tick_period_s(self, control_period_s: float) -> float:
        """Wall-clock period of the control thread: shorter than the robot's control period when a
        simulation runs faster than real time, so simulated time advances one period per tick either way."""
        return control_period_s / self.real_time_factor

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> "DriverParams":
        """Build and validate from node parameters; raises ConfigurationError naming the bad parameter."""
        model = str(values.get("robot_model", "") or "").strip()
        if not model:
            raise ConfigurationError("parameter robot_model is empty: set it to a robot model such as so101_arm")
        params = cls(
            robot_model=model,
            use_sim=bool(values.get("use_sim", False)),
            port=str(values.get("port", "") or ""),
            calibration_file=str(values.get("calibration_file", "") or ""),
            limits_file=str(values.get("limits_file", "") or ""),
            control_rate_hz=_float(values.get("control_rate_hz", 0.0), "control_rate_hz"),
            sim_seed=int(values.get("sim_seed", 0)),
            diagnostics_period_s=_float(values.get("diagnostics_period_s", 0.5), "diagnostics_period_s"),
            real_time_factor=_float(values.get("real_time_factor", 1.0), "real_time_factor"),
            frame_prefix=str(values.get("frame_prefix", "") or ""),
            far_start=str(values.get("far_start", "refuse") or "refuse"),
        )
        params.validate()
        return params

    def validate(self) -> None:
        rate = self.control_rate_hz
        if not math.isfinite(rate) or rate < 0 or rate > MAX_CONTROL_RATE_HZ:
            raise ConfigurationError(
                f"parameter control_rate_hz={rate} is invalid: use 0 (the rate in the robot's limits.yaml) or a "
                f"rate in (0, {MAX_CONTROL_RATE_HZ:g}] Hz"
            )
        if not math.isfinite(self.diagnostics_period_s) or self.diagnostics_period_s <= 0:
            raise ConfigurationError(
                f"parameter diagnostics_period_s={self.diagnostics_period_s} must be a positive number of seconds"
            )
        if not math.isfinite(self.real_time_factor) or not 0 < self.real_time_factor <= MAX_REAL_TIME_FACTOR:
            raise ConfigurationError(
                f"parameter real_time_factor={self.real_time_factor} is invalid: use a number in "
                f"(0, {MAX_REAL_TIME_FACTOR:g}] (simulated seconds per wall-clock second; 1 is real time)"
            )
        if not self.use_sim and self.real_time_factor != 1.0:
            raise ConfigurationError(
                f"parameter real_time_factor={self.real_time_factor} applies to simulated robots only: real "
                f"hardware ({self.robot_model}) runs in real time; set it to 1.0 or use_sim to true"
            )
        if self.far_start not in ("refuse", "ramp"):
            raise ConfigurationError(f"parameter far_start={self.far_start!r} is invalid: use refuse (a start far "
                                     f"from the measured pose is refused) or ramp (it is ramped to)")
        if self.limits_file and not Path(self.limits_file).is_file():
            raise ConfigurationError(
                f"limits file {self.limits_file} does not exist: fix the limits_file parameter, or leave it empty "
                f"for {calibration_dir() / self.robot_model / 'limits.yaml'}"
            )
        if not self.use_sim:
            if not self.calibration_file:
                raise ConfigurationError(
                    f"parameter calibration_file is empty: real hardware ({self.robot_model}) needs its motor "
                    f"calibration; run `robolearn calibrate motors` and pass the file it writes"
                )
            if not Path(self.calibration_file).is_file():
                raise ConfigurationError(
                    f"calibration file {self.calibration_file} does not exist: run `robolearn calibrate motors` "
                    f"or fix the calibration_file parameter"
                )


def _float(value: Any, name: str) -> float:
    if isinstance(value, bool):
        raise ConfigurationError(f"parameter {name} must be a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"parameter {name} must be a number, got {value!r}") from None
