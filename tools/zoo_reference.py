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
reference's parameter count. With --natural (inputs the test preprocessed from natural images,
as .npy files), also how far PyTorch's own bfloat16 goes from float32 (channels-last, autocast:
the best eager mode does on a CPU with bf16), on the fixed input and on those: argmax agreement
and largest error, which the test holds segkit's bf16 to.

Instance models (Faster and Mask R-CNN) run on natural images (--images, PNG crops of the
real datasets) instead: see make_instance_reference().

Usage: zoo_reference.py --model NAME --task semantic|classification --classes N
                        --input N,C,H,W [--features a,b,...] [--unet JSON] [--natural A.npy,...] --out DIR
       zoo_reference.py --model NAME --task instance --classes N --images A.png,B.png --out DIR
"""
import argparse
import copy
import json
import math
import os
import re
import sys
import warnings
import zlib

import numpy as np
import torch
import torchvision
from torchvision import ops
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


def build_instance(name, classes):
    from torchvision.models import detection
    if name == "maskrcnn_mobilenet_v3_large_fpn":  # torchvision's light Faster R-CNN with Mask R-CNN's mask branch
        light = detection.fasterrcnn_mobilenet_v3_large_fpn(weights=None, weights_backbone=None, num_classes=classes)
        return detection.MaskRCNN(light.backbone, num_classes=classes, rpn_anchor_generator=light.rpn.anchor_generator,
                                  rpn_score_thresh=0.05)
    if not hasattr(detection, name):
        raise SystemExit(f"zoo_reference: no reference for instance model {name}")
    return getattr(detection, name)(weights=None, weights_backbone=None, num_classes=classes)


def make_instance_reference(args, seed):
    """torchvision's model on natural images (--images), at a smaller image size than the
    published 800/1333 (--min-size, --max-size: the same code, a fifth of the time), with
    random weights chosen so that its detections are many, spread out and far from every
    decision that a rounding difference could flip. The backbone and the pyramid are
    randomized by randomize() on the images themselves; the RPN head is drawn with std 0.06
    for objectness and 0.02 for the rest, the box predictor with std CLS_STD (0.5) for the
    class weights and 0.07 for the box deltas (classes that differ, boxes that move). Those head
    weights are drawn again, from the same generator, until every margin (instance_margins)
    is at least MIN_MARGIN. The ResNet-50 models take BatchNorm epsilon 0, as torchvision's
    COCO files (overwrite_eps). Saves the weights in both formats (the legacy file in the v1
    key spellings of those COCO files), the transformed batch, the pyramid, the proposals, the
    detections and the margins."""
    from PIL import Image
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = build_instance(args.model, args.classes).eval()
    model.transform.min_size, model.transform.max_size = (args.min_size,), args.max_size
    # A box score threshold of 0.5 (segkit's --score-thresh), so that fewer candidates pass
    # and a cut among near-equal scores rarely decides which 100 are kept (detection_cut).
    model.roi_heads.score_thresh = SCORE_THRESH
    images = [torch.from_numpy(np.array(Image.open(p).convert("RGB"))).permute(2, 0, 1).float().div(255)
              for p in args.images.split(",")]
    batch, _ = model.transform(images)
    randomize(model.backbone, generator, batch.tensors)
    if "resnet50" in args.model:
        for module in model.backbone.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.eps = 0.0
    captured = capture_decisions(model)
    for attempt in range(1, 21):
        with torch.no_grad():
            for name, parameter in model.rpn.head.named_parameters():
                std = 0.06 if name.startswith("cls_logits") else 0.02
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * std)
            predictor = model.roi_heads.box_predictor
            predictor.cls_score.weight.copy_(torch.randn(predictor.cls_score.weight.shape, generator=generator) * CLS_STD)
            predictor.bbox_pred.weight.copy_(torch.randn(predictor.bbox_pred.weight.shape, generator=generator) * 0.07)
            detections = model(images)
        margins = instance_margins(model, captured)
        if min(margins.values()) >= MIN_MARGIN:
            break
        print(f"zoo_reference: attempt {attempt}: margins {margins}, drawing the heads again", file=sys.stderr)
    else:
        raise SystemExit(f"zoo_reference: no stable detections for {args.model} in 20 draws")
    os.makedirs(args.out, exist_ok=True)
    state = model.state_dict()
    torch.save(state, os.path.join(args.out, "weights.pth"))
    torch.save(v1_state(state), os.path.join(args.out, "weights_legacy.pth"), _use_new_zipfile_serialization=False)
    tensors = {"batch": batch.tensors, "image_sizes": torch.tensor(batch.image_sizes)}
    for i, image in enumerate(images):
        tensors[f"image.{i}"] = image
        tensors[f"proposals.{i}"] = captured["proposals"][i]
        for key, value in detections[i].items():
            tensors[f"{key}.{i}"] = value
    for name, level in captured["pyramid"].items():
        tensors["pyramid." + name] = level
    torch.save(tensors, os.path.join(args.out, "tensors.pth"))
    with open(os.path.join(args.out, "reference.json"), "w") as f:
        json.dump({"parameters": sum(p.numel() for p in model.parameters()), "torch": torch.__version__,
                   "torchvision": torchvision.__version__, "detections": [len(d["scores"]) for d in detections],
                   "attempts": attempt,  # margins that never arose as null (JSON has no infinity)
                   "margins": {k: (v if v != float("inf") else None) for k, v in margins.items()},
                   "bf16": instance_bf16_drift(args, model.state_dict(), images, detections)}, f)


def class_map(found, height, width):
    """segkit's instance_map as classes: each pixel takes the label of the best-scoring instance
    covering it (its mask at 0.5, or for Faster R-CNN its box rounded to pixels), else 0."""
    out = torch.zeros(height, width, dtype=torch.long)
    for k in reversed(range(len(found["labels"]))):
        label = int(found["labels"][k])
        if "masks" in found:
            out[found["masks"][k, 0] >= 0.5] = label
            continue
        x1, y1, x2, y2 = [min(max(0, math.floor(float(v) + 0.5)), hi)
                          for v, hi in zip(found["boxes"][k], (width, height, width, height))]
        out[y1:y2, x1:x2] = label
    return out


class Bf16Backbone(torch.nn.Module):
    """A detection backbone run channels-last under bf16 autocast, its pyramid handed on in
    float32: the heads stay float32, as in segkit's bf16 (torchvision's nms has no bf16 kernel)."""

    def __init__(self, backbone):
        super().__init__()
        self.body = backbone.to(memory_format=torch.channels_last)
        self.out_channels = backbone.out_channels

    def forward(self, x):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            levels = self.body(x.contiguous(memory_format=torch.channels_last))
        return type(levels)((name, level.float()) for name, level in levels.items())


def instance_bf16_drift(args, state, images, detections):
    """PyTorch's bf16 backbone (Bf16Backbone) against float32 on the same weights and images:
    the pyramid's largest error (a share of each level's largest magnitude, the worst level)
    and the share of pixels whose class_map agrees."""
    model = build_instance(args.model, args.classes).eval()
    model.load_state_dict(state)
    model.transform.min_size, model.transform.max_size = (args.min_size,), args.max_size
    model.roi_heads.score_thresh = SCORE_THRESH
    if "resnet50" in args.model:
        for module in model.backbone.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.eps = 0.0
    with torch.no_grad():
        batch, _ = model.transform(images)
        expected = model.backbone(batch.tensors)
        model.backbone = Bf16Backbone(model.backbone)
        actual = model.backbone(batch.tensors)
        error = max(float((expected[k] - actual[k]).abs().max() / expected[k].abs().max()) for k in expected)
        low = model(images)
    same = total = 0
    for image, expected, actual in zip(images, detections, low):
        a, b = class_map(expected, *image.shape[1:]), class_map(actual, *image.shape[1:])
        same += int((a == b).sum())
        total += a.numel()
    return {"pyramid_error": error, "agreement": same / total}


# The box score threshold of the instance references (the golden test passes the same to
# segkit), and the spread of the class weights: with 0.5, tens to a hundred detections per image
# score above it.
SCORE_THRESH = 0.5
CLS_STD = 0.5

# The smallest margin accepted. Along segkit's plain path the scores equal torchvision's
# bit for bit (the same LibTorch kernels); along its inference path (BatchNorm folded,
# oneDNN convolutions) they differ by up to 2.5e-5 (the golden test prints them).
MIN_MARGIN = 1e-5


def capture_decisions(model):
    """Hooks that keep what instance_margins() needs: the pyramid, the proposals, the RPN's
    objectness and its filter's inputs, the class scores and the RoI heads' postprocessing
    inputs."""
    captured = {}
    model.backbone.register_forward_hook(lambda m, i, o: captured.__setitem__("pyramid", o))
    model.rpn.register_forward_hook(lambda m, i, o: captured.__setitem__("proposals", o[0]))
    model.rpn.head.register_forward_hook(lambda m, i, o: captured.__setitem__("objectness", o[0]))
    for owner, method in ((model.rpn, "filter_proposals"), (model.roi_heads, "postprocess_detections")):
        original = getattr(owner, method)

        def wrapped(*inputs, original=original, method=method):
            captured[method] = (original, inputs)
            return original(*inputs)
        setattr(owner, method, wrapped)
    return captured


def instance_margins(model, captured):
    """How far each decision that could flip on a rounding difference is from flipping:
    - objectness_cut: per level and image, the gap between the last objectness logit the
      RPN keeps before NMS (its top-n) and the first it drops;
    - proposal_cut: the gap in objectness between the last proposal kept after NMS and the
      first dropped (when NMS leaves more than the post-NMS top-n);
    - score_thresh: the distance of any class score from the box score threshold;
    - nms_iou: the distance from the NMS threshold of the IoU of any two detections of one class
      (the kept ones: a suppressed box's IoU with its suppressor is not looked at);
    - detection_cut: the gap between the last detection kept and the first dropped, when more
      than detections_per_img pass;
    - nms_order: the gap between the scores of two kept detections of one class that overlap
      by more than the threshold (where the order would decide which suppresses which).
    Infinity where a decision does not arise."""
    inf = float("inf")
    margins = {"objectness_cut": inf, "proposal_cut": inf, "score_thresh": inf, "nms_iou": inf, "nms_order": inf,
               "detection_cut": inf}
    top_n = model.rpn.pre_nms_top_n()
    for level in captured["objectness"]:
        for image in level.flatten(1):
            if image.numel() > top_n:
                values = image.topk(top_n + 1).values
                margins["objectness_cut"] = min(margins["objectness_cut"], float(values[-2] - values[-1]))
    original, inputs = captured["filter_proposals"]
    post_n = model.rpn._post_nms_top_n["testing"]
    model.rpn._post_nms_top_n["testing"] = 10 ** 9
    _, all_scores = original(*inputs)
    model.rpn._post_nms_top_n["testing"] = post_n
    for scores in all_scores:
        if scores.numel() > post_n:
            margins["proposal_cut"] = min(margins["proposal_cut"], float(scores[post_n - 1] - scores[post_n]))
    original, inputs = captured["postprocess_detections"]
    class_scores = torch.softmax(inputs[0], -1)[:, 1:]
    margins["score_thresh"] = float((class_scores - model.roi_heads.score_thresh).abs().min())
    nms_thresh = model.roi_heads.nms_thresh
    kept = model.roi_heads.detections_per_img
    model.roi_heads.detections_per_img = 10 ** 9
    for boxes, scores, labels in zip(*original(*inputs)):
        if scores.numel() > kept:
            margins["detection_cut"] = min(margins["detection_cut"], float(scores[kept - 1] - scores[kept]))
        for label in labels.unique():
            b, sc = boxes[labels == label], scores[labels == label]
            iou = ops.box_iou(b, b)
            margins["nms_iou"] = min(margins["nms_iou"], float((iou - nms_thresh).abs().min()))
            overlapping = iou.gt(nms_thresh).triu(1)
            if overlapping.any():
                gaps = (sc[:, None] - sc[None, :]).abs()[overlapping]
                margins["nms_order"] = min(margins["nms_order"], float(gaps.min()))
    model.roi_heads.detections_per_img = kept
    return margins


# The key spellings of torchvision's first COCO files (before Conv2dNormActivation).
V1_KEYS = [(re.compile(r"^(backbone\.fpn\.(?:inner|layer)_blocks\.\d+)\.0\.(weight|bias)$"), r"\1.\2"),
           (re.compile(r"^(rpn\.head\.conv)\.0\.0\.(weight|bias)$"), r"\1.\2")] + [
    (re.compile(rf"^(roi_heads\.mask_head)\.{i}\.0\.(weight|bias)$"), rf"\1.mask_fcn{i + 1}.\2") for i in range(4)]


def v1_state(state):
    renamed = type(state)()
    for key, value in state.items():
        for pattern, replacement in V1_KEYS:
            key = pattern.sub(replacement, key)
        renamed[key] = value
    return renamed


def logits_of(result):
    return result["out"] if isinstance(result, dict) else result


def bf16_drift(model, inputs, fp32=None):
    """PyTorch's bf16 (channels-last, autocast) against the model's float32 on `inputs` (whose
    float32 logits `fp32` gives where they are known): argmax agreement over dim 1 (pixels or
    images) and the largest error as a share of the float32 logits' largest magnitude."""
    fast = copy.deepcopy(model).to(memory_format=torch.channels_last)
    agree = total = 0
    error = 0.0
    for i, x in enumerate(inputs):
        with torch.no_grad():
            expected = fp32[i] if fp32 is not None else logits_of(model(x))
            with torch.autocast("cpu", dtype=torch.bfloat16):
                actual = logits_of(fast(x.contiguous(memory_format=torch.channels_last))).float()
        same = expected.argmax(1) == actual.argmax(1)
        agree += int(same.sum())
        total += same.numel()
        error = max(error, float((expected - actual).abs().max() / expected.abs().max()))
    return {"agreement": agree / total, "error": error}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--task", required=True, choices=["semantic", "classification", "instance"])
    parser.add_argument("--images", default="")
    parser.add_argument("--min-size", type=int, default=800)
    parser.add_argument("--max-size", type=int, default=1333)
    parser.add_argument("--classes", type=int, required=True)
    parser.add_argument("--input", default="")
    parser.add_argument("--features", default="")
    parser.add_argument("--unet", default="{}")
    parser.add_argument("--natural", default="", help="preprocessed natural images (.npy), for the bf16 figures")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    torch.set_num_threads(1)
    seed = zlib.crc32(args.model.encode())
    torch.manual_seed(seed)
    if args.task == "instance":
        make_instance_reference(args, seed)
        return
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
    info = {"parameters": parameters, "torch": torch.__version__, "torchvision": torchvision.__version__}
    if args.natural:
        natural = [torch.from_numpy(np.load(path)) for path in args.natural.split(",")]
        info["bf16"] = {"parity": bf16_drift(model, [x], [logits_of(result)]), "natural": bf16_drift(model, natural)}
    with open(os.path.join(args.out, "reference.json"), "w") as f:
        json.dump(info, f)


if __name__ == "__main__":
    main()
