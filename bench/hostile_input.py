"""Hostile input, before and after: time, peak memory and what segkit prints for decompression
bombs, hostile checkpoint headers and damaged images, for two segkit binaries side by side
(the same inputs, runs alternating, medians).

usage: /usr/bin/python3 bench/hostile_input.py OLD_SEGKIT NEW_SEGKIT [--rounds 3] [--work DIR]

Each case runs `segkit predict` with the bundled U-Net (or the checkpoint under test) under
/usr/bin/time; the table gives the median wall time and peak resident memory, the exit status
and the length and first characters of what segkit printed on stderr.
"""
import argparse
import collections
import io
import json
import os
import pickle
import statistics
import struct
import subprocess
import zipfile
import zlib

import numpy as np
import torch
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UNET = os.path.join(ROOT, "assets/models/unet_isbi2012_membranes.pth")
IMAGE = os.path.join(ROOT, "assets/images/isbi2012_slice29.png")


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(path, side):
    """A gray PNG of side x side zeros: about 1 MB on disk at side 32000, 1 GB of pixels."""
    if os.path.exists(path):
        return
    compressor = zlib.compressobj(9)
    row = b"\0" * (side + 1)
    data = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)) +
                png_chunk(b"IDAT", data) + png_chunk(b"IEND", b""))


def png_header_only(path, side):
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)) +
                png_chunk(b"IEND", b""))


def truncated_jpeg(path):
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (512, 512, 3), dtype=np.uint8)).save(buf, "JPEG", quality=90)
    with open(path, "wb") as f:
        f.write(buf.getvalue()[: len(buf.getvalue()) // 2])


class FakeStorage:
    pass


class FakeTensor:
    def __init__(self, sizes, strides):
        self.sizes, self.strides = sizes, strides

    def __reduce__(self):
        return torch._utils._rebuild_tensor_v2, (FakeStorage(), 0, self.sizes, self.strides, False,
                                                  collections.OrderedDict())


class StoragePickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, FakeStorage):
            return "storage", torch.FloatStorage, "0", "cpu", 1
        return None


def zip_checkpoint(path, state, record):
    """torch.save's zip layout around a hand-made data.pkl whose one storage holds one float,
    and segkit's record of the model (the bundled U-Net's)."""
    buf = io.BytesIO()
    StoragePickler(buf, protocol=2).dump(state)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", buf.getvalue())
        z.writestr("archive/byteorder", "little")
        z.writestr("archive/data/0", struct.pack("<f", 1.0))
        z.writestr("archive/version", "3\n")
        z.writestr("archive/segkit.json", record)


def unet_state_with(first_sizes):
    """The bundled U-Net's keys and shapes, every tensor a zero-stride view of one float, the
    first one's sizes replaced: the file gets as far as the shape check."""
    state = collections.OrderedDict()
    for i, (key, tensor) in enumerate(torch.load(UNET).items()):
        sizes = first_sizes if i == 0 else tuple(tensor.shape)
        state[key] = FakeTensor(sizes, (0,) * len(sizes))
    return state


def safetensors_100gb(path, record):
    """The U-Net's record and its first tensor declared as 25 billion floats over 64 bytes."""
    key = next(iter(torch.load(UNET)))
    header = json.dumps({"__metadata__": {"segkit": record.decode()},
                         key: {"dtype": "F32", "shape": [25_000_000_000], "data_offsets": [0, 100_000_000_000]}})
    header += " " * ((8 - len(header) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header.encode() + b"\0" * 64)


def make_cases(work):
    os.makedirs(work, exist_ok=True)
    p = lambda name: os.path.join(work, name)
    png_bomb(p("bomb_32000.png"), 32000)
    png_header_only(p("header_100000.png"), 100000)
    truncated_jpeg(p("truncated.jpg"))
    record = zipfile.ZipFile(UNET).read(next(n for n in zipfile.ZipFile(UNET).namelist() if n.endswith("segkit.json")))
    zip_checkpoint(p("shape_100000_dims.pth"), unet_state_with((1,) * 100_000), record)
    zip_checkpoint(p("shape_2_64.pth"), unet_state_with((2 ** 64,)), record)
    safetensors_100gb(p("tensor_100gb.safetensors"), record)
    image_args = lambda image: ["-w", UNET, image]
    weights_args = lambda weights: ["-w", weights, IMAGE]
    return [
        ("PNG bomb, 32000x32000 gray (%.1f MB file)" % (os.path.getsize(p("bomb_32000.png")) / 1e6),
         image_args(p("bomb_32000.png"))),
        ("PNG header of 100000x100000, no pixels", image_args(p("header_100000.png"))),
        ("JPEG cut in half (512x512)", image_args(p("truncated.jpg"))),
        ("zip checkpoint, a tensor of 100,000 dimensions", weights_args(p("shape_100000_dims.pth"))),
        ("zip checkpoint, a size of 2^64", weights_args(p("shape_2_64.pth"))),
        ("safetensors header declaring a 100 GB tensor", weights_args(p("tensor_100gb.safetensors"))),
    ]


def run(binary, args, out):
    command = ["/usr/bin/time", "-f", "TIME %e %M", binary, "predict", "--threads", "2", "-o", out] + args
    r = subprocess.run(command, capture_output=True, text=True, errors="replace")
    lines = r.stderr.splitlines()
    seconds, kib = map(float, lines[-1].split()[1:3])
    said = "\n".join(line for line in lines[:-1] if not line.startswith("Command exited with"))
    return {"seconds": seconds, "mib": kib / 1024, "status": r.returncode, "said": said}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work", default="/tmp/segkit_hostile")
    a = parser.parse_args()
    cases = make_cases(a.work)
    print("| input | version | exit | wall s | peak MiB | stderr bytes | stderr begins |")
    print("|---|---|---|---|---|---|---|")
    for name, args in cases:
        results = {"before": [], "after": []}
        for _ in range(a.rounds):
            for label, binary in (("before", a.old), ("after", a.new)):
                results[label].append(run(binary, args, os.path.join(a.work, "out_" + label)))
        for label in ("before", "after"):
            rs = results[label]
            said = rs[-1]["said"]
            shown = said.replace(a.work + "/", "").replace(ROOT + "/", "")[:110].replace("|", "\\|").replace("\n", " / ")
            print("| %s | %s | %d | %.2f | %.0f | %d | `%s` |" % (
                name, label, rs[-1]["status"], statistics.median(r["seconds"] for r in rs),
                statistics.median(r["mib"] for r in rs), len(said), shown))


if __name__ == "__main__":
    main()
