#!/usr/bin/env bash
# Runs the whole test suite (extra arguments go to pytest). The ROS 2 tests talk over real DDS, so the run
# happens inside a loopback-only network namespace when the kernel allows it (no packet can leave the
# machine); otherwise DDS discovery is restricted to localhost and the ROS tests say which mode they ran in.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${ROBOLEARN_PYTHON:-.venv/bin/python}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 MPLBACKEND=Agg PYTHONHASHSEED=0
export ROS_DOMAIN_ID=${ROS_DOMAIN_ID:-42} RMW_IMPLEMENTATION=${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}
export ROS_LOG_DIR=${ROS_LOG_DIR:-$(mktemp -d)}

if command -v unshare >/dev/null && command -v ip >/dev/null && unshare -n true 2>/dev/null; then
  exec unshare -n bash -c '
    ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo || exit 1
    export ROBOLEARN_NETNS=loopback-only
    exec "$0" -m pytest "$@"' "$PY" "$@"
fi
echo "tests/run.sh: no network namespace available; DDS discovery restricted to localhost" >&2
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST ROBOLEARN_NETNS=localhost-discovery
exec "$PY" -m pytest "$@"
