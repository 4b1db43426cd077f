#!/usr/bin/env bash
# Installs what segkit needs from Debian's packages, skipping what is already there.
# Usage: install_deps.sh [--tests]   (--tests: also what the tests and benchmarks need)
set -euo pipefail

packages=(
  build-essential cmake
  libtorch-dev libopencv-dev libcli11-dev nlohmann-json3-dev
  # The codecs segkit reads image headers and pixels with (OpenCV links the same ones), and
  # libdeflate, which compresses the PNGs it writes.
  libpng-dev libjpeg-dev libtiff-dev libdeflate-dev
  # Without it Debian's libtorch runs BLAS on the netlib reference library, 2-7x slower.
  libopenblas0-openmp
  # oneDNN's headers: segkit calls the oneDNN that Debian's LibTorch links, for CPU inference.
  libdnnl-dev
)
if [ "${1:-}" = "--tests" ]; then
  packages+=(
    libgtest-dev
    # Reference outputs for the parity tests, metrics' references and the benchmarks' peer (tools only).
    python3-torch python3-torchvision python3-numpy python3-pil python3-sklearn python3-skimage
    # Tiled and BigTIFF test images, as microscopes and slide scanners write them.
    python3-tifffile
    # A real browser that opens the training report in a test (headless).
    chromium
    # clang's libFuzzer and sanitizers, for the fuzzing harnesses (scripts/fuzz.sh).
    clang libclang-rt-14-dev
  )
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install_deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "install_deps: installing ${missing[*]}"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
