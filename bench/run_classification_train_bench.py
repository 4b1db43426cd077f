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
import json
import os
import statistics
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def segkit_run(a):
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([os.path.join(a.build, "segkit"), "train", "-m", a.model, "--folder", a.folder, "--skip-bad",
                        "--crop", str(a.crop), "--batch", str(a.batch), "--epochs", str(a.epochs), "--val-every", "0",
                        "--area-min", "0.25", "--optimizer", "adam", "--lr", "0.001", "--schedule", "constant",
                        "--threads", "2", "--workers", "2", "-o", out], check=True, capture_output=True)
        return [json.loads(l)["images_per_second"] for l in open(os.path.join(out, "metrics.jsonl")) if l.strip()]


def python_run(a):
    out = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "peer_train_classifier.py"), a.folder, "--model",
                          a.model, "--crop", str(a.crop), "--batch", str(a.batch), "--epochs", str(a.epochs)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["images_per_second"]


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
    ours, theirs = [], []
    for r in range(a.rounds):
        s = segkit_run(a)[1:]
        t = python_run(a)[1:]
        ours += s
        theirs += t
        print(f"round {r + 1}: segkit {[round(x, 1) for x in s]} img/s, PyTorch {[round(x, 1) for x in t]} img/s",
              flush=True)
    so, st = statistics.median(ours), statistics.median(theirs)
    print(f"median: segkit {so:.1f} img/s, PyTorch eager {st:.1f} img/s, ratio {so / st:.2f}x")


if __name__ == "__main__":
    main()
