#!/usr/bin/python3
"""segkit's detection ops against torchvision's on the same inputs, in alternating
processes: RoIAlign over an FPN as Mask R-CNN's box head (1,000 proposals, 7x7) and mask head
(100 detections, 14x14) use it on an 800x1216 input, the RPN's batched NMS (4,700 boxes,
5 levels, IoU 0.7), decoding 242,991 anchors, pasting 100 28x28 masks into 480x640.

Usage: bench/run_ops_bench.py BUILD_DIR [--rounds 5] [--threads 2]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch
from torchvision import ops
from torchvision.models.detection import _utils as det_utils
from torchvision.models.detection.roi_heads import paste_masks_in_image

from machine import describe


def random_boxes(generator, count, width, height):
    corner = torch.rand(count, 2, generator=generator) * torch.tensor([width, height])
    size = torch.rand(count, 2, generator=generator) * torch.tensor([width, height]) / 3 + 4
    return torch.cat([corner, corner + size], 1).clamp(max=max(width, height))


def make_inputs(path):
    g = torch.Generator().manual_seed(7)
    height, width = 800, 1216
    t = {f"features.{k}": torch.randn(1, 256, height // 2 ** (k + 2), width // 2 ** (k + 2), generator=g)
         for k in range(4)}
    t["image_size"] = torch.tensor([height, width])
    t["proposals"] = random_boxes(g, 1000, width, height)
    t["detections"] = random_boxes(g, 100, width, height)
    t["rpn_boxes"] = random_boxes(g, 4700, width, height)
    t["rpn_scores"] = torch.rand(4700, generator=g)
    t["rpn_levels"] = torch.randint(0, 5, (4700,), generator=g)
    t["anchors"] = random_boxes(g, 242991, width, height)
    t["codes"] = torch.randn(242991, 4, generator=g) * 0.2
    t["masks"] = torch.rand(100, 1, 28, 28, generator=g)
    t["original_size"] = torch.tensor([480, 640])
    t["pasted_boxes"] = ops.clip_boxes_to_image(t["detections"] * 0.55, (480, 640))
    torch.save(t, path)


def peer(path, runs, threads):
    torch.set_num_threads(threads)
    t = torch.load(path)
    features = {str(k): t[f"features.{k}"] for k in range(4)}
    sizes = [tuple(t["image_size"].tolist())]
    box_pooler = ops.MultiScaleRoIAlign(["0", "1", "2", "3"], 7, 2)
    mask_pooler = ops.MultiScaleRoIAlign(["0", "1", "2", "3"], 14, 2)
    coder = det_utils.BoxCoder((1.0, 1.0, 1.0, 1.0))
    original = tuple(t["original_size"].tolist())
    calls = {
        "roi_align_box_head": lambda: box_pooler(features, [t["proposals"]], sizes),
        "roi_align_mask_head": lambda: mask_pooler(features, [t["detections"]], sizes),
        "batched_nms_rpn": lambda: ops.batched_nms(t["rpn_boxes"], t["rpn_scores"], t["rpn_levels"], 0.7),
        "decode_anchors": lambda: coder.decode_single(t["codes"], t["anchors"]),
        "paste_masks": lambda: paste_masks_in_image(t["masks"], t["pasted_boxes"], original, padding=1),
    }
    result = {}
    with torch.no_grad():
        for name, call in sorted(calls.items()):
            call()
            ms = []
            for _ in range(runs):
                start = time.perf_counter()
                call()
                ms.append((time.perf_counter() - start) * 1000)
            result[name] = statistics.median(ms)
    print(json.dumps(result))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("build")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--peer", help=argparse.SUPPRESS)
    args = parser.parse_args()
    print(describe(), flush=True)
    if args.peer:
        return peer(args.peer, 7, args.threads)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "inputs.pth")
        make_inputs(path)
        ours, theirs = [], []
        for _ in range(args.rounds):
            ours.append(json.loads(subprocess.check_output(
                [os.path.join(args.build, "bench", "bench_ops"), path, "--threads", str(args.threads)])))
            theirs.append(json.loads(subprocess.check_output(
                [sys.executable, __file__, args.build, "--threads", str(args.threads), "--peer", path])))
    print(f"{'op':22} {'segkit ms':>10} {'torchvision ms':>15} {'speed-up':>9}")
    for name in sorted(ours[0]):
        a = statistics.median(r[name] for r in ours)
        b = statistics.median(r[name] for r in theirs)
        print(f"{name:22} {a:10.2f} {b:15.2f} {b / a:8.2f}x")


if __name__ == "__main__":
    main()
