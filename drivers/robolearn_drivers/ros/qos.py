"""Explicit QoS for every topic of the robot contract (DESIGN.md section 3), in one place.

State and commands keep only the newest sample: an old command or measurement is worse than none, and the
watchdog / stale-observation guard cover losses.

Matching rule (ROS 2 QoS docs): a RELIABLE reader needs a RELIABLE writer and a TRANSIENT_LOCAL reader needs a
TRANSIENT_LOCAL writer; a BEST_EFFORT + VOLATILE reader matches every writer. So:
- state and command subscribers are BEST_EFFORT + VOLATILE: they accept reliable and sensor-data publishers;
- the e-stop is published RELIABLE + TRANSIENT_LOCAL (latched: a driver that starts late still sees it) and
  received twice, by a latched subscription and by a match-anything one, so an e-stop from a default-QoS or
  sensor-data publisher is never dropped; the driver reports such a publisher as an ERROR on /diagnostics,
  because its e-stop would not reach a driver that restarts after it was sent.
"""

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

STATE_PUB = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.RELIABLE,
                       durability=DurabilityPolicy.VOLATILE)
STATE_SUB = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.BEST_EFFORT,
                       durability=DurabilityPolicy.VOLATILE)
COMMAND = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.VOLATILE)
COMMAND_SUB = STATE_SUB  # accepts reliable and best-effort (sensor-data) command publishers
# Trajectories are queued, not newest-only: one stamped in the future is appended to the one before it, so
# dropping the earlier of two sent back to back would lose motion the client asked for.
TRAJECTORY = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE,
                        durability=DurabilityPolicy.VOLATILE)
TRAJECTORY_SUB = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.BEST_EFFORT,
                            durability=DurabilityPolicy.VOLATILE)
ESTOP = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.RELIABLE,
                   durability=DurabilityPolicy.TRANSIENT_LOCAL)
# The fallback e-stop subscription: matches publishers of any reliability and durability. Depth 10 so a burst
# of False messages cannot push a True out before the callback runs.
ESTOP_ANY = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.BEST_EFFORT,
                       durability=DurabilityPolicy.VOLATILE)
DIAGNOSTICS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.VOLATILE)
# rclpy's TimeSource subscribes to /clock best-effort (KEEP_LAST 1); a reliable writer matches it too.
CLOCK = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.RELIABLE,
                   durability=DurabilityPolicy.VOLATILE)
# robot_state_publisher's and controller_manager's robot_description: latched, newest only.
LATCHED = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)
# tf2_ros's broadcaster and listener profiles: /tf keeps 100, /tf_static is LATCHED (one message, every
# fixed transform in it).
TF = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100, reliability=ReliabilityPolicy.RELIABLE,
                durability=DurabilityPolicy.VOLATILE)
CAMERA = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.BEST_EFFORT,
                    durability=DurabilityPolicy.VOLATILE)
# A human's teleop input (sensor_msgs/Joy, as joy_node publishes it with the default reliable profile): every
# message kept, not newest-only, so a button pressed and released between two reads is still seen; the
# subscriber is best-effort, so reliable and sensor-data publishers both match.
TELEOP_PUB = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE,
                        durability=DurabilityPolicy.VOLATILE)
TELEOP = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.BEST_EFFORT,
                    durability=DurabilityPolicy.VOLATILE)
