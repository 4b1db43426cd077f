#!/usr/bin/python3
"""Classification training throughput, segkit vs PyTorch eager, alternating runs in one
session: the same model, ImageFolder, crop, batch, augmentation (random resized crop,
horizontal flip), cross-entropy and Adam, 2 threads for the step and 2 loader workers on
each side (segkit: threads; PyTorch: DataLoader processes at 1 thread). Each run trains a
few epochs; the first is warm-up, the rest are timed (images/s of the training loop, data
loading included, validation and start-up excluded).

Usage: run_classification_train_bench.py BUILD_DIR FOLDER [--model resnet18] [--rounds 3]
"""
import argparse

from train_throughput import compare, peer_rates, segkit_rates


def segkit_run(a):
    return segkit_rates(a.build, ["-m", a.model, "--folder", a.folder, "--skip-bad", "--crop", str(a.crop), "--batch",
                                  str(a.batch), "--epochs", str(a.epochs), "--val-every", "0", "--area-min", "0.25",
                                  "--optimizer", "adam", "--lr", "0.001", "--schedule", "constant", "--threads", "2",
                                  "--workers", "2"])


def python_run(a):
    return peer_rates("peer_train_classifier.py", [a.folder, "--model", a.model, "--crop", str(a.crop), "--batch",
                                                   str(a.batch), "--epochs", str(a.epochs)])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("build")
    p.add_argument("folder")
    p.add_argument("--model", default="resnet18")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--crop", type=int, default=112)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--epochs", type=int, default=3)
    a = p.parse_args()
    compare(a.rounds, lambda: segkit_run(a), lambda: python_run(a), digits=1)


if __name__ == "__main__":
    main()
