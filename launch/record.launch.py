"""Record episodes on the robot through ROS: the driver (or sim) node plus record_on_robot (RosRobot).

    ros2 launch robolearn_drivers record.launch.py use_sim:=true robot_model:=so101_arm \
        task:=robolearn/ArmReach-v0 by:=gamepad:/dev/input/event5 episodes:=10 out:=data/reach_on_robot
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
        DeclareLaunchArgument("robot_model", default_value="so101_arm", description="the robot to record on"),
        DeclareLaunchArgument("task", default_value="robolearn/ArmReach-v0", description="robolearn task id"),
        DeclareLaunchArgument("by", default_value="expert", description="expert | gamepad:PATH | "
                              "spacemouse:PATH | leader:PORT:CAL.yaml | policy.onnx"),
        DeclareLaunchArgument("episodes", default_value="10", description="episodes to keep"),
        DeclareLaunchArgument("out", default_value="data/on_robot", description="dataset folder (or resumed)"),
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
            executable="record_on_robot",
            name="record_on_robot",
            namespace=namespace,
            parameters=[
                PathJoinSubstitution([FindPackageShare(PACKAGE), "config", "record.yaml"]),
                {
                    "robot_model": robot_model,
                    "task": LaunchConfiguration("task"),
                    "by": ParameterValue(LaunchConfiguration("by"), value_type=str),
                    "episodes": ParameterValue(LaunchConfiguration("episodes"), value_type=int),
                    "out": ParameterValue(LaunchConfiguration("out"), value_type=str),
                },
            ],
            output="screen",
        ),
    ])
