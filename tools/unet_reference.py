"""U-Net in PyTorch with segkit's module names, for parity fixtures and the
training benchmark's Python peer. Mirrors src/models/segmentors/unet.cpp."""
import torch
import torch.nn.functional as F
from torch import nn


class Block(nn.Module):
    def __init__(self, cin, cout, padding, batch_norm):
        super().__init__()
        p = 1 if padding else 0
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=p, bias=not batch_norm)
        self.bn1 = nn.BatchNorm2d(cout) if batch_norm else None
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=p, bias=not batch_norm)
        self.bn2 = nn.BatchNorm2d(cout) if batch_norm else None

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(self.bn1(x) if self.bn1 is not None else x)
        x = self.conv2(x)
        return F.relu(self.bn2(x) if self.bn2 is not None else x)


class UNet(nn.Module):
    def __init__(self, in_channels=1, num_classes=2, depth=5, base_width=64, padding=False, batch_norm=False,
                 upsampling="transposed"):
        super().__init__()
        self.depth, self.padding, self.upsampling = depth, padding, upsampling
        self.encoder, self.up, self.decoder = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        channels = in_channels
        for level in range(depth):
            width = base_width << level
            self.encoder.append(Block(channels, width, padding, batch_norm))
            channels = width
        for level in range(depth - 2, -1, -1):
            width = base_width << level
            if upsampling == "transposed":
                self.up.append(nn.ConvTranspose2d(channels, width, 2, stride=2))
            else:
                self.up.append(nn.Conv2d(channels, width, 3, padding=1))
            self.decoder.append(Block(2 * width, width, padding, batch_norm))
            channels = width
        self.head = nn.Conv2d(channels, num_classes, 1)

    def _valid(self, x):
        skips = []
        for level, block in enumerate(self.encoder):
            x = block(x)
            if level + 1 < self.depth:
                skips.append(x)
                x = F.max_pool2d(x, 2, 2)
        for i, (up, block) in enumerate(zip(self.up, self.decoder)):
            if self.upsampling == "transposed":
                x = up(x)
            else:
                mode = "nearest" if self.upsampling == "nearest" else "bilinear"
                kwargs = {} if mode == "nearest" else {"align_corners": False}
                x = up(F.interpolate(x, scale_factor=2, mode=mode, **kwargs))
            skip = skips[-1 - i]
            top = (skip.shape[2] - x.shape[2]) // 2
            left = (skip.shape[3] - x.shape[3]) // 2
            skip = skip[:, :, top:top + x.shape[2], left:left + x.shape[3]]
            x = block(torch.cat([skip, x], 1))
        return self.head(x)

    def forward(self, x):
        if not self.padding:
            return self._valid(x)
        a = 1 << (self.depth - 1)
        h, w = x.shape[2], x.shape[3]
        dh, dw = (-h) % a, (-w) % a
        if dh or dw:
            mode = "reflect" if dh < h and dw < w else "replicate"
            x = F.pad(x, (0, dw, 0, dh), mode=mode)
        return self._valid(x)[:, :, :h, :w]
