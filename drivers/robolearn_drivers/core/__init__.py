"""ROS-free logic behind the nodes: parameter validation, robot construction, the driver loop that owns a
Robot and its SafetyController, command parsing, the policy loop and the camera source. Tested without ROS.
"""
