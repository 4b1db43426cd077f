#!/usr/bin/python3
"""Stores a state dict's floating-point tensors in half precision (for the bundled
model: half the size, and segkit and torch.load read it as usual).

Usage: half_checkpoint.py IN.pth OUT.pth
"""
import sys

import torch

state = torch.load(sys.argv[1], map_location="cpu")
half = {k: (v.half() if v.is_floating_point() else v) for k, v in state.items()}
torch.save(half, sys.argv[2])
print(f"{len(half)} tensors written to {sys.argv[2]}")
