#!/usr/bin/python3
"""Training throughput, segkit vs PyTorch eager, alternating runs in one session.

Same U-Net (padded, BatchNorm, depth 5), crop, batch, augmentation, weighted
cross-entropy, Adam, 2 threads for the step and 2 loader workers on each side.
Each run trains a few epochs; the first is warm-up, the rest are timed (images/s
of the training loop, data loading included, validation and start-up excluded).

Usage: run_train_bench.py BUILD_DIR LIST_FILE [--rounds N]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def segkit_run(build, list_file, a):
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([os.path.join(build, "segkit"), "train", "-m", "unet_padded", "--depth", "5", "--width",
                        str(a.width), "--batch-norm", "true", "--list", list_file, "--crop", str(a.crop), "--batch",
                        str(a.batch), "--epoch-size", str(a.epoch_size), "--epochs", str(a.epochs), "--val-every",
                        "0", "--hflip", "true", "--vflip", "true", "--rot90", "true", "--rotate", "15",
                        "--scale-min", "0.85", "--scale-max", "1.2", "--elastic", "10", "--brightness", "0.1",
                        "--contrast", "0.1", "--weight-map", "true", "--threads", "2", "--workers", "2", "-o", out],
                       check=True, capture_output=True)
        lines = [json.loads(l) for l in open(os.path.join(out, "metrics.jsonl")) if l.strip()]
        return [l["images_per_second"] for l in lines]


def python_run(list_file, a):
    out = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "peer_train_unet.py"), "--list", list_file,
                          "--width", str(a.width), "--crop", str(a.crop), "--batch", str(a.batch), "--epoch-size",
                          str(a.epoch_size), "--epochs", str(a.epochs)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["images_per_second"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("build")
    p.add_argument("list_file")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--crop", type=int, default=256)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--epoch-size", type=int, default=80)
    p.add_argument("--epochs", type=int, default=3)
    a = p.parse_args()
    ours, theirs = [], []
    for r in range(a.rounds):
        s = segkit_run(a.build, a.list_file, a)[1:]
        t = python_run(a.list_file, a)[1:]
        ours += s
        theirs += t
        print(f"round {r + 1}: segkit {[round(x, 2) for x in s]} img/s, PyTorch {[round(x, 2) for x in t]} img/s",
              flush=True)
    so, st = statistics.median(ours), statistics.median(theirs)
    print(f"median: segkit {so:.2f} img/s, PyTorch eager {st:.2f} img/s, ratio {so / st:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
