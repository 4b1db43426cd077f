#!/usr/bin/python3
"""torchvision's detection ops on random inputs, the references of tests/unit/ops: NMS and
batched NMS (both of torchvision's strategies), box IoU, clipping, small-box removal, the box
coder, RoIAlign and RoIPool with their input gradients, MultiScaleRoIAlign's level mapping and
pooling, the anchor generator and mask pasting. Edge cases on purpose: zero-area boxes, boxes
partly or wholly outside the feature map, inverted boxes, tied scores, empty inputs.

Each op's cases go to OUT_DIR/ops/<op>.pth as one flat dict of tensors (parameters included),
so the C++ tests need no Python. Every random choice comes from a fixed seed.
"""
import math
import os

import torch
from torchvision import ops
from torchvision.models.detection import _utils as det_utils
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.roi_heads import paste_masks_in_image


def random_boxes(generator, count, width, height, dtype=torch.float32):
    """Boxes of every size inside (and a little outside) a width x height area."""
    corner = torch.rand(count, 2, generator=generator, dtype=torch.float64) * torch.tensor([width, height]) * 1.1 - 5
    size = torch.rand(count, 2, generator=generator, dtype=torch.float64) * torch.tensor([width, height]) / 2
    return torch.cat([corner, corner + size], 1).to(dtype)


def nms_cases(generator):
    cases = {}
    boxes = random_boxes(generator, 300, 100, 80)
    scores = torch.rand(300, generator=generator)
    for k, threshold in enumerate([0.3, 0.5, 0.7]):
        cases[k] = (boxes, scores, threshold)
    tied = scores.mul(10).round().div(10)  # many equal scores
    cases[3] = (boxes, tied, 0.5)
    flat = boxes.clone()
    flat[::4, 2] = flat[::4, 0]  # zero-area boxes: IoU 0 with everything (0/area), or NaN among themselves
    cases[4] = (flat, scores, 0.5)
    cases[5] = (boxes.double(), scores.double(), 0.4)
    duplicated = torch.cat([boxes[:50], boxes[:50]])
    cases[6] = (duplicated, torch.rand(100, generator=generator), 0.99)
    cases[7] = (torch.zeros(0, 4), torch.zeros(0), 0.5)
    result = {}
    for k, (b, s, t) in cases.items():
        result.update({f"case{k}.boxes": b, f"case{k}.scores": s, f"case{k}.threshold": torch.tensor(t, dtype=torch.float64),
                       f"case{k}.keep": ops.nms(b, s, t)})
    return result


def batched_nms_cases(generator):
    result = {}
    # 200 boxes: torchvision shifts categories apart; 1,500 (6,000 coordinates): one NMS per category.
    for k, (count, categories, threshold) in enumerate([(200, 4, 0.5), (1500, 7, 0.5), (1500, 7, 0.3)]):
        boxes = random_boxes(generator, count, 200, 150)
        scores = torch.rand(count, generator=generator)
        idxs = torch.randint(0, categories, (count,), generator=generator)
        result.update({f"case{k}.boxes": boxes, f"case{k}.scores": scores, f"case{k}.idxs": idxs,
                       f"case{k}.threshold": torch.tensor(threshold, dtype=torch.float64),
                       f"case{k}.keep": ops.batched_nms(boxes, scores, idxs, threshold)})
    return result


def box_cases(generator):
    boxes1 = random_boxes(generator, 37, 60, 50)
    boxes1[::5, 3] = boxes1[::5, 1]  # zero height
    boxes2 = random_boxes(generator, 23, 60, 50)
    return {"boxes1": boxes1, "boxes2": boxes2, "iou": ops.box_iou(boxes1, boxes2), "area": ops.box_area(boxes1),
            "clipped": ops.clip_boxes_to_image(boxes1, (41, 53)), "small_kept": ops.remove_small_boxes(boxes1, 6.0)}


def box_coder_cases(generator):
    references = random_boxes(generator, 40, 300, 200) + torch.tensor([10.0, 10.0, 12.0, 12.0])
    boxes = random_boxes(generator, 40, 300, 200) + torch.tensor([10.0, 10.0, 12.0, 12.0])
    codes = torch.randn(40, 12, generator=generator) * 2
    codes[::3, 2] = 9.0  # beyond the log(1000/16) clamp
    codes[1::3, 7] = -9.0
    result = {"references": references, "boxes": boxes, "codes": codes}
    for name, weights in [("unit", (1.0, 1.0, 1.0, 1.0)), ("box_head", (10.0, 10.0, 5.0, 5.0))]:
        coder = det_utils.BoxCoder(weights)
        result[f"{name}.encoded"] = coder.encode_single(boxes, references)
        result[f"{name}.decoded"] = coder.decode_single(codes, references)
    return result


def pooling_rois(generator, count, width, height, images):
    boxes = random_boxes(generator, count, width, height)
    boxes[0] = torch.tensor([3.0, 4.0, 3.0, 4.0])  # a point
    boxes[1] = torch.tensor([-30.0, -20.0, -10.0, -5.0])  # wholly outside
    boxes[2] = torch.tensor([10.0, 8.0, 4.0, 2.0])  # inverted
    boxes[3] = torch.tensor([0.0, 0.0, width * 1.5, height * 1.5])  # larger than the map
    image = torch.randint(0, images, (count, 1), generator=generator).float()
    return torch.cat([image, boxes], 1)


def roi_align_cases(generator):
    features = torch.randn(2, 3, 17, 23, generator=generator)
    rois = pooling_rois(generator, 24, 23 / 0.5, 17 / 0.5, 2)  # in input pixels at scale 0.5
    result = {"features": features, "rois": rois}
    settings = [(0.5, 7, 7, -1, False), (0.5, 7, 7, 2, False), (0.5, 5, 3, 0, True), (0.5, 7, 7, 2, True),
                (1.0, 4, 6, 3, False), (0.25, 14, 14, 2, False), (0.5, 1, 1, -1, True)]
    for k, (scale, height, width, sampling, aligned) in enumerate(settings):
        x = features.clone().requires_grad_()
        out = ops.roi_align(x, rois, (height, width), scale, sampling, aligned)
        grad_out = torch.randn(out.shape, generator=generator)
        out.backward(grad_out)
        result.update({f"case{k}.settings": torch.tensor([scale, height, width, sampling, float(aligned)],
                                                         dtype=torch.float64),
                       f"case{k}.out": out.detach(), f"case{k}.grad_out": grad_out, f"case{k}.grad": x.grad})
    x = features.double().requires_grad_()
    out = ops.roi_align(x, rois.double(), (7, 7), 0.5, -1, True)
    out.backward(torch.ones_like(out))
    result.update({"double.out": out.detach(), "double.grad": x.grad})
    return result


def roi_pool_cases(generator):
    features = torch.randn(2, 3, 17, 23, generator=generator)
    rois = pooling_rois(generator, 24, 23 / 0.5, 17 / 0.5, 2)
    result = {"features": features, "rois": rois}
    for k, (scale, height, width) in enumerate([(0.5, 7, 7), (1.0, 3, 5), (0.25, 2, 2)]):
        x = features.clone().requires_grad_()
        out = ops.roi_pool(x, rois, (height, width), scale)
        grad_out = torch.randn(out.shape, generator=generator)
        out.backward(grad_out)
        result.update({f"case{k}.settings": torch.tensor([scale, height, width], dtype=torch.float64),
                       f"case{k}.out": out.detach(), f"case{k}.grad_out": grad_out, f"case{k}.grad": x.grad})
    return result


def pooler_cases(generator):
    image_sizes = [(797, 1066), (750, 1088)]  # padded to 800 x 1088
    features = {str(k): torch.randn(2, 4, 800 // 2 ** (k + 2), 1088 // 2 ** (k + 2), generator=generator)
                for k in range(4)}
    boxes = [random_boxes(generator, 30, 1066, 797), random_boxes(generator, 25, 1088, 750)]
    boxes[0][:3] = torch.tensor([[0.0, 0.0, 4.0, 4.0], [10.0, 10.0, 122.0, 122.0], [0.0, 0.0, 1000.0, 700.0]])
    result = {f"features.{k}": v for k, v in features.items()}
    result.update({"boxes.0": boxes[0], "boxes.1": boxes[1], "image_sizes": torch.tensor(image_sizes)})
    for name, size in [("box", 7), ("mask", 14)]:
        pooler = ops.MultiScaleRoIAlign(["0", "1", "2", "3"], output_size=size, sampling_ratio=2)
        result[f"{name}.out"] = pooler(features, boxes, image_sizes)
    mapper = pooler.map_levels  # set up by the call above: k_min 2, k_max 5
    result["levels"] = mapper(boxes)
    single = ops.MultiScaleRoIAlign(["0"], output_size=7, sampling_ratio=2)
    result["single.out"] = single({"0": features["0"]}, boxes, image_sizes)
    return result


def anchor_cases():
    result = {}
    configs = [("resnet_fpn", ((32,), (64,), (128,), (256,), (512,)), ((0.5, 1.0, 2.0),) * 5, (800, 1216),
                [(200, 304), (100, 152), (50, 76), (25, 38), (13, 19)]),
               ("mobilenet", ((32, 64, 128, 256, 512),) * 3, ((0.5, 1.0, 2.0),) * 3, (97, 131),
                [(4, 5), (4, 5), (2, 3)])]
    for name, sizes, ratios, input_size, feature_sizes in configs:
        generator = AnchorGenerator(sizes, ratios)
        images = ImageList(torch.zeros(1, 3, *input_size), [input_size])
        maps = [torch.zeros(1, 1, h, w) for h, w in feature_sizes]
        result[f"{name}.anchors"] = generator(images, maps)[0]
        result[f"{name}.feature_sizes"] = torch.tensor(feature_sizes)
        result[f"{name}.input_size"] = torch.tensor(input_size)
    return result


def paste_cases(generator):
    masks = torch.rand(12, 1, 28, 28, generator=generator)
    boxes = random_boxes(generator, 12, 123, 97)
    boxes[0] = torch.tensor([5.3, 7.9, 5.6, 8.2])  # under a pixel
    boxes[1] = torch.tensor([-3.7, -2.2, 40.5, 30.1])  # over the top-left corner
    boxes[2] = torch.tensor([100.2, 80.7, 122.9, 96.9])  # to the bottom-right corner
    boxes = ops.clip_boxes_to_image(boxes, (97, 123))  # as Mask R-CNN pastes them
    return {"masks": masks, "boxes": boxes, "pasted": paste_masks_in_image(masks, boxes, (97, 123), padding=1),
            "pasted_unpadded": paste_masks_in_image(masks, boxes, (97, 123), padding=0)}


def make_ops_fixtures(out_dir):
    folder = os.path.join(out_dir, "ops")
    os.makedirs(folder, exist_ok=True)
    generator = torch.Generator().manual_seed(1412)
    makers = {"nms": nms_cases, "batched_nms": batched_nms_cases, "boxes": box_cases, "box_coder": box_coder_cases,
              "roi_align": roi_align_cases, "roi_pool": roi_pool_cases, "poolers": pooler_cases,
              "paste_masks": paste_cases}
    for name, maker in makers.items():
        torch.save(maker(generator), os.path.join(folder, name + ".pth"))
    torch.save(anchor_cases(), os.path.join(folder, "anchors.pth"))


if __name__ == "__main__":
    import sys

    make_ops_fixtures(sys.argv[1])
