"""The driver as a managed (lifecycle) node, for launch systems that bring nodes up in order.

configure: validate parameters, open the bus (or the sim) and check the calibration, create the topics;
activate: start the control loop and accept commands (the first command turns the torque on);
deactivate: stop accepting commands and hold (the robot's stop command, written once);
cleanup / shutdown: stop and disconnect the robot (torque off) and remove the topics.
A transition out of order is refused by rclpy's lifecycle state machine (change_state answers false).

`autostart:=true` configures and activates the node as soon as it starts (nav2's lifecycle manager's
`autostart`, without a manager: launch_ros is not on the package index, so managed_robot.launch.py cannot
send the transitions itself); a configure that fails leaves it unconfigured, with the reason on diagnostics.
"""

from __future__ import annotations

from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn

from robolearn_drivers.ros.driver_node import DriverNode
from robolearn_drivers.ros.node_main import run_node


class LifecycleDriverNode(DriverNode, LifecycleNode):
    def __init__(self, node_name: str = "robot_driver", use_sim_default: bool = False) -> None:
        super().__init__(node_name, use_sim_default=use_sim_default, managed=True)
        # rclpy 7.1.6 (Jazzy) raises out of the change_state service on a transition the current state does not
        # have, which ends the process; answer success=false with a log line instead, as rclcpp does.
        for service in self.services:
            if service.srv_name.endswith("/change_state"):
                service.callback = self._refusing_bad_transitions(service.callback)
        if self.declare_parameter("autostart", False).value:
            self._autostart()

    def _autostart(self) -> None:
        if self.trigger_configure() != TransitionCallbackReturn.SUCCESS:
            self.get_logger().error("autostart: configure failed (see the reason above); staying unconfigured")
            return
        if self.trigger_activate() != TransitionCallbackReturn.SUCCESS:
            self.get_logger().error("autostart: activate failed; the driver stays inactive")
            return
        self.get_logger().info("autostart: configured and active")

    def _refusing_bad_transitions(self, change_state):
        def guarded(request, response):
            try:
                return change_state(request, response)
            except Exception as exc:  # rclpy's RCLError for a transition that does not exist here
                state = self._state_machine.current_state[1]
                self.get_logger().error(f"lifecycle transition {request.transition.id} "
                                        f"{request.transition.label!r} is not available in state {state}: {exc}")
                response.success = False
                return response
        return guarded

    def _entities(self) -> set:
        return {*self.publishers, *self.subscriptions, *self.services, *self.timers}

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._before_configure = self._entities()
        if not self._open():
            return TransitionCallbackReturn.FAILURE
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._activate()
        return TransitionCallbackReturn.SUCCESS

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._deactivate("deactivated")
        return TransitionCallbackReturn.SUCCESS

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._close()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState | None = None) -> TransitionCallbackReturn:
        """The lifecycle shutdown transition, and the process exit (run_node calls it without a state)."""
        self._close()
        return TransitionCallbackReturn.SUCCESS

    def _close(self) -> None:
        DriverNode.on_shutdown(self)  # stops the control thread and disconnects the robot (torque off)
        self._active = False
        # Remove what configure created, so a second configure starts clean.
        for entity in self._entities() - getattr(self, "_before_configure", self._entities()):
            for destroy in (self.destroy_publisher, self.destroy_subscription, self.destroy_service,
                            self.destroy_timer):
                try:
                    if destroy(entity):
                        break
                except (TypeError, AttributeError):
                    continue


def main(args: list[str] | None = None) -> int:
    return run_node(lambda: LifecycleDriverNode("robot_driver", use_sim_default=False), args)


if __name__ == "__main__":
    raise SystemExit(main())
