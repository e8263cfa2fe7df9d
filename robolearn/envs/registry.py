"""Task names -> gymnasium ids and factories. Filled in by the sim tasks."""

from __future__ import annotations


def register_all() -> None:
    """Register every robolearn task with gymnasium (idempotent)."""
