#!/usr/bin/env bash
# Installs segkit from BUILD_DIR into a scratch prefix, builds tests/package against it with
# find_package(segkit) and runs it; then checks that add_subdirectory configures segkit
# without its tests and benchmarks.
# Usage: run_package_test.sh BUILD_DIR SOURCE_DIR WORK_DIR
set -euo pipefail
build=$1 source=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$source/tests/package" -B "$work/installed" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/installed" -j 2 >/dev/null
got=$("$work/installed/consumer" "$work/model.pth")
# resnet18 with a 5-class head: torchvision's 11689512 parameters less 995 classes of 512 weights and a bias.
if [ "$got" != "resnet18 5 11179077" ]; then
  echo "find_package: the consumer printed \"$got\", not \"resnet18 5 11179077\"" >&2
  exit 1
fi
echo "find_package: $got"
cmake -S "$source/tests/package" -B "$work/subdirectory" -DCMAKE_BUILD_TYPE=Release \
  -DSEGKIT_SOURCE_DIR="$source" >/dev/null
if cmake --build "$work/subdirectory" --target help | grep -q segkit_unit_tests; then
  echo "add_subdirectory: segkit's tests were configured in a parent project" >&2
  exit 1
fi
echo "add_subdirectory: configured without tests"
