"""Deploy an exported policy: the driver (or sim) node plus the policy node running the ONNX file.

    ros2 launch robolearn_drivers deploy.launch.py robot_model:=so101_arm policy_path:=/path/policy.onnx \
        calibration_file:=/path/to/motors.yaml
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
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
        IncludeLaunchDescription(  # the robot exactly as robot.launch.py brings it up (one definition)
            PythonLaunchDescriptionSource(PathJoinSubstitution([FindPackageShare(PACKAGE), "launch", "robot.launch.py"])),
            launch_arguments={
                "robot_model": robot_model,
                "port": LaunchConfiguration("port"),
                "calibration_file": LaunchConfiguration("calibration_file"),
                "use_sim": LaunchConfiguration("use_sim"),
                "namespace": namespace,
            }.items(),
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
