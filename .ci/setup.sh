#!/usr/bin/env bash
# Sets up robolearn on a fresh Debian/Ubuntu machine with Python >= 3.10: a virtual environment in .venv
# with torch's CPU build first (a bare `torch` requirement would pull a multi-GB CUDA build), then the
# project with every extra. Idempotent: re-running only installs what is missing.
#   ROBOLEARN_TORCH_SPEC  torch requirement to install first (default torch==2.13.0; robots with their own
#                         Jetson/CUDA build set it to "" to keep theirs)
#   ROBOLEARN_EXTRAS      extras to install (default dev: sim, hardware, ros, bench, test tools)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
TORCH_SPEC=${ROBOLEARN_TORCH_SPEC-torch==2.13.0}
EXTRAS=${ROBOLEARN_EXTRAS:-dev}

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  echo "robolearn needs Python >= 3.10; found: $("$PYTHON" --version 2>&1). Set PYTHON=/path/to/python3.10+" >&2
  exit 1
fi

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }
apt_install() {
  command -v apt-get >/dev/null || return 1
  as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

# Debian/Ubuntu ship venv and ensurepip separately from python3.
if ! "$PYTHON" -m venv --help >/dev/null 2>&1 || ! "$PYTHON" -c 'import ensurepip' 2>/dev/null; then
  ver=$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
  apt_install "python${ver}-venv" || apt_install python3-venv || {
    echo "python venv support is missing; install python3-venv (apt) and re-run" >&2; exit 1; }
fi
# gcc builds the generated C policy in the tests; ip(8) brings up loopback in the DDS test namespace.
command -v cc >/dev/null || apt_install gcc libc6-dev || echo "warning: no C compiler; C-export tests will skip" >&2
command -v ip >/dev/null || apt_install iproute2 || echo "warning: no ip(8); DDS tests fall back to localhost discovery" >&2
# cmake and g++ build the ROS interface packages the index has no wheel for (drivers/ros_interfaces/, e.g. tf2_msgs).
{ command -v cmake >/dev/null && command -v c++ >/dev/null; } || apt_install cmake g++ \
  || echo "warning: no cmake/g++; tf2_msgs is not built and the driver publishes no /tf" >&2

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=(.venv/bin/python -m pip --disable-pip-version-check -q)
if [ -n "$TORCH_SPEC" ] && ! .venv/bin/python -c 'import torch' 2>/dev/null; then
  "${PIP[@]}" install "$TORCH_SPEC"
fi
"${PIP[@]}" install -e ".[${EXTRAS}]"
if command -v cmake >/dev/null && command -v c++ >/dev/null; then bash .ci/build_ros_interfaces.sh .venv; fi
echo "robolearn is set up in .venv ($(.venv/bin/python -c 'import torch, robolearn; print("robolearn", robolearn.__version__, "torch", torch.__version__)'))"
