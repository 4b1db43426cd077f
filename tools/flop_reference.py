#!/usr/bin/env python3
"""The arithmetic of a zoo model's reference (torchvision's model, or the one written from the
paper in tools/) on an input of a given shape, for `segkit bench`'s count: forward hooks on every
convolution, transposed convolution and linear layer of the model that runs (aux heads left out,
as segkit's inference runs none), two floating-point operations per multiply-add:
  Conv:          2 * output elements * in_channels / groups * kernel elements
  ConvTranspose: 2 * input elements * out_channels / groups * kernel elements
  Linear:        2 * output elements * in_features
Prints {"flops": N}.

Usage: /usr/bin/python3 tools/flop_reference.py --model NAME --task semantic|classification
                        --classes K --input N,C,H,W [--unet JSON]
"""
import argparse
import json
import math
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from zoo_reference import build  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--task", required=True, choices=["semantic", "classification"])
    parser.add_argument("--classes", type=int, required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--unet", default="{}")
    args = parser.parse_args()

    model = build(args.model, args.task, args.classes, json.loads(args.unet)).eval()
    total = 0

    def count(module, inputs, output):
        nonlocal total
        kernel = math.prod(module.kernel_size) if hasattr(module, "kernel_size") else 1
        if isinstance(module, nn.modules.conv._ConvTransposeNd):
            total += 2 * inputs[0].numel() * module.out_channels // module.groups * kernel
        elif isinstance(module, nn.modules.conv._ConvNd):
            total += 2 * output.numel() * module.in_channels // module.groups * kernel
        elif isinstance(module, nn.Linear):
            total += 2 * output.numel() * module.in_features

    for name, module in model.named_modules():
        if name.startswith("aux"):
            continue
        if isinstance(module, (nn.modules.conv._ConvNd, nn.Linear)):
            module.register_forward_hook(count)
    with torch.no_grad():
        model(torch.randn([int(v) for v in args.input.split(",")]))
    print(json.dumps({"flops": total}))


if __name__ == "__main__":
    main()
