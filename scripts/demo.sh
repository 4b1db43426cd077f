#!/usr/bin/env bash
# The README's first command: sets up a fresh machine, builds segkit and segments
# the bundled held-out ISBI 2012 slice with the bundled model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh segkit_cli  # the command line alone: no tests, no benchmarks
# The checkpoint records its model (unet_padded), classes and colours: no --model needed.
build/segkit predict \
  --weights assets/models/unet_isbi2012_membranes.pth \
  --output out \
  assets/images/isbi2012_slice29.png
echo "see out/isbi2012_slice29_overlay.png (membranes in red, with a legend) and out/isbi2012_slice29_mask.png"
