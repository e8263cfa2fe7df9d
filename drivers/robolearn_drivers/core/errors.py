"""Errors the nodes turn into a log line and an ERROR diagnostic (never a traceback that leaves motors on)."""


class ConfigurationError(ValueError):
    """A node parameter or a file it names is wrong; the message says which and what to do."""


class MalformedMessageError(ValueError):
    """A message cannot be interpreted (wrong length, unknown names); a command is rejected and counted."""
