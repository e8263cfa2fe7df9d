"""Train a learner on the robot through ROS: the driver (or sim) node plus train_on_robot (RosRobot).

    ros2 launch robolearn_drivers train.launch.py use_sim:=true robot_model:=so101_arm \
        task:=robolearn/ArmReach-v0 algo:=avg run_dir:=runs/reach_on_robot [async_actor:=true] [demos:=<dataset>] \
        [intervene:=joy|gamepad:/dev/input/eventN|spacemouse:PATH|leader:PORT:CAL.yaml|simulated]
        (joy: sensor_msgs/Joy from `robolearn-keyboard-joy` run in another terminal, or joy_node)
        [learner_address:=gpu-box:7000 key_file:=link.key]   # updates on another machine
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
        DeclareLaunchArgument("robot_model", default_value="so101_arm", description="the robot to train on"),
        DeclareLaunchArgument("task", default_value="robolearn/ArmReach-v0", description="robolearn task id"),
        DeclareLaunchArgument("algo", default_value="avg", description="learner (avg fits the control rate)"),
        DeclareLaunchArgument("run_dir", default_value="runs/on_robot", description="checkpoint and logs"),
        DeclareLaunchArgument("port", default_value="/dev/ttyACM0", description="serial port of the robot"),
        DeclareLaunchArgument("calibration_file", default_value="", description="motor calibration YAML"),
        DeclareLaunchArgument("use_sim", default_value="false", description="true: the PyBullet robot"),
        DeclareLaunchArgument("namespace", default_value="", description="namespace of this robot's topics"),
        DeclareLaunchArgument("async_actor", default_value="false",
                              description="true: the control loop in an actor process, updates apart (sac/avg)"),
        DeclareLaunchArgument("demos", default_value="", description="sac/lipbc: a dataset to train from"),
        DeclareLaunchArgument("intervene", default_value="",
                              description="sac: a human takes over with this teleop device (HIL-SERL); "
                                          "joy reads sensor_msgs/Joy, e.g. robolearn-keyboard-joy in a terminal"),
        DeclareLaunchArgument("learner_address", default_value="",
                              description="HOST:PORT of a remote `robolearn learner --listen`: the robot only acts"),
        DeclareLaunchArgument("key_file", default_value="", description="the link's key file (learner_address)"),
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
            executable="train_on_robot",
            name="train_on_robot",
            namespace=namespace,
            parameters=[
                PathJoinSubstitution([FindPackageShare(PACKAGE), "config", "train.yaml"]),
                {
                    "robot_model": robot_model,
                    "task": LaunchConfiguration("task"),
                    "algo": LaunchConfiguration("algo"),
                    "run_dir": ParameterValue(LaunchConfiguration("run_dir"), value_type=str),
                    "async_actor": ParameterValue(LaunchConfiguration("async_actor"), value_type=bool),
                    "demos": ParameterValue(LaunchConfiguration("demos"), value_type=str),
                    "intervene": ParameterValue(LaunchConfiguration("intervene"), value_type=str),
                    "learner_address": ParameterValue(LaunchConfiguration("learner_address"), value_type=str),
                    "key_file": ParameterValue(LaunchConfiguration("key_file"), value_type=str),
                },
            ],
            output="screen",
        ),
    ])
