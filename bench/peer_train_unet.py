#!/usr/bin/python3
"""The Python peer of `segkit train` for bench/run_train_bench.py: the same U-Net
(tools/unet_reference.py), crop, batch, augmentation (flips, 90-degree turns,
rotation, scale, elastic deformation, one grid_sample with mirrored borders),
weighted cross-entropy and Adam, in PyTorch eager with a 2-worker DataLoader; optionally
with bf16 autocast around the forward pass and loss (--autocast) and channels-last weights
and batches (--channels-last). Prints one JSON line: images per second of each epoch and
the share of its time the step waited for the loader."""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from unet_reference import UNet  # noqa: E402


class Membranes(torch.utils.data.Dataset):
    def __init__(self, list_file, crop, epoch_size, seed):
        self.items = []
        for line in open(list_file):
            image, mask = line.split()
            x = torch.from_numpy(np.array(Image.open(image).convert("L"), dtype=np.float32) / 255)
            m = torch.from_numpy((np.array(Image.open(mask)) == 255).astype(np.int64))
            freq = torch.bincount(m.flatten(), minlength=2).double()
            w = (m.numel() / (2 * freq.clamp(min=1)))[m].float()  # class balancing, as segkit's w_c
            self.items.append(((x - 0.5) / 0.5, m, w))
        self.crop, self.epoch_size, self.seed = crop, epoch_size, seed

    def __len__(self):
        return self.epoch_size

    def __getitem__(self, index):
        g = torch.Generator().manual_seed(self.seed * 100003 + index)
        x, m, w = self.items[int(torch.randint(len(self.items), (1,), generator=g))]
        h, wd = x.shape
        s = self.crop
        u = lambda lo, hi: float(torch.rand(1, generator=g)) * (hi - lo) + lo  # noqa: E731
        a = torch.eye(2, dtype=torch.float64)
        if u(0, 1) < 0.5:
            a = a @ torch.tensor([[-1.0, 0], [0, 1]], dtype=torch.float64)
        if u(0, 1) < 0.5:
            a = a @ torch.tensor([[1.0, 0], [0, -1]], dtype=torch.float64)
        t = math.pi / 2 * int(torch.randint(4, (1,), generator=g)) + math.radians(u(-15, 15))
        rot = torch.tensor([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]], dtype=torch.float64)
        a = rot @ a / math.exp(u(math.log(0.85), math.log(1.2)))
        cx, cy = u(s / 2 - 0.5, wd - s / 2 - 0.5), u(s / 2 - 0.5, h - s / 2 - 0.5)
        ys, xs = torch.meshgrid(torch.arange(s) - (s - 1) / 2, torch.arange(s) - (s - 1) / 2, indexing="ij")
        field = F.interpolate(torch.randn(1, 2, 3, 3, generator=g) * 10, size=(s, s), mode="bicubic",
                              align_corners=True)[0]
        xs, ys = xs + field[0], ys + field[1]
        sx = xs * a[0, 0] + ys * a[0, 1] + cx
        sy = xs * a[1, 0] + ys * a[1, 1] + cy
        grid = torch.stack([(2 * sx + 1) / wd - 1, (2 * sy + 1) / h - 1], 2)[None].float()
        sample = lambda t, mode: F.grid_sample(t[None, None], grid, mode=mode, padding_mode="reflection",  # noqa
                                               align_corners=False)[0, 0]
        contrast, brightness = 1 + u(-0.1, 0.1), u(-0.1, 0.1)
        image = sample(x, "bilinear")
        image = ((image * 0.5 + 0.5 - 0.5) * contrast + 0.5 + brightness - 0.5) / 0.5
        return image[None], sample(m.float(), "nearest").round().long(), sample(w, "bilinear")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--list", required=True)
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--crop", type=int, default=256)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--epoch-size", type=int, default=80)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--autocast", action="store_true", help="bf16 autocast (PyTorch's mixed precision on the CPU)")
    p.add_argument("--channels-last", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = UNet(in_channels=1, num_classes=2, depth=5, base_width=args.width, padding=True, batch_norm=True)
    model.train()
    layout = torch.channels_last if args.channels_last else torch.contiguous_format
    model = model.to(memory_format=layout)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    rates, waits = [], []
    for epoch in range(args.epochs):
        data = Membranes(args.list, args.crop, args.epoch_size, seed=epoch)
        loader = torch.utils.data.DataLoader(data, batch_size=args.batch, num_workers=args.workers,
                                             worker_init_fn=lambda _: torch.set_num_threads(1))
        start = time.perf_counter()
        steps, wait = 0, 0.0
        batches = iter(loader)
        while True:
            waited = time.perf_counter()
            x, m, w = next(batches, (None, None, None))
            wait += time.perf_counter() - waited
            if x is None:
                break
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.autocast):
                logits = model(x.contiguous(memory_format=layout))
                loss = (F.cross_entropy(logits, m, reduction="none") * w).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            steps += 1
        seconds = time.perf_counter() - start
        rates.append(steps * args.batch / seconds)
        waits.append(wait / seconds)
    print(json.dumps({"images_per_second": rates, "data_wait_share": waits, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
