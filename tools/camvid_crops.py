#!/usr/bin/python3
"""Square crops of CamVid's training images, each labelled by the class that covers most
of it, written as an ImageFolder (OUT/<class>/<n>.png) for pretraining a classifier's
backbone (bench/RESULTS.md: transfer learning to ants and bees). The dataset is read in
place; the crops are derived data for a run's scratch folder, not for the repository.

Usage: camvid_crops.py CAMVID_DIR OUT_DIR [--size 96] [--per-image 40] [--seed 0]
A crop is kept when its majority class covers at least half of it (label 11, unlabelled,
never counts); at most --per-class crops per class keep the classes less unbalanced, and
classes with fewer than --min-class crops (thin things: poles, signs) are left out.
"""
import argparse
import os
import shutil

import numpy as np
from PIL import Image

CLASSES = ["sky", "building", "pole", "road", "pavement", "tree", "sign", "fence", "car", "pedestrian", "bicyclist"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("camvid")
    parser.add_argument("out")
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--per-image", type=int, default=40)
    parser.add_argument("--per-class", type=int, default=2500)
    parser.add_argument("--min-class", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    counts = {c: 0 for c in CLASSES}
    for c in CLASSES:
        os.makedirs(os.path.join(args.out, c), exist_ok=True)
    with open(os.path.join(args.camvid, "train.txt")) as f:
        pairs = [line.split() for line in f if line.strip()]
    for image_path, label_path in pairs:
        image = np.array(Image.open(os.path.join(args.camvid, image_path.lstrip("/"))).convert("RGB"))
        labels = np.array(Image.open(os.path.join(args.camvid, label_path.lstrip("/"))))
        h, w = labels.shape
        for _ in range(args.per_image):
            side = int(rng.integers(args.size // 2, min(h, w) // 2))
            top, left = int(rng.integers(0, h - side)), int(rng.integers(0, w - side))
            window = labels[top:top + side, left:left + side]
            histogram = np.bincount(window.ravel(), minlength=12)[:11]
            k = int(histogram.argmax())
            if histogram[k] * 2 < window.size or counts[CLASSES[k]] >= args.per_class:
                continue
            crop = Image.fromarray(image[top:top + side, left:left + side]).resize((args.size, args.size), Image.BILINEAR)
            crop.save(os.path.join(args.out, CLASSES[k], f"{counts[CLASSES[k]]}.png"))
            counts[CLASSES[k]] += 1
    for c, n in counts.items():
        if n < args.min_class:
            shutil.rmtree(os.path.join(args.out, c))
    print("crops per class:", {c: n for c, n in counts.items() if n >= args.min_class})


if __name__ == "__main__":
    main()
