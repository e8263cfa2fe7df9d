"""Bring up a robot: the hardware driver (or the PyBullet robot with use_sim:=true) behind the robot topics,
and optionally its camera.

    ros2 launch robolearn_drivers robot.launch.py robot_model:=so101_arm port:=/dev/ttyACM0 \
        calibration_file:=/path/to/motors.yaml namespace:=arm1 camera:=true camera_source:=/dev/video0
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
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
        DeclareLaunchArgument("camera", default_value="false", description="true: start the camera node too"),
        DeclareLaunchArgument("camera_source", default_value="/dev/video0", description="device or video file"),
        DeclareLaunchArgument("intrinsics_file", default_value="", description="camera intrinsics YAML"),
        Node(
            package=PACKAGE,
            executable="driver_node",
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
                },
            ],
            output="screen",
        ),
        Node(
            package=PACKAGE,
            executable="camera_node",
            name="camera",
            namespace=LaunchConfiguration("namespace"),
            condition=IfCondition(LaunchConfiguration("camera")),
            parameters=[
                PathJoinSubstitution([FindPackageShare(PACKAGE), "config", "camera.yaml"]),
                {
                    "source": ParameterValue(LaunchConfiguration("camera_source"), value_type=str),
                    "intrinsics_file": ParameterValue(LaunchConfiguration("intrinsics_file"), value_type=str),
                },
            ],
            output="screen",
        ),
    ])
