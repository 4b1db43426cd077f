#!/usr/bin/python3
"""Inference latency and peak memory of zoo models, segkit against torchvision eager in the
same run: the same checkpoint (random weights from tools/zoo_reference.py; segmentation
models with 21 classes and the aux head the official files carry, classifiers with 1000, the
U-Nets with 2; models torchvision lacks run as tools/' reference modules),
the same input (BATCH x 3 x SIZE x SIZE; U-Net's 1 channel), threads, BLAS (Debian's OpenBLAS) and malloc
settings. Processes alternate, ROUNDS times; each reports the median of RUNS forward passes
after warm-up, and the table shows the median over rounds. Peak memory: the process's
peak resident set (VmHWM), weights included.

Usage: bench/run_zoo_bench.py BUILD_DIR [--rounds 5] [--runs 5] [--threads 2] [--size 520]
                              [--batch 1 [--batch 8 ...]] [--aux] [--bf16] MODEL ...
(--aux: also torchvision with the aux head, as loading an official segmentation file builds it;
--bf16: also segkit --precision bf16 and torchvision with bf16 autocast and channels-last, the
ratios against both torchvision modes)
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
from zoo_reference import build, randomize  # noqa: E402
from machine import describe  # noqa: E402

# The same settings segkit's configure_runtime() makes with mallopt, for both processes.
MALLOC = "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824"


def make_checkpoint(name, folder):
    import torch
    from torchvision.models import segmentation

    path = os.path.join(folder, name + ".pth")
    if not os.path.exists(path):
        generator = torch.Generator().manual_seed(zlib.crc32(name.encode()))
        if name.startswith("unet"):  # the zoo's U-Nets: one channel in, two classes, no BatchNorm
            model = build(name, "semantic", 2, {"padding": name == "unet_padded"})
            side = 192 if name == "unet_padded" else 188  # sizes each takes (188: 124 + 4 x 16)
            sample = torch.randn(1, 1, side, side, generator=generator)
        else:
            semantic = hasattr(segmentation, name)
            model = build(name, "semantic" if semantic else "classification", 21 if semantic else 1000, {})
            sample = torch.randn(2, 3, 97, 123, generator=generator)
        randomize(model, generator, sample)
        torch.save(model.state_dict(), path)
    return path


def run(cmd):
    env = dict(os.environ, GLIBC_TUNABLES=MALLOC)
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("build_dir")
    p.add_argument("models", nargs="+")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--size", type=int, default=520)
    p.add_argument("--batch", type=int, action="append")
    p.add_argument("--aux", action="store_true")
    p.add_argument("--bf16", action="store_true")
    a = p.parse_args()
    print(describe(), flush=True)
    folder = os.path.join(tempfile.gettempdir(), "segkit_bench_checkpoints")
    os.makedirs(folder, exist_ok=True)
    peer = [sys.executable, os.path.join(HERE, "peer_torchvision.py")]
    print("| model | batch | segkit ms | torchvision ms | speed-up | segkit peak MiB | torchvision peak MiB |"
          + (" torchvision+aux ms |" if a.aux else "")
          + (" segkit bf16 ms | torchvision bf16 ms | bf16 vs tv fp32 | bf16 vs tv bf16 | segkit bf16 MiB |"
             " tv bf16 MiB |" if a.bf16 else ""))
    print("|---|---|---|---|---|---|---|" + ("---|" if a.aux else "") + ("---|" * 6 if a.bf16 else ""))
    for name in a.models:
        weights = make_checkpoint(name, folder)
        for batch in a.batch or [1]:
            common = ["--runs", str(a.runs), "--threads", str(a.threads), "--size", str(a.size), "--batch", str(batch)]
            rows = {"segkit": [], "torchvision": [], "torchvision+aux": [], "segkit bf16": [], "torchvision bf16": []}
            segkit = [os.path.join(a.build_dir, "segkit"), "bench", name, "--weights", weights, "--json"]
            for _ in range(a.rounds):
                rows["segkit"].append(run(segkit + common))
                rows["torchvision"].append(run(peer + [name, weights] + common))
                if a.aux:
                    rows["torchvision+aux"].append(run(peer + [name, weights, "--aux"] + common))
                if a.bf16:
                    rows["segkit bf16"].append(run(segkit + common + ["--precision", "bf16"]))
                    rows["torchvision bf16"].append(run(peer + [name, weights, "--bf16"] + common))
            med = {k: statistics.median(r["median_ms"] for r in v) if v else float("nan") for k, v in rows.items()}
            peak = {k: statistics.median(r["peak_rss_mib"] for r in v) if v else float("nan") for k, v in rows.items()}
            print(f"| {name} | {batch} | {med['segkit']:.1f} | {med['torchvision']:.1f} | "
                  f"{med['torchvision'] / med['segkit']:.2f}x | {peak['segkit']:.0f} | {peak['torchvision']:.0f} |"
                  + (f" {med['torchvision+aux']:.1f} |" if a.aux else "")
                  + (f" {med['segkit bf16']:.1f} | {med['torchvision bf16']:.1f} | "
                     f"{med['torchvision'] / med['segkit bf16']:.2f}x | "
                     f"{med['torchvision bf16'] / med['segkit bf16']:.2f}x | {peak['segkit bf16']:.0f} | "
                     f"{peak['torchvision bf16']:.0f} |" if a.bf16 else ""), flush=True)


if __name__ == "__main__":
    main()
