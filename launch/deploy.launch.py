"""Deploy an exported policy: the driver (or sim) node plus the policy node running the ONNX file.

    ros2 launch robolearn_drivers deploy.launch.py robot_model:=so101_arm policy_path:=/path/policy.onnx \
        calibration_file:=/path/to/motors.yaml
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

PACKAGE = "robolearn_drivers"


def generate_launch_description() -> LaunchDescription:
    robot_model = LaunchConfiguration("robot_model")
    namespace = LaunchConfiguration("namespace")
    return LaunchDescription([
        DeclareLaunchArgument("robot_model", default_value="so101_arm", description="the robot to drive"),
        DeclareLaunchArgument("policy_path", default_value="policy.onnx", description="exported ONNX policy"),
        DeclareLaunchArgument("port", default_value="/dev/ttyACM0", description="serial port of the robot"),
        DeclareLaunchArgument("calibration_file", default_value="", description="motor calibration YAML"),
        DeclareLaunchArgument("use_sim", default_value="false", description="true: the PyBullet robot"),
        DeclareLaunchArgument("namespace", default_value="", description="namespace of this robot's topics"),
        Node(
            package=PACKAGE,
            executable="driver_node",
            name="robot_driver",
            namespace=namespace,
            parameters=[
                PathJoinSubstitution([FindPackageShare(PACKAGE), "config", "robot.yaml"]),
                {
                    "robot_model": robot_model,
                    "port": ParameterValue(LaunchConfiguration("port"), value_type=str),
                    "calibration_file": ParameterValue(LaunchConfiguration("calibration_file"), value_type=str),
                    "use_sim": ParameterValue(LaunchConfiguration("use_sim"), value_type=bool),
                },
            ],
            output="screen",
        ),
        Node(
            package=PACKAGE,
            executable="policy_node",
            name="policy",
            namespace=namespace,
            parameters=[
                PathJoinSubstitution([FindPackageShare(PACKAGE), "config", "policy.yaml"]),
                {
                    "robot_model": robot_model,
                    "policy_path": ParameterValue(LaunchConfiguration("policy_path"), value_type=str),
                },
            ],
            output="screen",
        ),
    ])
