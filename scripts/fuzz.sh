#!/usr/bin/env bash
# Fuzzes segkit's readers of hostile input: builds the libFuzzer harnesses in fuzz/ (clang,
# AddressSanitizer, UndefinedBehaviorSanitizer) into build-fuzz/ and runs each for SECONDS
# from its seed corpus (small valid files made by tools/make_fuzz_seeds.py, which the tests
# make and read in build/fixtures/fuzz_seeds), the inputs it
# found before (build-fuzz/corpus/) and the regression inputs of past findings (fuzz/regressions/).
# Exits non-zero on any finding (a crash, a sanitizer report, a leak, an input over 10 s or
# 2 GB, a message that does not name the file); the input is left in build-fuzz/findings/.
#
# Usage: fuzz.sh [SECONDS] [HARNESS...]      harnesses: pickle checkpoint_zip checkpoint_legacy
#        fuzz.sh 10                          safetensors image label (default: all, one after another)
#        fuzz.sh 1800 image                  a long run of one harness
# test.sh runs it for 10 s per harness after the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"
shift || true
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(pickle checkpoint_zip checkpoint_legacy safetensors image label)

bash scripts/install_deps.sh --tests
cmake -S fuzz -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build build-fuzz -j "${SEGKIT_JOBS:-2}" --target "${harnesses[@]/#/fuzz_}"
# The seeds the tests made and read (build/fixtures/fuzz_seeds), else made here.
seeds=build/fixtures/fuzz_seeds
if [ ! -d "$seeds" ]; then
  seeds=build-fuzz/seeds
  [ -d "$seeds" ] || { /usr/bin/python3 tools/make_fuzz_seeds.py "$seeds.tmp" && mv "$seeds.tmp" "$seeds"; }
fi

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$PWD/fuzz/lsan.supp:print_suppressions=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
# The harnesses write each input to a file (segkit's readers take paths): a folder in memory.
scratch=$(mktemp -d /dev/shm/segkit-fuzz.XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$scratch"' EXIT
status=0
for h in "${harnesses[@]}"; do
  mkdir -p "build-fuzz/corpus/$h" "build-fuzz/findings/$h"
  inputs=("build-fuzz/corpus/$h" "$seeds/$h")
  [ -d "fuzz/regressions/$h" ] && inputs+=("fuzz/regressions/$h")
  log="build-fuzz/findings/$h/last_run.log"
  # LibTorch's frames carry no frame pointers: the zip harness unwinds fully, so that the
  # suppression of LibTorch's own leak (fuzz/lsan.supp) can see segkit's frame above them.
  unwind=""
  [ "$h" = checkpoint_zip ] && unwind=":fast_unwind_on_malloc=0"
  if ASAN_OPTIONS="$ASAN_OPTIONS$unwind" TMPDIR="$scratch" "build-fuzz/fuzz_$h" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="build-fuzz/findings/$h/" "${inputs[@]}" >"$log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    echo "fuzz $h: ${seconds} s, $runs inputs, no finding"
  else
    status=1
    echo "fuzz $h: FINDING (log: $log)"
    grep -E "ERROR|runtime error|SUMMARY|does not name|Test unit written" "$log" | head -5 || tail -20 "$log"
  fi
done
exit $status
