"""Default (relative) names of the robot contract; all remappable with --ros-args -r."""

JOINT_STATES = "joint_states"
JOINT_COMMANDS = "joint_commands"
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
ROBOT_DESCRIPTION = "robot_description"  # std_msgs/String, the URDF, latched
IMAGE = "camera/image_raw"
CAMERA_INFO = "camera/camera_info"
