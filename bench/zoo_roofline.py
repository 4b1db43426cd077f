#!/usr/bin/python3
"""Where every zoo model's time goes on this machine, from `segkit bench --json`: latency,
the arithmetic of a run, the GFLOP/s it makes and its share of the matrix product measured on
the same threads and precision, and peak memory; one row per model and precision. Random
weights (the time does not depend on them; R-CNNs' detections do, a little). Semantic models at
SIZE x SIZE, classifiers at their preset's 224, R-CNNs on a 480 x 640 image.

Usage: bench/zoo_roofline.py BUILD_DIR [--size 520] [--runs 5] [--threads 2]
       [--precision fp32 --precision bf16] [MODEL ...]   (default: the whole zoo)
"""
import argparse
import json
import os
import subprocess

from machine import describe

MALLOC = "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824"


def zoo(segkit):
    """(name, task) of every zoo entry, as `segkit models` lists them."""
    out = subprocess.run([segkit, "models"], check=True, capture_output=True, text=True).stdout
    entries, task = [], ""
    for line in out.splitlines():
        fields = line.split()
        if line and not line.startswith(" "):
            task = fields[0]
        elif len(fields) >= 3 and fields[1].endswith("M") and fields[0] != "model":
            entries.append((fields[0], task))
    return entries


def main():
    p = argparse.ArgumentParser()
    p.add_argument("build_dir")
    p.add_argument("models", nargs="*")
    p.add_argument("--size", type=int, default=520)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--precision", action="append")
    a = p.parse_args()
    print(describe(), flush=True)
    segkit = os.path.join(a.build_dir, "segkit")
    print("| model | precision | input | ms | GFLOP | GFLOP/s | of matmul | peak MiB |")
    print("|---|---|---|---|---|---|---|---|")
    tasks = dict(zoo(segkit))
    for name in a.models or list(tasks):
        for precision in a.precision or ["fp32", "bf16"]:
            cmd = [segkit, "bench", name, "--json", "--runs", str(a.runs), "--threads", str(a.threads),
                   "--precision", precision]
            if tasks[name] == "semantic":
                cmd += ["--size", str(a.size)]
            r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True,
                                          env=dict(os.environ, GLIBC_TUNABLES=MALLOC)).stdout)
            shape = "x".join(str(v) for v in r["input"])
            print(f"| {name} | {precision} | {shape} | {r['median_ms']:.1f} | {r['gflop']:.1f} | "
                  f"{r['gflops']:.0f} | {100 * r['share_of_matmul']:.0f}% | {r['peak_rss_mib']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
