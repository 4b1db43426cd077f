#!/usr/bin/python3
"""Is int8 worth shipping? Post-training static quantization (PyTorch FX, per-channel weights)
of the bundled U-Net on the quantized engines of Debian's torch (oneDNN, QNNPACK), calibrated on
ISBI training slices 0-24, scored on held-out slices 25-29: agreement of its mask with the
float32 mask, pixel error against the truth, and time against float32 and bf16 autocast
(channels-last) in the same process, 2 threads, medians of alternating runs. With --segkit
BUILD_DIR, segkit's fp32, bf16 and int8 (its dynamic quantization, no calibration) in the same
rounds: masks from `segkit predict`, times from `segkit bench` (median of 3 passes a round).

Usage: int8_trial.py ISBI_DIR [--runs 5] [--segkit BUILD_DIR]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
from unet_reference import UNet  # noqa: E402
from machine import describe  # noqa: E402


class Valid(torch.nn.Module):
    """The U-Net without its padding to a multiple of 16 (control flow FX cannot trace); the
    slices' 512 x 512 need none."""

    def __init__(self, unet):
        super().__init__()
        self.unet = unet

    def forward(self, x):
        return self.unet._valid(x)


def slices(data, indices):
    for i in indices:
        x = np.array(Image.open(os.path.join(data, "images", f"{i}.png")).convert("L"), dtype=np.float32) / 255
        truth = np.array(Image.open(os.path.join(data, "labels", f"{i}.png"))) == 255
        yield torch.from_numpy((x - 0.5) / 0.5)[None, None], torch.from_numpy(truth.astype(np.int64))


def timed(fn, x, runs):
    fn(x)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - start)
    return times


def main():
    p = argparse.ArgumentParser()
    p.add_argument("isbi")
    p.add_argument("--weights", default=os.path.join(HERE, "..", "assets", "models", "unet_isbi2012_membranes.pth"))
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--segkit", help="a build directory: segkit's precisions in the same rounds")
    a = p.parse_args()
    print(describe())
    torch.set_num_threads(2)
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    model = UNet(in_channels=1, num_classes=2, depth=5, base_width=16, padding=True, batch_norm=True)
    model.load_state_dict({k: v.float() for k, v in torch.load(a.weights).items()})
    model.eval()
    held_out = list(slices(a.isbi, range(25, 30)))
    example = held_out[0][0]
    variants = {"fp32": model}
    cl = UNet(in_channels=1, num_classes=2, depth=5, base_width=16, padding=True, batch_norm=True)
    cl.load_state_dict(model.state_dict())
    cl = cl.eval().to(memory_format=torch.channels_last)

    def bf16(x):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return cl(x.contiguous(memory_format=torch.channels_last)).float()

    variants["bf16 autocast"] = bf16
    for engine in ("onednn", "qnnpack"):
        torch.backends.quantized.engine = engine
        try:
            fresh = UNet(in_channels=1, num_classes=2, depth=5, base_width=16, padding=True, batch_norm=True)
            fresh.load_state_dict(model.state_dict())
            # Per-channel weights for the convolutions; per-tensor for the transposed ones, which
            # torch 1.13's observers cannot do per channel.
            mapping = get_default_qconfig_mapping(engine).set_object_type(
                torch.nn.ConvTranspose2d, torch.ao.quantization.get_default_qconfig(engine).__class__(
                    activation=torch.ao.quantization.get_default_qconfig(engine).activation,
                    weight=torch.ao.quantization.default_weight_observer))
            prepared = prepare_fx(Valid(fresh.eval()), mapping, (example,))
            with torch.no_grad():
                for x, _ in slices(a.isbi, range(0, 25)):
                    prepared(x)
            quantized = convert_fx(prepared)
            with torch.no_grad():
                quantized(example)
            variants[f"int8 {engine}"] = (engine, quantized)
        except Exception as e:  # noqa: BLE001 - recorded, not fatal: the trial says what fails
            print(f"int8 {engine}: cannot quantize or run: {str(e).splitlines()[0]}")
    results = {}
    with torch.no_grad():
        reference = [model(x).argmax(1)[0] for x, _ in held_out]
    segkit_precisions = ("fp32", "bf16", "int8") if a.segkit else ()
    with tempfile.TemporaryDirectory() as out:
        for precision in segkit_precisions:
            files = [os.path.join(a.isbi, "images", f"{i}.png") for i in range(25, 30)]
            subprocess.run([os.path.join(a.segkit, "segkit"), "predict", "-w", a.weights, "--precision", precision,
                            "-o", os.path.join(out, precision)] + files, check=True,
                           capture_output=True)
            masks = [torch.from_numpy(np.array(Image.open(os.path.join(out, precision, f"{i}_mask.png"))).astype(
                np.int64)) for i in range(25, 30)]
            agree = float(sum((m == r).sum() for m, r in zip(masks, reference)) / sum(r.numel() for r in reference))
            error = float(sum((m != t).sum() for m, (_, t) in zip(masks, held_out)) / sum(t.numel() for _, t in held_out))
            results[f"segkit {precision}"] = {"agreement": agree, "pixel_error": error, "times": []}

    def segkit_time(precision):
        line = subprocess.run([os.path.join(a.segkit, "segkit"), "bench", "-w", a.weights, "--size", "512",
                               "--precision", precision, "--runs", "3", "--threads", "2", "--json"], check=True,
                              capture_output=True, text=True).stdout
        return json.loads(line)["median_ms"] / 1000

    with torch.no_grad():
        for name, v in variants.items():
            fn = v
            if isinstance(v, tuple):
                torch.backends.quantized.engine = v[0]
                fn = v[1]
            masks = [fn(x).argmax(1)[0] for x, _ in held_out]
            agree = float(sum((m == r).sum() for m, r in zip(masks, reference)) / sum(r.numel() for r in reference))
            error = float(sum((m != t).sum() for m, (_, t) in zip(masks, held_out)) / sum(t.numel() for _, t in held_out))
            results[name] = {"agreement": agree, "pixel_error": error, "times": []}
        for _ in range(a.runs):
            for name, v in variants.items():
                fn = v
                if isinstance(v, tuple):
                    torch.backends.quantized.engine = v[0]
                    fn = v[1]
                results[name]["times"] += timed(fn, example, 1)
            for precision in segkit_precisions:
                results[f"segkit {precision}"]["times"].append(segkit_time(precision))
    base = statistics.median(results["fp32"]["times"])
    print(f"U-Net (bundled), 1 x 1 x {example.shape[2]} x {example.shape[3]}, 2 threads, torch {torch.__version__}")
    for name, r in results.items():
        t = statistics.median(r["times"])
        print(f"{name:15s} {1000 * t:8.1f} ms  {base / t:5.2f}x fp32  agreement with fp32 {100 * r['agreement']:.3f}%  "
              f"pixel error {r['pixel_error']:.4f}")


if __name__ == "__main__":
    main()
