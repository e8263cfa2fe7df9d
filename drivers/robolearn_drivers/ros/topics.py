"""Default (relative) names of the robot contract; all remappable with --ros-args -r."""

JOINT_STATES = "joint_states"
JOINT_COMMANDS = "joint_commands"
CMD_VEL = "cmd_vel"
ODOM = "odom"
HAZARDS = "hazards"
ESTOP = "estop"
SAFETY_RESET = "safety/reset"
ROBOT_RESET = "robot/reset"
# Absolute: diagnostic_aggregator and rqt_robot_monitor read /diagnostics only, whatever the robot namespace.
DIAGNOSTICS = "/diagnostics"
IMAGE = "camera/image_raw"
CAMERA_INFO = "camera/camera_info"
