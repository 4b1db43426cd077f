#!/usr/bin/python3
"""Tiled prediction of one large image, read in bands of rows: wall time and peak resident
memory of `segkit predict --tile` (GNU time's maximum resident set size) on a mosaic of the
ISBI 2012 slices (bench/make_mosaic.py, read in place) as a PNG, as a tiled, deflated BigTIFF
(bench/make_mosaic.py, written a tile at a time) and, with --jpeg, as a baseline JPEG
(read in bands) and a progressive one (read whole: libjpeg holds all its coefficients), and
whether the PNG's and the TIFF's masks agree. With --baseline (another build's folder), the
same runs of that build alternate with this one's, ROUNDS times (medians), and its masks must
equal this build's. Files go to a temporary folder, removed after.

Usage: bench/run_large_image_bench.py BUILD_DIR ISBI_IMAGES_DIR SIDE [--precision bf16]
       [--tile 512] [--overlap 32] [--threads 2] [--jpeg] [--baseline OTHER_BUILD] [--rounds 1]
       [--no-tiff] [--height ROWS] [--tiff-only]
(--height: an image of ROWS rows of SIDE pixels; tiled memory depends on the width alone.)
"""
import argparse
import hashlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image

from machine import describe

HERE = os.path.dirname(os.path.abspath(__file__))
Image.MAX_IMAGE_PIXELS = None


def timed(cmd):
    start = time.monotonic()
    out = subprocess.run(["/usr/bin/time", "-v"] + cmd, check=True, capture_output=True, text=True)
    peak_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr).group(1))
    return time.monotonic() - start, peak_kib / 1024


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(np.array(Image.open(f)).tobytes()).hexdigest()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("build_dir")
    p.add_argument("isbi_images")
    p.add_argument("side", type=int)
    p.add_argument("--precision", default="fp32")
    p.add_argument("--tile", type=int, default=512)
    p.add_argument("--overlap", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--jpeg", action="store_true")
    p.add_argument("--no-tiff", action="store_true", help="the PNG (and JPEGs) only")
    p.add_argument("--tiff-only", action="store_true", help="the tiled BigTIFF only")
    p.add_argument("--height", type=int, help="rows (default: SIDE)")
    p.add_argument("--baseline", help="another build's folder, timed in the same rounds")
    p.add_argument("--rounds", type=int, default=1)
    a = p.parse_args()
    print(describe(), flush=True)
    work = tempfile.mkdtemp(prefix="segkit_large_")
    try:
        png, tif = os.path.join(work, "mosaic.png"), os.path.join(work, "mosaic.tif")
        height = a.height or a.side
        inputs = ([] if a.tiff_only else [("PNG", png)]) + ([] if a.no_tiff else [("tiled BigTIFF", tif)])
        for _, path in inputs:  # the TIFF written a tile at a time: any size fits in memory
            subprocess.run([sys.executable, os.path.join(HERE, "make_mosaic.py"), a.isbi_images, str(a.side), path,
                            str(height)], check=True)
        if a.jpeg:
            pixels = Image.open(png)
            for name, progressive in [("baseline", False), ("progressive", True)]:
                path = os.path.join(work, f"{name}.jpg")
                pixels.save(path, quality=95, progressive=progressive)
                inputs.append((f"{name} JPEG", path))
        model = os.path.join(HERE, "..", "assets", "models", "unet_isbi2012_membranes.pth")
        builds = [("this", a.build_dir)] + ([("baseline", a.baseline)] if a.baseline else [])
        print("| input | file MB | wall s | peak RSS MiB |" +
              (" baseline wall s | baseline peak MiB | speed-up |\n|---|---|---|---|---|---|---|" if a.baseline
               else "\n|---|---|---|---|"))
        masks = []
        for name, path in inputs:
            stem = os.path.splitext(os.path.basename(path))[0]
            runs = {b: [] for b, _ in builds}
            digests = {}
            for _ in range(a.rounds):
                for b, build in builds:
                    out = os.path.join(work, "out_" + b + "_" + name.replace(" ", "_"))
                    runs[b].append(timed([os.path.join(build, "segkit"), "predict", "-m", "unet_padded", "-w", model,
                                          "--tile", str(a.tile), "--overlap", str(a.overlap), "--precision",
                                          a.precision, "--threads", str(a.threads), "-o", out, path]))
                    if a.baseline or len(inputs) > 1:  # a mask read whole: 10 GB at 100000 x 100000
                        digests[b] = digest(os.path.join(out, f"{stem}_mask.png"))
                    shutil.rmtree(out)
            masks.append(digests.get("this"))
            wall = statistics.median(w for w, _ in runs["this"])
            peak = statistics.median(m for _, m in runs["this"])
            row = f"| {a.side}x{height} {name} | {os.path.getsize(path) / 1e6:.0f} | {wall:.1f} | {peak:.0f} |"
            if a.baseline:
                base_wall = statistics.median(w for w, _ in runs["baseline"])
                base_peak = statistics.median(m for _, m in runs["baseline"])
                row += f" {base_wall:.1f} | {base_peak:.0f} | {base_wall / wall:.2f}x |"
                if digests["baseline"] != digests["this"]:
                    row += " MASKS DIFFER FROM THE BASELINE'S"
            print(row, flush=True)
        if not a.no_tiff and not a.tiff_only:
            print("PNG and TIFF masks identical" if masks[0] == masks[1] else "PNG AND TIFF MASKS DIFFER")
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
