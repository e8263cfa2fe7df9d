"""Optional parts of robolearn and the pip extra that brings each, so a deploy install asked to train says
what to install instead of failing on an import."""

from __future__ import annotations

import importlib.util


class MissingExtra(ImportError):
    """A feature needs a package this install lacks; the message names the extra to install."""


def require_extra(module: str, extra: str) -> None:
    """Raise MissingExtra unless `module` can be imported."""
    if importlib.util.find_spec(module) is None:
        raise MissingExtra(f"this needs {module}, which is not installed here (a robot-side install has only "
                           f"the deploy path): pip install 'robolearn[{extra}]'")
