#!/usr/bin/python3
"""One zoo entry's reference for segkit's golden test (tests/parity/test_zoo_golden.cpp),
made with Debian's torch and torchvision (run with /usr/bin/python3).

Builds the reference model (torchvision's, or for entries torchvision lacks, the module
written from the paper in tools/), gives it random weights and BatchNorm statistics far
from (0, 1) from a generator seeded by the entry's name (crc32: the same every run; see randomize()),
saves the state dict in torch.save's zip format and its legacy format (DenseNet's legacy
file with the old key spelling its published files use), and writes the eval-mode
outputs for a fixed odd-sized input: logits ("out", and "aux" for segmentation models
with an aux head), the output of each named backbone stage (forward hooks), and the
reference's parameter count.

Usage: zoo_reference.py --model NAME --task semantic|classification --classes N
                        --input N,C,H,W [--features a,b,...] [--unet JSON] --out DIR
"""
import argparse
import json
import os
import re
import sys
import warnings
import zlib

import numpy as np
import torch
import torchvision
from torchvision.models import segmentation

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
warnings.filterwarnings("ignore")


def randomize(model, generator, sample):
    """Random weights everywhere and random BatchNorm parameters that keep a deep network
    well-conditioned, so that fp32 rounding differences (folded BatchNorm, channels-last
    kernels) stay at the 1e-6 level instead of being amplified to the logits. In one
    eval-mode pass over `sample`, each BatchNorm, just before it runs, takes as statistics
    its actual input's mean shifted by N(0, 0.3) standard deviations and its variance
    (at least 0.3 of the channels' average) scaled by 0.5-2, a scale (weight) in
    [0.05, 0.15] and a shift (bias) from N(0, 0.2).

    Why not statistics drawn from nothing: they compound over a deep network
    (EfficientNet-B7's activations reach 1e9 and saturate). Why the variance floor: a
    channel of near-zero spread (a depthwise filter whose taps cancel) is scaled up and its
    rounding error with it. Why small scales: a random network whose residual branches are
    as loud as the identity is chaotic (each block amplifies differences); trained
    networks are quieter (torchvision zero-initializes their last BatchNorm scales)."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.Conv2d, torch.nn.ConvTranspose2d, torch.nn.Linear)):
                w = module.weight
                fan_in = w[0].numel() if not isinstance(module, torch.nn.ConvTranspose2d) else w.shape[0]
                w.copy_(torch.randn(w.shape, generator=generator) * (2.0 / fan_in) ** 0.5)
                if module.bias is not None:
                    module.bias.copy_(torch.randn(module.bias.shape, generator=generator) * 0.1)

        def calibrate(bn, inputs):
            x, c = inputs[0], bn.num_features
            mean, var = x.mean((0, 2, 3)), x.var((0, 2, 3))
            var = var.clamp(min=0.3 * float(var.mean()) + 1e-8)  # no channel scaled up by a near-zero spread
            bn.running_mean.copy_(mean + torch.randn(c, generator=generator) * 0.3 * var.sqrt())
            bn.running_var.copy_(var * torch.exp(torch.rand(c, generator=generator) * 1.4 - 0.7))
            bn.weight.copy_(torch.rand(c, generator=generator) * 0.1 + 0.05)
            bn.bias.copy_(torch.randn(c, generator=generator) * 0.2)
            bn.num_batches_tracked.fill_(int(torch.randint(1, 1000, (1,), generator=generator)))

        model.eval()
        hooks = [m.register_forward_pre_hook(calibrate) for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        model(sample)
        for hook in hooks:
            hook.remove()


def build(name, task, classes, unet_options):
    if name == "se_resnet50":
        from se_resnet_reference import se_resnet50
        return se_resnet50(num_classes=classes)
    if name in ("unet", "unet_padded"):
        from unet_reference import UNet
        return UNet(num_classes=classes, **unet_options)
    if task == "semantic":
        if not hasattr(segmentation, name):
            raise SystemExit(f"zoo_reference: no reference for semantic model {name}")
        kwargs = dict(weights=None, weights_backbone=None, num_classes=classes)
        if not name.startswith("lraspp"):
            kwargs["aux_loss"] = True
        return getattr(segmentation, name)(**kwargs)
    if not hasattr(torchvision.models, name):
        raise SystemExit(f"zoo_reference: no reference for classification model {name}")
    kwargs = dict(weights=None, num_classes=classes)
    if name == "googlenet":  # as torchvision builds it for its ImageNet weights
        kwargs.update(aux_logits=True, transform_input=True, init_weights=False)
    return getattr(torchvision.models, name)(**kwargs)


# torchvision's DenseNet files spell "denselayer1.norm1" as "denselayer1.norm.1".
OLD_DENSENET_KEY = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))((?:[12])\.(?:weight|bias|running_mean|running_var))$")


def legacy_state(name, state):
    if not name.startswith("densenet"):
        return state
    return type(state)((OLD_DENSENET_KEY.sub(r"\1.\2", k), v) for k, v in state.items())


def stage_module(name, task, stage):
    """The module whose output a segkit backbone stage is."""
    if task == "semantic":
        return "backbone." + stage
    if name.startswith(("resnet", "resnext", "wide_resnet", "se_resnet", "googlenet")):
        return stage
    return "features." + stage


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--task", required=True, choices=["semantic", "classification"])
    parser.add_argument("--classes", type=int, required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--features", default="")
    parser.add_argument("--unet", default="{}")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    torch.set_num_threads(1)
    seed = zlib.crc32(args.model.encode())
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = build(args.model, args.task, args.classes, json.loads(args.unet))
    x = torch.randn([int(v) for v in args.input.split(",")], generator=generator)
    randomize(model, generator, x)
    os.makedirs(args.out, exist_ok=True)
    state = model.state_dict()
    torch.save(state, os.path.join(args.out, "weights.pth"))
    torch.save(legacy_state(args.model, state), os.path.join(args.out, "weights_legacy.pth"),
               _use_new_zipfile_serialization=False)

    captured = {}
    stages = [s for s in args.features.split(",") if s]
    for stage in stages:
        module = model.get_submodule(stage_module(args.model, args.task, stage))
        module.register_forward_hook(lambda m, i, o, stage=stage: captured.__setitem__(stage, o.detach().clone()))
    with torch.no_grad():
        result = model(x)
    np.save(os.path.join(args.out, "input.npy"), x.numpy())
    if isinstance(result, dict):
        np.save(os.path.join(args.out, "out.npy"), result["out"].numpy())
        if "aux" in result:
            np.save(os.path.join(args.out, "aux.npy"), result["aux"].numpy())
    else:
        np.save(os.path.join(args.out, "out.npy"), result.numpy())
    for stage in stages:
        np.save(os.path.join(args.out, f"feature_{stage}.npy"), captured[stage].contiguous().numpy())
    parameters = sum(p.numel() for n, p in model.named_parameters() if not n.startswith(("aux", "aux_classifier")))
    with open(os.path.join(args.out, "reference.json"), "w") as f:
        json.dump({"parameters": parameters, "torch": torch.__version__, "torchvision": torchvision.__version__}, f)


if __name__ == "__main__":
    main()
