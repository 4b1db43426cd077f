#!/usr/bin/python3
"""Writes a large gray PNG for the tiled-inference benchmark: a mosaic of the ISBI
2012 slices (read in place), mirrored alternately so that seams are continuous.

Usage: make_mosaic.py ISBI_IMAGES_DIR SIDE OUT.png [HEIGHT]   (SIDE x SIDE, or HEIGHT rows of SIDE)
"""
import os
import sys

import numpy as np
from PIL import Image

folder, side, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
height = int(sys.argv[4]) if len(sys.argv) > 4 else side
slices = [np.array(Image.open(os.path.join(folder, f"{i}.png")).convert("L")) for i in range(30)]
tile = slices[0].shape[0]
n = (side + tile - 1) // tile
rows = []
for r in range((height + tile - 1) // tile):
    row = []
    for c in range(n):
        s = slices[(r * n + c) % len(slices)]
        s = s[::-1] if r % 2 else s
        row.append(s[:, ::-1] if c % 2 else s)
    rows.append(np.concatenate(row, 1))
Image.fromarray(np.concatenate(rows, 0)[:height, :side]).save(out)
