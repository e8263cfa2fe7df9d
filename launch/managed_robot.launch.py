"""Bring up a robot with the managed (lifecycle) driver, configured and activated at start (`autostart`), e.g.
for a system whose other nodes watch its lifecycle state; otherwise as robot.launch.py.

    ros2 launch robolearn_drivers managed_robot.launch.py robot_model:=so101_arm port:=/dev/ttyACM0 \
        calibration_file:=/path/to/motors.yaml
    ros2 launch robolearn_drivers managed_robot.launch.py autostart:=false   # then: ros2 lifecycle set ...
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

PACKAGE = "robolearn_drivers"


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription([
        DeclareLaunchArgument("robot_model", default_value="so101_arm", description="so101_arm | diffdrive_base"),
        DeclareLaunchArgument("port", default_value="/dev/ttyACM0", description="serial port of the robot"),
        DeclareLaunchArgument("calibration_file", default_value="", description="motor calibration YAML"),
        DeclareLaunchArgument("use_sim", default_value="false", description="true: the PyBullet robot instead"),
        DeclareLaunchArgument("sim_seed", default_value="0", description="seed of the simulation (use_sim)"),
        DeclareLaunchArgument("namespace", default_value="", description="namespace of this robot's topics"),
        DeclareLaunchArgument("autostart", default_value="true",
                              description="true: configure and activate at start; false: wait for transitions"),
        Node(
            package=PACKAGE,
            executable="lifecycle_driver_node",
            name="robot_driver",
            namespace=LaunchConfiguration("namespace"),
            parameters=[
                PathJoinSubstitution([FindPackageShare(PACKAGE), "config", "robot.yaml"]),
                {
                    "robot_model": LaunchConfiguration("robot_model"),
                    "port": ParameterValue(LaunchConfiguration("port"), value_type=str),
                    "calibration_file": ParameterValue(LaunchConfiguration("calibration_file"), value_type=str),
                    "use_sim": ParameterValue(LaunchConfiguration("use_sim"), value_type=bool),
                    "sim_seed": ParameterValue(LaunchConfiguration("sim_seed"), value_type=int),
                    "autostart": ParameterValue(LaunchConfiguration("autostart"), value_type=bool),
                },
            ],
            output="screen",
        ),
    ])
