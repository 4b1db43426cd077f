#!/usr/bin/env bash
# Configures and builds segkit into build/ (Release). Two jobs: one LibTorch
# translation unit takes about 1 GB of memory to compile.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build build -j "${SEGKIT_JOBS:-2}"
