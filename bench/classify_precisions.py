#!/usr/bin/python3
"""A trained classifier in every CPU precision: `segkit classify --json` on an ImageFolder-style
folder (one subfolder per class, classes in sorted order) in fp32, bf16 and int8; top-1
agreement of each with fp32, accuracy against the folders, and the largest change of the top
class's probability.

Usage: bench/classify_precisions.py BUILD_DIR CHECKPOINT FOLDER [--precision fp32 --precision int8 ...]
"""
import argparse
import json
import os
import subprocess

from machine import describe


def classify(segkit, checkpoint, folders, precision):
    """{image path: (top class, its probability)}."""
    out = subprocess.run([segkit, "classify", "-w", checkpoint, "--json", "--skip-bad", "--top", "1",
                          "--precision", precision] + folders, check=True, capture_output=True, text=True).stdout
    answers = {}
    for line in out.splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            answers[os.path.realpath(r["image"])] = (r["top"][0]["class"], r["top"][0]["prob"])
    return answers


def main():
    p = argparse.ArgumentParser()
    p.add_argument("build_dir")
    p.add_argument("checkpoint")
    p.add_argument("folder")
    p.add_argument("--precision", action="append")
    a = p.parse_args()
    print(describe())
    segkit = os.path.join(a.build_dir, "segkit")
    classes = sorted(d for d in os.listdir(a.folder) if os.path.isdir(os.path.join(a.folder, d)))
    truth = {}
    for index, name in enumerate(classes):
        for f in os.listdir(os.path.join(a.folder, name)):
            truth[os.path.realpath(os.path.join(a.folder, name, f))] = index
    precisions = a.precision or ["fp32", "bf16", "int8"]
    folders = [os.path.join(a.folder, name) for name in classes]
    runs = {precision: classify(segkit, a.checkpoint, folders, precision) for precision in precisions}
    reference = runs[precisions[0]]
    print(f"{len(reference)} images, {len(classes)} classes; against {precisions[0]}")
    for precision, answers in runs.items():
        agree = sum(answers[k][0] == reference[k][0] for k in reference) / len(reference)
        accuracy = sum(answers[k][0] == truth[k] for k in answers) / len(answers)
        shift = max(abs(answers[k][1] - reference[k][1]) for k in reference if answers[k][0] == reference[k][0])
        print(f"{precision:5s} top-1 agreement {100 * agree:.2f}%  accuracy {100 * accuracy:.2f}%  "
              f"largest change of the top probability {shift:.4f}")


if __name__ == "__main__":
    main()
