"""The PyBullet robot behind exactly the hardware driver's topics and services: robot.launch.py with
use_sim:=true (one definition of the driver node for every launch file).

    ros2 launch robolearn_drivers sim.launch.py robot_model:=so101_arm namespace:=arm1
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.substitutions import FindPackageShare

PACKAGE = "robolearn_drivers"


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription([
        DeclareLaunchArgument("robot_model", default_value="so101_arm", description="a robolearn_sim robot"),
        DeclareLaunchArgument("sim_seed", default_value="0", description="seed of the simulation"),
        DeclareLaunchArgument("namespace", default_value="", description="namespace of this robot's topics"),
        # Passed on as an argument, not a literal "true": tests/test_launch_files.py maps include arguments.
        DeclareLaunchArgument("use_sim", default_value="true", description="keep true: the PyBullet robot"),
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(
                PathJoinSubstitution([FindPackageShare(PACKAGE), "launch", "robot.launch.py"])),
            launch_arguments={
                "robot_model": LaunchConfiguration("robot_model"),
                "use_sim": LaunchConfiguration("use_sim"),
                "sim_seed": LaunchConfiguration("sim_seed"),
                "namespace": LaunchConfiguration("namespace"),
            }.items(),
        ),
    ])
