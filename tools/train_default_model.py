#!/usr/bin/python3
"""Trains the small bundled default model: torchvision's lraspp_mobilenet_v3_large
with 2 classes (0 = cell interior, 1 = membrane) on ISBI 2012 slices 0-24, from
scratch, for a fixed time budget, and saves its state dict in half precision
(torch.save zip format) for `segkit predict` to load unchanged.

This is a stand-in until segkit trains its own U-Net (issue 4).

Usage: train_default_model.py ISBI_DIR OUT.pth [MINUTES]
"""
import os
import sys
import time

import numpy as np
import PIL.Image
import torch
from torchvision.models import segmentation

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)


def load(isbi, indices):
    images, labels = [], []
    for i in indices:
        img = np.asarray(PIL.Image.open(os.path.join(isbi, "images", f"{i}.png")).convert("L"), dtype=np.float32)
        lab = np.asarray(PIL.Image.open(os.path.join(isbi, "labels", f"{i}.png")).convert("L"))
        images.append(torch.from_numpy(img / 255.0))
        labels.append(torch.from_numpy((lab < 128).astype(np.int64)))
    return torch.stack(images), torch.stack(labels)


def batch(images, labels, generator, size=256, count=4):
    xs, ys = [], []
    for _ in range(count):
        i = int(torch.randint(len(images), (1,), generator=generator))
        top, left = (int(v) for v in torch.randint(images.shape[1] - size + 1, (2,), generator=generator))
        x = images[i, top:top + size, left:left + size]
        y = labels[i, top:top + size, left:left + size]
        k = int(torch.randint(4, (1,), generator=generator))
        x, y = torch.rot90(x, k), torch.rot90(y, k)
        if torch.rand(1, generator=generator) < 0.5:
            x, y = x.flip(1), y.flip(1)
        xs.append(((x.expand(3, -1, -1)) - MEAN) / STD)
        ys.append(y)
    return torch.stack(xs), torch.stack(ys)


def main():
    isbi, out = sys.argv[1], sys.argv[2]
    minutes = float(sys.argv[3]) if len(sys.argv) > 3 else 8
    torch.manual_seed(0)
    torch.set_num_threads(int(os.environ.get("THREADS", "1")))
    generator = torch.Generator().manual_seed(0)
    images, labels = load(isbi, range(25))
    model = segmentation.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    weight = torch.tensor([1.0, 2.0])  # membranes are the minority class
    start, step = time.time(), 0
    model.train()
    while time.time() - start < minutes * 60:
        x, y = batch(images, labels, generator)
        loss = torch.nn.functional.cross_entropy(model(x)["out"], y, weight=weight)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step += 1
        if step % 50 == 0:
            print(f"step {step} loss {loss.item():.4f} {time.time() - start:.0f}s", flush=True)
    model.eval()
    test_x, test_y = load(isbi, range(25, 30))
    with torch.no_grad():
        pred = model(((test_x.unsqueeze(1).expand(-1, 3, -1, -1)) - MEAN) / STD)["out"].argmax(1)
    print(f"held-out slices 25-29: pixel error {(pred != test_y).float().mean().item():.4f} after {step} steps")
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    torch.save(state, out + ".tmp")
    os.replace(out + ".tmp", out)


if __name__ == "__main__":
    main()
