"""Where robolearn's data folders (`calibration/`, `configs/`) are, in a checkout and in an installed wheel.

In a source checkout (and an editable install) they sit at the repository root, where engineers edit them.
A wheel cannot put them there, so it installs a copy under `<prefix>/share/robolearn/` (the place ROS
packages keep their data too); without it an installed robolearn could not build even a simulated robot,
whose safety limits live in `calibration/<robot>/limits.yaml`.
"""

from __future__ import annotations

import site
import sys
from pathlib import Path

CHECKOUT_ROOT = Path(__file__).resolve().parents[1]


def installed_data_dir(name: str) -> Path:
    """The wheel's copy of `name`: under sys.prefix, or the user base for `pip install --user`."""
    candidates = [Path(sys.prefix), Path(site.getuserbase())]
    for prefix in candidates:
        path = prefix / "share" / "robolearn" / name
        if path.is_dir():
            return path
    return candidates[0] / "share" / "robolearn" / name


def project_data_dir(name: str) -> Path:
    """The checkout's `name` folder when running from source, else the installed copy."""
    # pyproject.toml marks a checkout: site-packages, where an installed robolearn sits, has none.
    if (CHECKOUT_ROOT / "pyproject.toml").is_file() and (CHECKOUT_ROOT / name).is_dir():
        return CHECKOUT_ROOT / name
    return installed_data_dir(name)
