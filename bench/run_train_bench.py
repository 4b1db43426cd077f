#!/usr/bin/python3
"""Training throughput, segkit vs PyTorch eager, alternating runs in one session.

Same U-Net (padded, BatchNorm, depth 5), crop, batch, augmentation, weighted
cross-entropy, Adam, 2 threads for the step and 2 loader workers on each side.
Each run trains a few epochs; the first is warm-up, the rest are timed (images/s
of the training loop, data loading included, validation and start-up excluded).
--precision bf16 runs segkit with --precision bf16 and the peer under bf16 autocast;
--peer-channels-last gives the peer channels-last weights and batches (segkit's layout).

Usage: run_train_bench.py BUILD_DIR LIST_FILE [--rounds N] [--precision fp32|bf16] [--peer-channels-last]
"""
import argparse
import sys

from train_throughput import compare, peer_rates, segkit_rates


def segkit_run(build, list_file, a):
    return segkit_rates(build, ["-m", "unet_padded", "--depth", "5", "--width", str(a.width), "--batch-norm", "true",
                                "--list", list_file, "--crop", str(a.crop), "--batch", str(a.batch), "--epoch-size",
                                str(a.epoch_size), "--epochs", str(a.epochs), "--val-every", "0", "--hflip", "true",
                                "--vflip", "true", "--rot90", "true", "--rotate", "15", "--scale-min", "0.85",
                                "--scale-max", "1.2", "--elastic", "10", "--brightness", "0.1", "--contrast", "0.1",
                                "--weight-map", "true", "--threads", "2", "--workers", "2",
                                "--precision", a.precision])


def python_run(list_file, a):
    return peer_rates("peer_train_unet.py", ["--list", list_file, "--width", str(a.width), "--crop", str(a.crop),
                                             "--batch", str(a.batch), "--epoch-size", str(a.epoch_size), "--epochs",
                                             str(a.epochs)] + (["--autocast"] if a.precision == "bf16" else []) +
                      (["--channels-last"] if a.peer_channels_last else []))


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
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    p.add_argument("--peer-channels-last", action="store_true")
    a = p.parse_args()
    compare(a.rounds, lambda: segkit_run(a.build, a.list_file, a), lambda: python_run(a.list_file, a), digits=2)


if __name__ == "__main__":
    sys.exit(main())
