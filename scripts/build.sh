#!/usr/bin/env bash
# Configures and builds segkit into build/ (Release). Two jobs: one LibTorch
# translation unit takes about 1 GB of memory to compile.
# Usage: build.sh            everything: library, command line, tests, benchmarks
#        build.sh TARGET...  only those targets (tests and benchmarks left unconfigured)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -eq 0 ]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSEGKIT_BUILD_TESTS=ON -DSEGKIT_BUILD_BENCH=ON >/dev/null
  cmake --build build -j "${SEGKIT_JOBS:-2}"
else
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSEGKIT_BUILD_TESTS=OFF -DSEGKIT_BUILD_BENCH=OFF >/dev/null
  cmake --build build -j "${SEGKIT_JOBS:-2}" --target "$@"
fi
