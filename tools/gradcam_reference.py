#!/usr/bin/python3
"""Grad-CAM (Selvaraju et al. 2017) and CAM (Zhou et al. 2016) computed in PyTorch with
autograd hooks on torchvision models, for segkit's explain test.

Grad-CAM of layer A for score y: weights a_k = mean over positions of dy/dA_k, map =
ReLU(sum_k a_k A_k). For a classifier y is the class's logit; for a semantic model the
class's logits summed over the region's pixels predicted as that class (Vinogradova et
al. 2020). CAM: the last feature map weighted by the class's row of the final linear
layer, sum_k w_k^c f_k (no ReLU).

Usage: gradcam_reference.py OUT_DIR (also called by make_parity_fixtures.py).
"""
import json
import os
import sys
import zlib

import numpy as np
import torch
import torchvision
from torchvision.models import segmentation

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from zoo_reference import randomize  # noqa: E402


def grad_cam(model, module, x, score_of):
    captured = {}

    def hook(m, inputs, output):
        output.retain_grad()
        captured["a"] = output

    handle = module.register_forward_hook(hook)
    out = model(x)
    handle.remove()
    score, target = score_of(out)
    score.backward()
    a = captured["a"]
    weights = a.grad.mean((2, 3), keepdim=True)
    return torch.relu((weights * a).sum(1))[0].detach(), target


def make(out_dir):
    folder = os.path.join(out_dir, "gradcam")
    os.makedirs(folder, exist_ok=True)
    cases = {}

    # A classifier: ResNet-18, Grad-CAM on two layers and CAM.
    generator = torch.Generator().manual_seed(zlib.crc32(b"gradcam_resnet18"))
    model = torchvision.models.resnet18(num_classes=10)
    x = torch.randn(1, 3, 131, 119, generator=generator)
    randomize(model, generator, x)
    torch.save(model.state_dict(), os.path.join(folder, "resnet18.pth"))
    np.save(os.path.join(folder, "resnet18_input.npy"), x.numpy())
    # layer4 for the top class; layer3 for the best-ranked other class whose map is not all
    # zero (Grad-CAM's ReLU can leave nothing of a random network's evidence).
    with torch.no_grad():
        ranked = model(x)[0].argsort(descending=True).tolist()
    for layer, candidates in (("layer4", ranked[:1]), ("layer3", ranked[1:])):
        for target in candidates:
            cam, t = grad_cam(model, model.get_submodule(layer), x, lambda logits: (logits[0, target], target))
            model.zero_grad()
            if (cam > 0).float().mean() > 0.2:
                break
        np.save(os.path.join(folder, f"resnet18_{layer}.npy"), cam.numpy())
        cases[f"resnet18_{layer}"] = t
    with torch.no_grad():
        features = {}
        handle = model.layer4.register_forward_hook(lambda m, i, o: features.__setitem__("f", o))
        logits = model(x)
        handle.remove()
        t = int(logits[0].argmax())
        cam = (model.fc.weight[t].view(-1, 1, 1) * features["f"][0]).sum(0)
    np.save(os.path.join(folder, "resnet18_cam.npy"), cam.numpy())
    cases["resnet18_cam"] = t

    # A semantic model: LR-ASPP, Grad-CAM of a region of a class's mask.
    generator = torch.Generator().manual_seed(zlib.crc32(b"gradcam_lraspp"))
    model = segmentation.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=5)
    x = torch.randn(1, 3, 61, 75, generator=generator)
    randomize(model, generator, x)
    torch.save(model.state_dict(), os.path.join(folder, "lraspp.pth"))
    np.save(os.path.join(folder, "lraspp_input.npy"), x.numpy())
    region = (10, 5, 50, 40)  # x0, y0, x1, y1

    def region_score(out):
        logits = out["out"][0]
        predicted = logits.argmax(0)
        inside = torch.zeros_like(predicted, dtype=torch.bool)
        inside[region[1]:region[3], region[0]:region[2]] = True
        t = int(torch.bincount(predicted[inside], minlength=logits.shape[0]).argmax())
        return logits[t][inside & (predicted == t)].sum(), t

    cam, t = grad_cam(model, model.backbone.get_submodule("13"), x, region_score)
    np.save(os.path.join(folder, "lraspp_13.npy"), cam.numpy())
    cases["lraspp_13"] = t
    cases["lraspp_region"] = region
    with open(os.path.join(folder, "cases.json"), "w") as f:
        json.dump(cases, f)


if __name__ == "__main__":
    make(sys.argv[1])
