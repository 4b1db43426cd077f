"""Seed corpora for the fuzzing harnesses (fuzz/): small valid files of every kind each
harness reads, made with the tools that write them in the field (torch.save, PIL).

usage: /usr/bin/python3 tools/make_fuzz_seeds.py OUT_DIR
writes OUT_DIR/{pickle,checkpoint_zip,checkpoint_legacy,safetensors,image,label}/*
"""
import collections
import io
import json
import os
import pickle
import struct
import sys
import zipfile

import numpy as np
import torch
from PIL import Image


def write(out, harness, name, data):
    os.makedirs(os.path.join(out, harness), exist_ok=True)
    with open(os.path.join(out, harness, name), "wb") as f:
        f.write(data)


def state_dicts():
    g = torch.Generator().manual_seed(0)
    conv = collections.OrderedDict(
        [("conv.weight", torch.randn(2, 1, 3, 3, generator=g)), ("conv.bias", torch.randn(2, generator=g)),
         ("bn.running_mean", torch.zeros(2)), ("bn.num_batches_tracked", torch.tensor(3))])
    mixed = collections.OrderedDict(
        [("a", torch.arange(6, dtype=torch.int32).reshape(2, 3)), ("b", torch.ones(3, dtype=torch.float16)),
         ("c", torch.ones(2, dtype=torch.bfloat16)), ("d", torch.tensor([True, False])),
         ("e", torch.arange(4, dtype=torch.float64)[1:3]), ("f", torch.zeros(0, 3))])
    shared = torch.arange(8.0)
    views = collections.OrderedDict([("whole", shared), ("part", shared[2:5]), ("t", torch.randn(3, 2).t())])
    return {"conv": conv, "mixed": mixed, "views": views, "wrapped": {"state_dict": conv, "epoch": 3}}


def torch_save(obj, zip_format):
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=zip_format)
    return buf.getvalue()


def safetensors(tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    names = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64",
             torch.int32: "I32", torch.uint8: "U8", torch.bool: "BOOL", torch.float64: "F64"}
    for name, t in tensors.items():
        t = t.contiguous()
        data = t.view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": names[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def image_bytes(array, fmt, **options):
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, fmt, **options)
    return buf.getvalue()


def main(out):
    rng = np.random.default_rng(0)
    for name, sd in state_dicts().items():
        zipped = torch_save(sd, True)
        write(out, "checkpoint_zip", name + ".pth", zipped)
        write(out, "checkpoint_legacy", name + ".pth", torch_save(sd, False))
        with zipfile.ZipFile(io.BytesIO(zipped)) as z:  # data.pkl: the pickle with persistent ids
            pkl = next(n for n in z.namelist() if n.endswith("data.pkl"))
            write(out, "pickle", name + "_data.pkl", z.read(pkl))
        flat = sd.get("state_dict", sd)
        write(out, "safetensors", name + ".safetensors",
              safetensors({k: v for k, v in flat.items() if v.dtype != torch.int64 or v.dim() > 0},
                           {"segkit": json.dumps({"model": "unet"})} if name == "conv" else None))
    for protocol in (2, 3, 4, 5):
        plain = {"epoch": 7, "lr": 0.01, "names": ["a", "b"], "nested": [[1, (2, 3)], {"k": None, "t": True}],
                 "bytes": b"\x00\xff", "big": 2 ** 70}
        write(out, "pickle", "plain_p%d.pkl" % protocol, pickle.dumps(plain, protocol=protocol))

    rgb = rng.integers(0, 256, (9, 13, 3), dtype=np.uint8)
    gray = rgb[..., 0]
    write(out, "image", "rgb.png", image_bytes(rgb, "PNG"))
    write(out, "image", "rgba.png", image_bytes(np.dstack([rgb, gray]), "PNG"))
    write(out, "image", "gray.png", image_bytes(gray, "PNG"))
    write(out, "image", "gray16.png", image_bytes(gray.astype(np.uint16) * 257, "PNG"))
    write(out, "image", "optimized.png", image_bytes(rgb, "PNG", optimize=True))
    pal = Image.fromarray(gray % 4).convert("P")
    pal.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255])
    buf = io.BytesIO(); pal.save(buf, "PNG", bits=2); write(out, "image", "palette.png", buf.getvalue())
    write(out, "image", "rgb.jpg", image_bytes(rgb, "JPEG", quality=90))
    write(out, "image", "gray.jpg", image_bytes(gray, "JPEG"))
    write(out, "image", "progressive.jpg", image_bytes(rgb, "JPEG", progressive=True))
    buf = io.BytesIO(); Image.fromarray(rgb).convert("CMYK").save(buf, "JPEG"); write(out, "image", "cmyk.jpg", buf.getvalue())
    write(out, "image", "rgb.bmp", image_bytes(rgb, "BMP"))
    write(out, "image", "gray.bmp", image_bytes(gray, "BMP"))
    write(out, "image", "rgb.tif", image_bytes(rgb, "TIFF"))
    write(out, "image", "lzw.tif", image_bytes(rgb, "TIFF", compression="tiff_lzw"))
    write(out, "image", "gray16.tif", image_bytes(gray.astype(np.uint16) * 257, "TIFF"))
    # Tiled TIFF, classic and BigTIFF, 8- and 16-bit, as slide scanners and microscopes write them
    # (read in bands by ImageRows).
    import tifffile
    for name, array, options in [("tiled.tif", rgb, dict(tile=(16, 16), compression="zlib")),
                                 ("tiled_bigtiff.tif", np.tile(rgb, (4, 3, 1)), dict(tile=(32, 32), bigtiff=True)),
                                 ("tiled16.tif", rgb.astype(np.uint16) * 257,
                                  dict(tile=(16, 16), compression="zlib", predictor=True))]:
        buf = io.BytesIO(); tifffile.imwrite(buf, array, photometric="rgb", **options)
        write(out, "image", name, buf.getvalue())

    labels = rng.integers(0, 5, (11, 7), dtype=np.uint8)
    write(out, "label", "labels.png", image_bytes(labels, "PNG"))
    write(out, "label", "labels16.png", image_bytes(labels.astype(np.uint16) * 300, "PNG"))
    voc = Image.fromarray(labels).convert("P")
    voc.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0, 128, 128, 0, 0, 0, 128])
    buf = io.BytesIO(); voc.save(buf, "PNG"); write(out, "label", "voc_palette.png", buf.getvalue())
    write(out, "label", "labels_rgb.png", image_bytes(np.dstack([labels] * 3), "PNG"))
    write(out, "label", "labels.tif", image_bytes(labels, "TIFF"))
    write(out, "label", "labels.bmp", image_bytes(labels, "BMP"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
