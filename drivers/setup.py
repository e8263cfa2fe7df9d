"""colcon (ament_python) build of robolearn_drivers, for robots with ROS 2 from apt.

    cd <workspace>/src && git clone <robolearn> && cd <workspace>
    pip install -e src/robolearn[hardware,sim]     # the library the nodes import
    colcon build --packages-select robolearn_drivers && source install/setup.bash
    ros2 launch robolearn_drivers robot.launch.py ...

colcon runs this file from drivers/, while the launch files live in the repository's top-level launch/
(DESIGN.md section 2): they are listed by a path relative to this directory and copied (no symlinks) into
share/robolearn_drivers/launch, next to config/, so `ros2 launch robolearn_drivers <file>` finds them and
FindPackageShare resolves the parameter files. (pip installs the same Python package from the repository
root's pyproject.toml; this file is only for colcon.)
"""

from glob import glob
from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = "robolearn_drivers"
HERE = Path(__file__).resolve().parent


def relative(pattern: str) -> list[str]:
    """Files matching `pattern`, relative to drivers/ (colcon's working directory here)."""
    return sorted(glob(pattern, root_dir=HERE))


# node executables: `ros2 run robolearn_drivers <name>`, and the names the launch files use.
NODES = {
    "driver_node": "robolearn_drivers.ros.driver_node:main",
    "sim_node": "robolearn_drivers.ros.sim_node:main",
    "policy_node": "robolearn_drivers.ros.policy_node:main",
    "camera_node": "robolearn_drivers.ros.camera_node:main",
    "train_on_robot": "robolearn_drivers.ros.train_on_robot:main",
    "record_on_robot": "robolearn_drivers.ros.record_on_robot:main",
    "keyboard_joy": "robolearn_drivers.ros.keyboard_joy:main",
    "lifecycle_driver_node": "robolearn_drivers.ros.lifecycle_driver_node:main",
}

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", relative("../launch/*.launch.py")),
        (f"share/{PACKAGE}/config", relative("config/*.yaml")),
    ],
    install_requires=["setuptools"],
    zip_safe=False,
    maintainer="robolearn maintainers",
    maintainer_email="maintainers@robolearn.invalid",
    description="robolearn on ROS 2: driver, sim, policy and camera nodes, RosRobot, launch files",
    license="Apache-2.0",
    entry_points={"console_scripts": [f"{name} = {target}" for name, target in NODES.items()]},
)
