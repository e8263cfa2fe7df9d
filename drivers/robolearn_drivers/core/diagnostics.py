"""Safety status as a diagnostic summary (level, message, key/values), independent of the ROS message.

Levels by meaning, as diagnostic_aggregator and rqt_robot_monitor read them: ERROR when safety is
compromised or the robot stopped for a fault (e-stop, malformed or non-finite command, overload, a driver
fault, a safety topic whose publisher QoS cannot be trusted); STALE when the robot stopped because its state
stopped arriving; WARN when a command was changed (clipped, rate limited) or commands stopped (watchdog);
OK otherwise (an idle robot that has had no command yet is OK).
"""

from __future__ import annotations

from dataclasses import dataclass, field

OK, WARN, ERROR, STALE = 0, 1, 2, 3  # the levels of diagnostic_msgs/DiagnosticStatus

# Stop reasons (robolearn.safety and the driver loop's own) by the level they mean.
_STALE_REASONS = frozenset({"stale_observation", "no_observation"})
_WARN_REASONS = frozenset({"watchdog", "command_before_reset"})
_OK_REASONS = frozenset({"no_command"})  # idle: no command received yet
# Anything else that stops the robot (e-stop, malformed/non-finite command, overload, hazard, workspace,
# clock_backwards, driver_fault, reasons added later) is an ERROR: unknown is never reported as fine.


@dataclass(frozen=True)
class DiagnosticSummary:
    name: str
    level: int
    message: str
    values: dict[str, str] = field(default_factory=dict)
    hardware_id: str = ""


def stop_level(reasons: tuple[str, ...]) -> int:
    """The level a stop for `reasons` means (the worst of them)."""
    def level(reason: str) -> int:
        if reason in _STALE_REASONS:
            return STALE
        if reason in _OK_REASONS:
            return OK
        return WARN if reason in _WARN_REASONS else ERROR
    levels = [level(r) for r in reasons]
    if ERROR in levels:
        return ERROR
    return max(levels, default=OK)


def safety_summary(name: str, robot: str, status: dict, stopped: tuple[str, ...] = (),
                   adjusted: tuple[str, ...] = (), qos_problems: tuple[str, ...] = ()) -> DiagnosticSummary:
    """The driver's safety status: `stopped` are the reasons of the stop in force (empty: running),
    `adjusted` what changed the last applied command (clipping, rate limiting), `qos_problems` one sentence
    per safety-topic publisher whose QoS the driver cannot trust, each saying how to fix it."""
    values = {
        "estopped": str(bool(status["estopped"])).lower(),
        "estop_reason": status["estop_reason"],
        "stop_reason": status.get("stop_reason", ""),
        "last_stop": ",".join(stopped),
        "last_adjustment": ",".join(adjusted),
        "last_rejection": status.get("last_rejection", ""),
        "last_command": "" if status.get("last_command") is None
        else " ".join(f"{v:.6g}" for v in status["last_command"]),
        "torque_off": str(bool(status.get("torque_off", False))).lower(),
    }
    for kind, count in sorted(status["counts"].items()):
        values[f"count.{kind}"] = str(count)
    for i, problem in enumerate(qos_problems):
        values[f"qos_problem.{i}"] = problem
    qos_note = f"; {qos_problems[0]}" if qos_problems else ""
    if status["estopped"]:
        return DiagnosticSummary(name, ERROR, f"e-stopped ({status['estop_reason']}): call safety/reset, then "
                                 f"send a fresh command{qos_note}", values, robot)
    if stopped:
        level = max(stop_level(stopped), ERROR if qos_problems else OK)
        return DiagnosticSummary(name, level, f"stopped: {', '.join(stopped)}{qos_note}", values, robot)
    if qos_problems:
        return DiagnosticSummary(name, ERROR, f"running, but {qos_problems[0]}", values, robot)
    if adjusted:
        return DiagnosticSummary(name, WARN, f"running, command adjusted: {', '.join(adjusted)}", values, robot)
    return DiagnosticSummary(name, OK, "running", values, robot)


def fault_summary(name: str, robot: str, reason: str) -> DiagnosticSummary:
    """A node that refused to start its robot: the robot stays stopped until the configuration is fixed."""
    return DiagnosticSummary(name, ERROR, f"not running: {reason}", {"fault": reason}, robot)
