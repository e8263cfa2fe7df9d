"""The PyBullet robot behind exactly the hardware driver's topics and services.

    ros2 launch robolearn_drivers sim.launch.py robot_model:=so101_arm namespace:=arm1
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
        DeclareLaunchArgument("robot_model", default_value="so101_arm", description="a robolearn_sim robot"),
        DeclareLaunchArgument("sim_seed", default_value="0", description="seed of the simulation"),
        DeclareLaunchArgument("namespace", default_value="", description="namespace of this robot's topics"),
        Node(
            package=PACKAGE,
            executable="sim_node",
            name="sim_driver",
            namespace=LaunchConfiguration("namespace"),
            parameters=[
                PathJoinSubstitution([FindPackageShare(PACKAGE), "config", "sim.yaml"]),
                {
                    "robot_model": LaunchConfiguration("robot_model"),
                    "sim_seed": ParameterValue(LaunchConfiguration("sim_seed"), value_type=int),
                },
            ],
            output="screen",
        ),
    ])
