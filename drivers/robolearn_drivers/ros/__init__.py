"""The ROS 2 layer: thin rclpy nodes, RosRobot, and message conversion. The only package that imports rclpy;
everything beyond translating messages lives in robolearn_drivers.core (ROS-free, tested without ROS).

Executables (`ros2 run robolearn_drivers <name>`, or `python -m robolearn_drivers.ros.<name>`):

- driver_node / sim_node: one robot (hardware, or the PyBullet robot with use_sim) behind the contract below;
  parameters robot_model, use_sim, port, calibration_file, limits_file, control_rate_hz, sim_seed,
  diagnostics_period_s, real_time_factor, frame_prefix (drivers/config/robot.yaml, sim.yaml).
- policy_node: an exported ONNX policy acting on the robot's state (policy_path, robot_model, seed, limits_file).
- camera_node: OpenCV frames and intrinsics (source, width, height, fps, max_age_s, intrinsics_file, frame_id).
- train_on_robot: a robolearn learner training through RosRobot (robot_model, task, algo, config_file, steps,
  run_dir, seed, device).

Topics and services, relative to the node's namespace (DESIGN.md section 3; QoS in qos.py):

    joint_states    sensor_msgs/JointState          driver -> (joint robots)
    joint_commands  std_msgs/Float64MultiArray      -> driver, in the robot's command order
    joint_commands_by_name sensor_msgs/JointState   -> driver, by joint name (topic_based_ros2_control)
    follow_joint_trajectory control_msgs/FollowJointTrajectory action (position arms; trajectory_action.py)
    odom            nav_msgs/Odometry               driver -> (bases)
    hazards         std_msgs/Float64MultiArray      driver -> (bases: bump_left, bump_right, cliff, wheel_drop)
    cmd_vel         geometry_msgs/TwistStamped      -> driver (bases: linear.x, angular.z; Twist on cmd_vel_unstamped)
    joint_trajectory trajectory_msgs/JointTrajectory -> driver (position arms; interpolated at the control rate,
                                                    spliced at the header stamp: now replaces, future appends)
    estop           std_msgs/Bool                   -> driver; true latches; any QoS received (qos.py)
    safety/reset    std_srvs/Trigger                clears the e-stop; motion resumes on a fresh command
    robot/reset     std_srvs/Trigger                a new episode (sim: new start state; hardware: home)
    /diagnostics    diagnostic_msgs/DiagnosticArray safety status (absolute, named "<ns>/<node>: safety")
    /clock          rosgraph_msgs/Clock             sim_node -> (simulated time; set use_sim_time:=true)
    /tf, /tf_static tf2_msgs/TFMessage              driver -> (URDF joint frames, odom -> base_link; tf_publisher.py)
    robot_description std_msgs/String               driver -> (the URDF, latched)
    camera/image_raw, camera/camera_info            camera_node -> (rgb8 + intrinsics)
"""
