#!/usr/bin/python3
"""References for segkit's detection models, made with torchvision 0.14:
- the ResNet-50 FPN backbone (torchvision's resnet_fpn_backbone, all five levels) with random
  weights and randomized BatchNorm statistics (tools/zoo_reference.py), its state dict in both
  torch.save formats, two inputs of odd size and the pyramid they give
  (OUT_DIR/detection/resnet50_fpn/);
- the region proposal network on that pyramid: its weights in both key spellings, the
  proposals and their scores for each image (OUT_DIR/detection/rpn/);
- the box and mask heads on those proposals: detections and mask probabilities
  (OUT_DIR/detection/roi_heads/).

Every random choice comes from a fixed seed.
"""
import os
import sys

import torch
from torchvision import ops
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import resnet_fpn_backbone
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.models.detection.roi_heads import RoIHeads
from torchvision.models.detection.transform import GeneralizedRCNNTransform
from torchvision.models.detection.rpn import RegionProposalNetwork, RPNHead, concat_box_prediction_layers
from torchvision.ops import MultiScaleRoIAlign

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
    x = torch.randn(2, 3, 97, 131, generator=generator)  # odd sizes: every level rounds
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
    return pyramid


def make_rpn_fixture(out_dir, pyramid):
    """torchvision's RPN at its test settings on the backbone's pyramid for two images, the
    second smaller than the padded batch. Objectness weights larger than the default init
    (std 0.03, not 0.01) spread the scores, so that no top-n or NMS decision hangs on a
    rounding difference."""
    folder = os.path.join(out_dir, "detection", "rpn")
    os.makedirs(folder, exist_ok=True)
    generator = torch.Generator().manual_seed(2015)
    torch.manual_seed(0)
    anchors = AnchorGenerator(((32,), (64,), (128,), (256,), (512,)), ((0.5, 1.0, 2.0),) * 5)
    rpn = RegionProposalNetwork(anchors, RPNHead(256, 3), 0.7, 0.3, 256, 0.5, dict(training=2000, testing=1000),
                                dict(training=2000, testing=1000), 0.7).eval()
    with torch.no_grad():
        for name, parameter in rpn.head.named_parameters():
            std = 0.03 if name.startswith("cls_logits") else 0.02
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * std)
    image_sizes = [(97, 131), (80, 112)]
    images = ImageList(torch.zeros(2, 3, 97, 131), image_sizes)
    features = list(pyramid.values())
    with torch.no_grad():  # RegionProposalNetwork.forward, keeping the scores it drops
        objectness, deltas = rpn.head(features)
        anchors_per_image = rpn.anchor_generator(images, features)
        per_level = [o[0].numel() for o in objectness]
        objectness, deltas = concat_box_prediction_layers(objectness, deltas)
        proposals = rpn.box_coder.decode(deltas, anchors_per_image).view(2, -1, 4)
        boxes, scores = rpn.filter_proposals(proposals, objectness, image_sizes, per_level)
    state = rpn.state_dict()
    torch.save(state, os.path.join(folder, "weights.pth"))
    # torchvision's first key spelling (RPNHead version 1): "head.conv.weight"
    legacy = {k.replace("head.conv.0.0.", "head.conv."): v for k, v in state.items()}
    torch.save(legacy, os.path.join(folder, "weights_v1.pth"))
    tensors = {"pyramid." + name: value for name, value in pyramid.items()}
    tensors["image_sizes"] = torch.tensor(image_sizes)
    for i in range(2):
        tensors[f"boxes.{i}"] = boxes[i]
        tensors[f"scores.{i}"] = scores[i]
    torch.save(tensors, os.path.join(folder, "tensors.pth"))
    return boxes, image_sizes


def make_roi_heads_fixture(out_dir, pyramid, proposals, image_sizes):
    """torchvision's RoIHeads (box and mask branches, 5 classes, its test settings) on the
    backbone's pyramid and the RPN's proposals, with random weights: the detections and
    their 28x28 mask probabilities per image, and the margins that make them stable (how far
    the scores are from the threshold and the same-class IoUs from the NMS threshold)."""
    folder = os.path.join(out_dir, "detection", "roi_heads")
    os.makedirs(folder, exist_ok=True)
    torch.manual_seed(1703)
    heads = RoIHeads(MultiScaleRoIAlign(["0", "1", "2", "3"], 7, 2), TwoMLPHead(256 * 7 * 7, 1024),
                     FastRCNNPredictor(1024, 5), 0.5, 0.5, 512, 0.25, (10.0, 10.0, 5.0, 5.0), 0.05, 0.5, 100,
                     mask_roi_pool=MultiScaleRoIAlign(["0", "1", "2", "3"], 14, 2),
                     mask_head=MaskRCNNHeads(256, (256, 256, 256, 256), 1),
                     mask_predictor=MaskRCNNPredictor(256, 256, 5)).eval()
    with torch.no_grad():  # a spread of class scores and boxes that move
        heads.box_predictor.cls_score.weight.mul_(8)
        heads.box_predictor.bbox_pred.weight.mul_(4)
        detections, _ = heads(pyramid, proposals, image_sizes)
    state = heads.state_dict()
    torch.save(state, os.path.join(folder, "weights.pth"))
    legacy = {}
    for key, value in state.items():  # MaskRCNNHeads version 1: "mask_head.mask_fcn1.weight"
        for i in range(4):
            key = key.replace(f"mask_head.{i}.0.", f"mask_head.mask_fcn{i + 1}.")
        legacy[key] = value
    torch.save(legacy, os.path.join(folder, "weights_v1.pth"))
    tensors = {}
    for i, d in enumerate(detections):
        tensors.update({f"{name}.{i}": d[name] for name in ("boxes", "scores", "labels", "masks")})
        tensors[f"proposals.{i}"] = proposals[i]
    torch.save(tensors, os.path.join(folder, "tensors.pth"))


def make_transform_fixture(out_dir):
    """GeneralizedRCNNTransform: the resized size of many image sizes at 800/1333 (where
    torchvision's float32 scale and floor decide a pixel), and a batch of two images at
    160/240 with the detections of one mapped back (boxes scaled, masks pasted)."""
    folder = os.path.join(out_dir, "detection", "transform")
    os.makedirs(folder, exist_ok=True)
    generator = torch.Generator().manual_seed(1312)
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    default = GeneralizedRCNNTransform(800, 1333, mean, std).eval()
    sizes = []
    for h in list(range(1, 40, 3)) + list(range(40, 2000, 37)):
        for w in (h, h + 1, (3 * h) // 2, 5 * h, 131):
            sizes.append([h, w, *resized_size(h, w)])
    for h, w in [(97, 131), (1000, 7), (480, 640)]:  # the stand-in is what the transform does
        assert tuple(default([torch.zeros(3, h, w)])[0].image_sizes[0]) == resized_size(h, w)
    small = GeneralizedRCNNTransform(160, 240, mean, std).eval()
    images = [torch.rand(3, 97, 131, generator=generator), torch.rand(3, 120, 77, generator=generator)]
    batch, _ = small(images)
    boxes = torch.rand(6, 2, generator=generator) * torch.tensor([150.0, 110.0])
    boxes = torch.cat([boxes, boxes + torch.rand(6, 2, generator=generator) * 40 + 1], 1)
    boxes = ops.clip_boxes_to_image(boxes, batch.image_sizes[0])
    masks = torch.rand(6, 1, 28, 28, generator=generator)
    result = small.postprocess([{"boxes": boxes, "masks": masks}], [batch.image_sizes[0]], [(97, 131)])[0]
    torch.save({"sizes": torch.tensor(sizes), "image.0": images[0], "image.1": images[1], "batch": batch.tensors,
                "image_sizes": torch.tensor(batch.image_sizes), "detected_boxes": boxes, "detected_masks": masks,
                "boxes": result["boxes"], "masks": result["masks"]}, os.path.join(folder, "tensors.pth"))


def resized_size(h, w):
    """The size GeneralizedRCNNTransform (800/1333) resizes an h x w image to: its own scale
    computation (_resize_image_and_masks) and interpolate's, on a 1-channel stand-in for speed."""
    shape = torch.tensor([h, w])
    scale = torch.min(800.0 / torch.min(shape).to(torch.float32), 1333.0 / torch.max(shape).to(torch.float32)).item()
    resized = torch.nn.functional.interpolate(torch.zeros(1, 1, h, w), scale_factor=scale, mode="bilinear",
                                              recompute_scale_factor=True, align_corners=False)
    return tuple(resized.shape[2:])


def make_detection_fixtures(out_dir):
    make_transform_fixture(out_dir)
    pyramid = make_backbone_fixture(out_dir)
    proposals, image_sizes = make_rpn_fixture(out_dir, pyramid)
    make_roi_heads_fixture(out_dir, pyramid, proposals, image_sizes)


if __name__ == "__main__":
    make_detection_fixtures(sys.argv[1])
