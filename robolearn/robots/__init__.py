"""What a robot is, independent of how it is driven (simulation, serial hardware, ROS): its URDF, forward
kinematics and workspace models, in numpy only so the deploy path needs neither PyBullet nor torch."""

from pathlib import Path

URDF_DIR = Path(__file__).resolve().parent / "urdf"
