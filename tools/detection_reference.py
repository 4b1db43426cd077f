#!/usr/bin/python3
"""References for segkit's detection models, made with torchvision 0.14: the ResNet-50 FPN
backbone (torchvision's resnet_fpn_backbone, all five levels) with random weights and
randomized BatchNorm statistics (tools/zoo_reference.py), its state dict in both torch.save
formats, an input of odd size and the pyramid it gives.

Writes OUT_DIR/detection/resnet50_fpn/{weights.pth, weights_legacy.pth, tensors.pth}. Every
random choice comes from a fixed seed.
"""
import os
import sys

import torch
from torchvision.models.detection.backbone_utils import resnet_fpn_backbone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from zoo_reference import randomize  # noqa: E402


def make_backbone_fixture(out_dir):
    folder = os.path.join(out_dir, "detection", "resnet50_fpn")
    os.makedirs(folder, exist_ok=True)
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(2017)
    # BatchNorm2d rather than the default FrozenBatchNorm2d, so that randomize() finds it;
    # in eval mode the two compute the same.
    model = resnet_fpn_backbone(backbone_name="resnet50", weights=None, norm_layer=torch.nn.BatchNorm2d,
                                trainable_layers=5).eval()
    x = torch.randn(1, 3, 97, 131, generator=generator)  # odd sizes: every level rounds
    randomize(model, generator, x)
    for module in model.fpn.modules():  # FPN biases start at zero; make them count
        if isinstance(module, torch.nn.Conv2d):
            with torch.no_grad():
                module.bias.copy_(torch.randn(module.bias.shape, generator=generator) * 0.1)
    state = model.state_dict()
    torch.save(state, os.path.join(folder, "weights.pth"))
    torch.save(state, os.path.join(folder, "weights_legacy.pth"), _use_new_zipfile_serialization=False)
    with torch.no_grad():
        pyramid = model(x)
    tensors = {"input": x}
    tensors.update({"pyramid." + name: value for name, value in pyramid.items()})
    torch.save(tensors, os.path.join(folder, "tensors.pth"))


def make_detection_fixtures(out_dir):
    make_backbone_fixture(out_dir)


if __name__ == "__main__":
    make_detection_fixtures(sys.argv[1])
