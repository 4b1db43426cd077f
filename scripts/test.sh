#!/usr/bin/env bash
# The README's second command: sets up what is missing, builds, and runs every test
# (unit, torchvision parity, command line) through ctest, then each fuzzing harness for a
# short while under AddressSanitizer and UndefinedBehaviorSanitizer (scripts/fuzz.sh),
# replaying the inputs of past findings.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh --tests
bash scripts/build.sh
(cd build && ctest --output-on-failure -j "${SEGKIT_JOBS:-2}")
bash scripts/fuzz.sh "${SEGKIT_FUZZ_SECONDS:-10}"
