#!/usr/bin/python3
"""Inference latency and peak memory of the six zoo models, segkit against torchvision
eager in the same run: the same checkpoint (random weights, 21 classes, aux head as in
the official files), the same 1x3xSIZExSIZE input size, threads, BLAS (Debian's
OpenBLAS) and malloc settings. Processes alternate, ROUNDS times; each reports the
median of RUNS forward passes after warm-up, and the table shows the median over rounds.

Usage: bench/run_zoo_bench.py BUILD_DIR [--rounds 5] [--runs 5] [--threads 2] [--size 520] [MODEL ...]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
from make_parity_fixtures import MODELS, build, randomize  # noqa: E402

# The same settings segkit's configure_runtime() makes with mallopt, for both processes.
MALLOC = "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824"


def make_checkpoint(name, folder):
    import torch
    from torchvision.models import segmentation

    path = os.path.join(folder, name + ".pth")
    if not os.path.exists(path):
        kwargs = dict(weights=None, weights_backbone=None, num_classes=21)
        if not name.startswith("lraspp"):
            kwargs["aux_loss"] = True
        model = getattr(segmentation, name)(**kwargs)
        randomize(model, torch.Generator().manual_seed(1))
        torch.save(model.state_dict(), path)
    return path


def run(cmd):
    env = dict(os.environ, GLIBC_TUNABLES=MALLOC)
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("build_dir")
    p.add_argument("models", nargs="*")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--size", type=int, default=520)
    a = p.parse_args()
    folder = os.path.join(tempfile.gettempdir(), "segkit_bench_checkpoints")
    os.makedirs(folder, exist_ok=True)
    common = ["--runs", str(a.runs), "--threads", str(a.threads), "--size", str(a.size)]
    print(f"| model | segkit ms | torchvision ms | speed-up | torchvision+aux ms | segkit peak MiB | torchvision peak MiB |")
    print("|---|---|---|---|---|---|---|")
    for name in a.models or MODELS:
        weights = make_checkpoint(name, folder)
        rows = {"segkit": [], "torchvision": [], "torchvision+aux": []}
        for _ in range(a.rounds):
            rows["segkit"].append(run([os.path.join(a.build_dir, "bench", "bench_inference"), "--model", name,
                                       "--weights", weights] + common))
            rows["torchvision"].append(run([sys.executable, os.path.join(HERE, "peer_torchvision.py"), name,
                                            weights] + common))
            if not name.startswith("lraspp"):
                rows["torchvision+aux"].append(run([sys.executable, os.path.join(HERE, "peer_torchvision.py"), name,
                                                    weights, "--aux"] + common))
        med = {k: statistics.median(r["median_ms"] for r in v) if v else float("nan") for k, v in rows.items()}
        peak = {k: statistics.median(r["peak_rss_mib"] for r in v) if v else float("nan") for k, v in rows.items()}
        print(f"| {name} | {med['segkit']:.1f} | {med['torchvision']:.1f} | {med['torchvision'] / med['segkit']:.2f}x "
              f"| {med['torchvision+aux']:.1f} | {peak['segkit']:.0f} | {peak['torchvision']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
