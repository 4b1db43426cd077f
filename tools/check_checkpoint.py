#!/usr/bin/python3
"""Checks that PyTorch reads segkit's checkpoints: loads a zip checkpoint segkit
wrote with torch.load, compares it with make_parity_fixtures.dtype_state(), checks
a segkit safetensors file the same way, and writes the state back in the legacy
format for segkit to read.

Usage: check_checkpoint.py SEGKIT_ZIP SEGKIT_SAFETENSORS OUT_LEGACY
"""
import json
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_parity_fixtures import dtype_state  # noqa: E402

DTYPES = {"F32": torch.float32, "F64": torch.float64, "F16": torch.float16, "BF16": torch.bfloat16,
          "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
          "BOOL": torch.bool}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    out = {}
    for key, info in header.items():
        if key == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = torch.frombuffer(bytearray(data[8 + n + begin:8 + n + end]), dtype=torch.uint8) if end > begin \
            else torch.zeros(0, dtype=torch.uint8)
        out[key] = raw.view(DTYPES[info["dtype"]]).reshape(info["shape"])
    return out


def compare(name, loaded, expected):
    if list(loaded.keys()) != list(expected.keys()):
        sys.exit(f"{name}: keys differ: {list(loaded.keys())} vs {list(expected.keys())}")
    for key, want in expected.items():
        got = loaded[key]
        if got.dtype != want.dtype or got.shape != want.shape or not torch.equal(got, want):
            sys.exit(f"{name}: tensor {key} differs: {got} vs {want}")


def main():
    zip_path, safetensors_path, legacy_out = sys.argv[1:4]
    expected = dtype_state()
    loaded = torch.load(zip_path)
    compare(zip_path, loaded, expected)
    compare(safetensors_path, read_safetensors(safetensors_path), expected)
    torch.save(loaded, legacy_out, _use_new_zipfile_serialization=False)
    print("torch.load read", len(loaded), "tensors from", zip_path)


if __name__ == "__main__":
    main()
