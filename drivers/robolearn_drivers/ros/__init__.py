"""The ROS 2 layer: thin rclpy nodes (driver/sim, policy, camera), RosRobot, and message conversion.

The only package of robolearn that imports rclpy; everything it does beyond translating messages lives in
robolearn_drivers.core.
"""
