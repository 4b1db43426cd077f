"""SE-ResNet-50 (Hu, Shen and Sun, "Squeeze-and-Excitation Networks", CVPR 2018) in
PyTorch, written from the paper, for segkit's parity test. torchvision has no SE-ResNet.

The paper's SE-ResNet module (its Fig. 3): the residual branch's output U (after the
block's last BatchNorm) is squeezed by global average pooling, excited by two fully
connected layers (C -> C/r, ReLU, C/r -> C, sigmoid, r = 16), and rescales U channel by
channel before the identity is added. The FC layers are 1x1 convolutions with biases,
named se.fc1 and se.fc2 as torchvision's SqueezeExcitation names them; everything else is
ResNet-50 with torchvision's module names (conv1, bn1, layer1..layer4, fc).
"""
import torch
from torch import nn
from torchvision.models.resnet import Bottleneck, ResNet


class SqueezeExcitation(nn.Module):
    def __init__(self, channels, reduction=16):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, channels // reduction, 1)
        self.fc2 = nn.Conv2d(channels // reduction, channels, 1)

    def forward(self, u):
        z = u.mean((2, 3), keepdim=True)  # squeeze: global information embedding
        s = torch.sigmoid(self.fc2(torch.relu(self.fc1(z))))  # excitation
        return u * s  # scale


class SEBottleneck(Bottleneck):
    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64, dilation=1,
                 norm_layer=None):
        super().__init__(inplanes, planes, stride, downsample, groups, base_width, dilation, norm_layer)
        self.se = SqueezeExcitation(planes * self.expansion)

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out = self.se(out)
        return self.relu(out + identity)


def se_resnet50(num_classes=1000):
    return ResNet(SEBottleneck, [3, 4, 6, 3], num_classes=num_classes)
