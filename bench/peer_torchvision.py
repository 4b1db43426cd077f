#!/usr/bin/python3
"""torchvision eager inference, measured exactly as `segkit bench` measures segkit.
Prints one JSON line. Models torchvision lacks (U-Net, SE-ResNet-50) are the reference modules
written from their papers in tools/ (tools/zoo_reference.py), the same eager PyTorch.
--bf16: the best a Python user has without leaving eager mode on a CPU with bf16: the model and
input channels-last, forward under torch.autocast("cpu", dtype=torch.bfloat16).
Usage: peer_torchvision.py MODEL WEIGHTS [--aux] [--bf16] [--runs N] [--threads N] [--size N] [--batch N]"""
import contextlib
import argparse
import json
import os
import sys
import time

import torch
import torchvision
from torchvision.models import segmentation

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from zoo_reference import build  # noqa: E402


def status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def load(name, weights, aux):
    state = torch.load(weights)
    if hasattr(segmentation, name):
        key = "classifier.low_classifier.weight" if name.startswith("lraspp") else "classifier.4.weight"
        kwargs = {} if name.startswith("lraspp") else {"aux_loss": aux}
        model = getattr(segmentation, name)(weights=None, weights_backbone=None, num_classes=state[key].shape[0],
                                            **kwargs)
        if not aux:
            state = {k: v for k, v in state.items() if not k.startswith("aux_classifier.")}
        return model, state, lambda out: out["out"]
    if name.startswith("unet"):
        model = build(name, "semantic", state["head.weight"].shape[0], {"padding": name == "unet_padded"})
        return model, state, lambda out: out
    if not hasattr(torchvision.models, name):
        model = build(name, "classification", state["fc.weight"].shape[0], {})
        return model, state, lambda out: out
    model = getattr(torchvision.models, name)(weights=None)
    return model, state, lambda out: out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("weights")
    p.add_argument("--aux", action="store_true", help="keep the aux head, as loading an official checkpoint does")
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--size", type=int, default=520)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--bf16", action="store_true", help="channels-last and bf16 autocast")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    model, state, output = load(a.model, a.weights, a.aux)
    model.load_state_dict(state)
    del state
    model.eval()
    channels = next(p for p in model.parameters() if p.dim() == 4).shape[1]  # U-Net's: 1
    x = torch.randn(a.batch, channels, a.size, a.size)
    autocast = contextlib.nullcontext()
    if a.bf16:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
        autocast = torch.autocast("cpu", dtype=torch.bfloat16)
    base = status_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    times = []
    with torch.inference_mode(), autocast:
        for _ in range(a.warmup):
            model(x)
        for _ in range(a.runs):
            start = time.perf_counter()
            output(model(x))
            times.append((time.perf_counter() - start) * 1000)
    times.sort()
    peak = status_kib("VmHWM")
    print(json.dumps({"impl": "torchvision" + ("+aux" if a.aux else "") + ("+bf16" if a.bf16 else ""), "model": a.model, "batch": a.batch,
                      "median_ms": times[len(times) // 2], "min_ms": times[0], "peak_rss_mib": peak / 1024,
                      "inference_peak_mib": (peak - base) / 1024}))


if __name__ == "__main__":
    main()
