#!/usr/bin/python3
"""The Python peer of `segkit train` on a classifier for bench/run_classification_train_bench.py:
the same torchvision model, ImageFolder, augmentation (RandomResizedCrop, horizontal flip,
normalization), batch, cross-entropy and Adam, in PyTorch eager with a 2-worker DataLoader
(images decoded once and kept in memory, as segkit does). Prints one JSON line: images per
second of each epoch's training loop (data loading included).
Usage: peer_train_classifier.py FOLDER [--model resnet18] [--crop 112] [--batch 32] [--epochs 3]"""
import argparse
import json
import time

import torch
import torchvision
from torchvision import transforms


class InMemory(torch.utils.data.Dataset):
    def __init__(self, folder, transform):
        data = torchvision.datasets.ImageFolder(folder)  # skips files that are not images, as --skip-bad
        self.items = [(data.loader(path), label) for path, label in data.samples]
        self.transform = transform

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        image, label = self.items[i]
        return self.transform(image), label


def main():
    p = argparse.ArgumentParser()
    p.add_argument("folder")
    p.add_argument("--model", default="resnet18")
    p.add_argument("--crop", type=int, default=112)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    transform = transforms.Compose([
        transforms.RandomResizedCrop(a.crop, scale=(0.25, 1.0)),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])
    data = InMemory(a.folder, transform)
    loader = torch.utils.data.DataLoader(data, batch_size=a.batch, shuffle=True, drop_last=True, num_workers=2,
                                         persistent_workers=True,
                                         worker_init_fn=lambda _: torch.set_num_threads(1))
    model = getattr(torchvision.models, a.model)(num_classes=len(set(l for _, l in data.items)))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    rates, waits = [], []
    for _ in range(a.epochs):
        start, seen, wait = time.perf_counter(), 0, 0.0
        batches = iter(loader)
        while True:
            waited = time.perf_counter()
            images, labels = next(batches, (None, None))
            wait += time.perf_counter() - waited
            if images is None:
                break
            loss = torch.nn.functional.cross_entropy(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            seen += images.shape[0]
        seconds = time.perf_counter() - start
        rates.append(seen / seconds)
        waits.append(wait / seconds)
    print(json.dumps({"impl": "pytorch", "images_per_second": rates, "data_wait_share": waits}))


if __name__ == "__main__":
    main()
