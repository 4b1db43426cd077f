#!/usr/bin/python3
"""Writes a large gray image for the tiled-inference benchmark: a mosaic of the ISBI 2012
slices (read in place), mirrored alternately so that seams are continuous. OUT.png is built
whole; OUT.tif is a tiled, deflated BigTIFF (512 x 512 tiles, as slide scanners write them)
written a tile at a time, so any size fits in memory (100000 x 100000 included).

Usage: make_mosaic.py ISBI_IMAGES_DIR SIDE OUT.png|OUT.tif [HEIGHT]   (SIDE x SIDE, or HEIGHT rows of SIDE)
"""
import os
import sys

import numpy as np
from PIL import Image


def cell(slices, n, r, c):
    """The mosaic's slice at row r, column c of n columns."""
    s = slices[(r * n + c) % len(slices)]
    s = s[::-1] if r % 2 else s
    return s[:, ::-1] if c % 2 else s


def main():
    folder, side, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    height = int(sys.argv[4]) if len(sys.argv) > 4 else side
    slices = [np.array(Image.open(os.path.join(folder, f"{i}.png")).convert("L")) for i in range(30)]
    tile = slices[0].shape[0]
    n = (side + tile - 1) // tile
    cell_rows = (height + tile - 1) // tile
    if out.endswith(".tif"):
        import tifffile
        tiles = (np.ascontiguousarray(cell(slices, n, r, c)) for r in range(cell_rows) for c in range(n))
        tifffile.imwrite(out, tiles, shape=(height, side), dtype=np.uint8, tile=(tile, tile), bigtiff=True,
                         compression="zlib", photometric="minisblack")
        return
    rows = [np.concatenate([cell(slices, n, r, c) for c in range(n)], 1) for r in range(cell_rows)]
    Image.fromarray(np.concatenate(rows, 0)[:height, :side]).save(out)


if __name__ == "__main__":
    main()
