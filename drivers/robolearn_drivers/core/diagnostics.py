"""Safety status as a diagnostic summary (level, message, key/values), independent of the ROS message."""

from __future__ import annotations

from dataclasses import dataclass, field

OK, WARN, ERROR = 0, 1, 2  # the levels of diagnostic_msgs/DiagnosticStatus


@dataclass(frozen=True)
class DiagnosticSummary:
    name: str
    level: int
    message: str
    values: dict[str, str] = field(default_factory=dict)
    hardware_id: str = ""


def safety_summary(name: str, robot: str, status: dict, stopped: tuple[str, ...] = ()) -> DiagnosticSummary:
    """ERROR while e-stopped, WARN while the last tick was a safety stop, else OK; every count as a value."""
    values = {
        "estopped": str(bool(status["estopped"])).lower(),
        "estop_reason": status["estop_reason"],
        "stop_reason": status.get("stop_reason", ""),
        "last_stop": ",".join(stopped),
        "last_rejection": status.get("last_rejection", ""),
        "last_command": "" if status.get("last_command") is None
        else " ".join(f"{v:.6g}" for v in status["last_command"]),
    }
    for kind, count in sorted(status["counts"].items()):
        values[f"count.{kind}"] = str(count)
    if status["estopped"]:
        return DiagnosticSummary(name, ERROR, f"e-stopped ({status['estop_reason']}): call safety/reset, then "
                                 f"send a fresh command", values, robot)
    if stopped:
        return DiagnosticSummary(name, WARN, f"stopped: {', '.join(stopped)}", values, robot)
    return DiagnosticSummary(name, OK, "running", values, robot)


def fault_summary(name: str, robot: str, reason: str) -> DiagnosticSummary:
    """A node that refused to start its robot: the robot stays stopped until the configuration is fixed."""
    return DiagnosticSummary(name, ERROR, f"not running: {reason}", {"fault": reason}, robot)
