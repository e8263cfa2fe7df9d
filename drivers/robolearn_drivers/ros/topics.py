"""Default (relative) names of the robot contract; all remappable with --ros-args -r."""

JOINT_STATES = "joint_states"
JOINT_COMMANDS = "joint_commands"
# sensor_msgs/JointState commands by joint name (position, velocity or effort, as the robot takes them): point
# topic_based_ros2_control's joint_commands_topic here and its joint_states_topic at joint_states.
JOINT_COMMANDS_BY_NAME = "joint_commands_by_name"
CMD_VEL = "cmd_vel"  # geometry_msgs/TwistStamped, as Jazzy's diff_drive_controller takes it
CMD_VEL_UNSTAMPED = "cmd_vel_unstamped"  # plain Twist (teleop_twist_keyboard and older tools)
JOINT_TRAJECTORY = "joint_trajectory"
ODOM = "odom"
HAZARDS = "hazards"
ESTOP = "estop"
SAFETY_RESET = "safety/reset"
ROBOT_RESET = "robot/reset"
CONFIRM_FAR_START = "robot/confirm_far_start"  # the operator accepts a start far from the measured pose
# Absolute: diagnostic_aggregator and rqt_robot_monitor read /diagnostics only, whatever the robot namespace.
DIAGNOSTICS = "/diagnostics"
CLOCK = "/clock"
TF = "/tf"  # tf2's topics are absolute too; several robots in one tree keep apart with frame_prefix
TF_STATIC = "/tf_static"
ROBOT_DESCRIPTION = "robot_description"  # std_msgs/String, the URDF, latched
IMAGE = "camera/image_raw"
CAMERA_INFO = "camera/camera_info"
