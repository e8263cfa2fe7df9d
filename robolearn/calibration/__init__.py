"""Calibration procedures (non-interactive) and the calibration file schemas.

- `motors`: servo ids, homing offsets, directions and ranges of motion (`calibration/<robot>/<id>.yaml`).
- `camera`: camera intrinsics from chessboard images.
- `handeye`: camera pose relative to the gripper or the base.

The prompts that guide a person through them live in `robolearn calibrate` only.
"""

from robolearn.calibration.files import SCHEMA_VERSION, CalibrationError

__all__ = ["SCHEMA_VERSION", "CalibrationError"]
