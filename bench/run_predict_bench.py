#!/usr/bin/python3
"""End-to-end `segkit predict` (with --classify: `segkit classify`, batches of --batch) on a
folder of real images against the network alone: the time per image (start-up cancelled out: the difference between a run on COUNT images and one on a
quarter of them, divided by the images between), beside `segkit bench`'s forward pass at the
images' input size, both from BUILD_DIR; with --no-overlay-too, also `predict --no-overlay`
(masks only) in the same rounds; with --one-stream-too, also `predict --streams 1` (the network
one batch at a time on all the threads, as before streams); with --baseline, the same predict
from another build (an earlier commit) in the same rounds. Processes alternate, ROUNDS times;
medians. The images are linked from the folder, not copied.

Usage: bench/run_predict_bench.py BUILD_DIR MODEL ... --images DIR [--images DIR ...] [--count 40]
       [--rounds 3] [--threads 2] [--precision fp32 [--precision bf16]] [--baseline OTHER_BUILD_DIR]
       [--input-size 520x693] [--no-overlay-too] [--one-stream-too] [--classify [--batch 8]]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run_zoo_bench import MALLOC, make_checkpoint  # noqa: E402
from machine import describe  # noqa: E402


def timed(cmd):
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=dict(os.environ, GLIBC_TUNABLES=MALLOC))
    return time.perf_counter() - start


def main():
    p = argparse.ArgumentParser()
    p.add_argument("build_dir")
    p.add_argument("models", nargs="+")
    p.add_argument("--images", required=True, action="append", help="a folder of images (several: all of them)")
    p.add_argument("--count", type=int, default=40)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--precision", action="append")
    p.add_argument("--baseline", help="another build's folder (given --precision unless fp32)")
    p.add_argument("--input-size", default="520x693", help="the network's input for these images, HxW")
    p.add_argument("--no-overlay-too", action="store_true", help="also time predict --no-overlay")
    p.add_argument("--one-stream-too", action="store_true", help="also time predict --streams 1")
    p.add_argument("--classify", action="store_true", help="time classify (classifiers) instead of predict")
    p.add_argument("--batch", type=int, default=8, help="with --classify: images per forward pass")
    a = p.parse_args()
    if a.classify and a.no_overlay_too:
        p.error("--no-overlay-too is for predict")
    print(describe(), flush=True)
    work = tempfile.mkdtemp(prefix="segkit_predict_bench_")
    files = sorted(os.path.join(os.path.abspath(d), f) for d in a.images for f in os.listdir(d)
                   if f.lower().endswith((".png", ".jpg", ".jpeg")))[:a.count]
    small = max(1, a.count // 4)
    for name, folder in (("all", files), ("quarter", files[:small])):
        os.makedirs(os.path.join(work, name))
        for f in folder:
            os.symlink(f, os.path.join(work, name, os.path.basename(f)))
    n = len(files) - small
    height, width = a.input_size.split("x")
    command = ["classify", "--batch", str(a.batch)] if a.classify else ["predict"]
    # The network alone: at the images' input size; classifiers at their crop, a batch over its size.
    network = ["--batch", str(a.batch)] if a.classify else ["--height", height, "--width", width]
    per_pass = a.batch if a.classify else 1
    checkpoints = os.path.join(tempfile.gettempdir(), "segkit_bench_checkpoints")
    os.makedirs(checkpoints, exist_ok=True)
    print(f"| model | precision | network ms | {command[0]} ms/image | per image / network |"
          + (" --no-overlay ms/image | per image / network |" if a.no_overlay_too else "")
          + (" --streams 1 ms/image | per image / network |" if a.one_stream_too else "")
          + (f" baseline {command[0]} ms/image | speed-up |" if a.baseline else ""))
    print("|---|---|---|---|---|" + ("---|---|" if a.no_overlay_too else "") + ("---|---|" if a.one_stream_too else "")
          + ("---|---|" if a.baseline else ""))
    for model in a.models:
        weights = make_checkpoint(model, checkpoints)
        for precision in a.precision or ["fp32"]:
            rows = {"network": [], "segkit": [], "masks": [], "one_stream": [], "baseline": []}

            def per_image(build, extra):
                cmd = [os.path.join(build, "segkit")] + command + ["-m", model, "-w", weights, "--threads",
                                                                    str(a.threads)] + extra
                out = [] if a.classify else ["-o", os.path.join(work, "out")]  # classify prints its answers
                full = timed(cmd + out + [os.path.join(work, "all")])
                part = timed(cmd + out + [os.path.join(work, "quarter")])
                return (full - part) / n * 1000

            for _ in range(a.rounds):
                out = subprocess.run([os.path.join(a.build_dir, "segkit"), "bench", model, "--json",
                                      "--weights", weights, "--threads", str(a.threads), "--precision", precision]
                                     + network, check=True, capture_output=True,
                                     text=True, env=dict(os.environ, GLIBC_TUNABLES=MALLOC)).stdout
                rows["network"].append(json.loads(out.strip().splitlines()[-1])["median_ms"] / per_pass)
                rows["segkit"].append(per_image(a.build_dir, ["--precision", precision]))
                if a.no_overlay_too:
                    rows["masks"].append(per_image(a.build_dir, ["--precision", precision, "--no-overlay"]))
                if a.one_stream_too:
                    rows["one_stream"].append(per_image(a.build_dir, ["--precision", precision, "--streams", "1"]))
                if a.baseline:  # fp32 without the flag, for builds from before --precision
                    rows["baseline"].append(per_image(a.baseline, ["--precision", precision] if precision != "fp32" else []))
            med = {k: statistics.median(v) if v else float("nan") for k, v in rows.items()}
            print(f"| {model} | {precision} | {med['network']:.1f} | {med['segkit']:.1f} | "
                  f"{med['segkit'] / med['network']:.2f} |"
                  + (f" {med['masks']:.1f} | {med['masks'] / med['network']:.2f} |" if a.no_overlay_too else "")
                  + (f" {med['one_stream']:.1f} | {med['one_stream'] / med['network']:.2f} |" if a.one_stream_too else "")
                  + (f" {med['baseline']:.1f} | {med['baseline'] / med['segkit']:.2f}x |" if a.baseline else ""),
                  flush=True)


if __name__ == "__main__":
    main()
