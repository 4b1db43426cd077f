#!/usr/bin/python3
"""Reference outputs shared by segkit's tests, made with Debian's torch, torchvision,
scikit-learn and scikit-image (run with /usr/bin/python3, not a pyenv python). The zoo's
golden test makes each model's reference itself (tools/zoo_reference.py).

- Grad-CAM and CAM with autograd hooks (tools/gradcam_reference.py), and the class
  probabilities of that ResNet-18 for a PNG (the classify command's test);
- lraspp_mobilenet_v3_large with random weights and randomized BatchNorm statistics in
  both torch.save formats, and torchvision's logits for a PNG (the command-line tests);
- U-Net variants against tools/unet_reference.py, and one training step of a U-Net
  (weighted cross-entropy with ignored pixels: loss, gradients, BatchNorm statistics) in
  float32 and under bfloat16 autocast;
- a state dict of every dtype in zip, legacy and safetensors form;
- pictures in every format segkit reads;
- torchvision's detection ops on random inputs (tools/ops_reference.py), and its ResNet-50
  FPN backbone with random weights in both formats (tools/detection_reference.py);
- a light Mask R-CNN with random weights and its detections on natural images (the instance
  predict tests);
- metrics: scikit-learn's confusion matrix, IoU, Dice, accuracy, top-k accuracy and
  per-class recall; scikit-image's adapted Rand error and the ISBI challenge's.

Every random choice comes from a fixed seed. Usage: make_parity_fixtures.py OUT_DIR
"""
import argparse
import json
import os
import struct
import sys
import zlib

import numpy as np
import torch
import torchvision
from torchvision.models import segmentation

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from detection_reference import make_detection_fixtures  # noqa: E402
from ops_reference import make_ops_fixtures  # noqa: E402
from zoo_reference import make_instance_reference, randomize  # noqa: E402

CLI_MODEL = "lraspp_mobilenet_v3_large"
NUM_CLASSES = 7
INPUT_SHAPE = (2, 3, 97, 123)  # odd sizes on purpose


def build(name):
    kwargs = dict(weights=None, weights_backbone=None, num_classes=NUM_CLASSES)
    if not name.startswith("lraspp"):
        kwargs["aux_loss"] = True
    return getattr(segmentation, name)(**kwargs)


def save_npy(path, tensor):
    np.save(path, tensor.detach().contiguous().numpy())


def make_model_fixture(name, out_dir):
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(zlib.crc32(name.encode()))
    model = build(name)
    x = torch.randn(INPUT_SHAPE, generator=generator)
    randomize(model, generator, x)
    folder = os.path.join(out_dir, name)
    os.makedirs(folder, exist_ok=True)
    state = model.state_dict()
    torch.save(state, os.path.join(folder, "weights.pth"))
    torch.save(state, os.path.join(folder, "weights_legacy.pth"), _use_new_zipfile_serialization=False)
    with torch.no_grad():
        result = model(x)
    save_npy(os.path.join(folder, "input.npy"), x)
    save_npy(os.path.join(folder, "out.npy"), result["out"])
    if "aux" in result:
        save_npy(os.path.join(folder, "aux.npy"), result["aux"])


# U-Net cases: (folder, zoo name, options, input shape). Odd sizes where the variant allows them.
UNET_CASES = [
    ("unet", "unet", dict(in_channels=1, depth=3, base_width=8, padding=False, batch_norm=False,
                          upsampling="transposed"), (2, 1, 92, 108)),
    ("unet_padded_bn_bilinear", "unet_padded", dict(in_channels=3, depth=4, base_width=6, padding=True,
                                                    batch_norm=True, upsampling="bilinear"), (2, 3, 45, 59)),
    ("unet_padded_nearest", "unet_padded", dict(in_channels=1, depth=3, base_width=5, padding=True,
                                                batch_norm=False, upsampling="nearest"), (1, 1, 37, 30)),
]


def make_unet_fixture(folder_name, options, shape, out_dir):
    from unet_reference import UNet

    generator = torch.Generator().manual_seed(zlib.crc32(folder_name.encode()))
    model = UNet(num_classes=NUM_CLASSES, **options)
    x = torch.randn(shape, generator=generator)
    randomize(model, generator, x)
    folder = os.path.join(out_dir, folder_name)
    os.makedirs(folder, exist_ok=True)
    torch.save(model.state_dict(), os.path.join(folder, "weights.pth"))
    torch.save(model.state_dict(), os.path.join(folder, "weights_legacy.pth"), _use_new_zipfile_serialization=False)
    with torch.no_grad():
        out = model(x)
    save_npy(os.path.join(folder, "input.npy"), x)
    save_npy(os.path.join(folder, "out.npy"), out)


def make_unet_train_step_fixture(out_dir):
    """One training step's forward and backward of a padded U-Net with BatchNorm and transposed
    up-convolutions (odd size, ignored pixels, a pixel weight map), in float32 and under bf16
    autocast (torch.autocast, PyTorch's mixed precision), from the same weights."""
    from unet_reference import UNet

    generator = torch.Generator().manual_seed(zlib.crc32(b"unet_train_step"))
    options = dict(in_channels=1, depth=3, base_width=6, padding=True, batch_norm=True, upsampling="transposed")
    x = torch.randn(2, 1, 45, 59, generator=generator)
    model = UNet(num_classes=3, **options)
    randomize(model, generator, x)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    target = torch.randint(0, 3, (2, 45, 59), generator=generator)
    target[torch.rand(target.shape, generator=generator) < 0.1] = 255
    weight = torch.rand(target.shape, generator=generator) * 2 + 0.5
    reference = {"input": x, "target": target, "pixel_weight": weight}
    for name, autocast in (("fp32", False), ("bf16", True)):
        model.load_state_dict(state)
        model.train()
        model.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            logits = model(x)
            per_pixel = torch.nn.functional.cross_entropy(logits.float(), target, reduction="none", ignore_index=255)
            loss = (per_pixel * weight).sum() / (target != 255).sum()
        loss.backward()
        reference[f"{name}.loss"] = loss.detach()
        for key, p in model.named_parameters():
            reference[f"{name}.grad.{key}"] = p.grad.clone()
        for key, b in model.named_buffers():
            if "running" in key:
                reference[f"{name}.after.{key}"] = b.clone()
    folder = os.path.join(out_dir, "unet_train_step")
    os.makedirs(folder, exist_ok=True)
    torch.save(state, os.path.join(folder, "weights.pth"))
    torch.save(reference, os.path.join(folder, "reference.pth"))


def dtype_state():
    """Tensors of every dtype a state dict may hold; test_checkpoint rebuilds the same values."""
    base = torch.arange(24, dtype=torch.float64).reshape(2, 3, 4) / 7 - 1
    shared = torch.arange(10, dtype=torch.float32)
    return {
        "f32": base.float(),
        "f64": base,
        "f16": base.half(),
        "bf16": base.bfloat16(),
        "i64": torch.arange(6, dtype=torch.int64) * 1_000_000_007_000 - 3,
        "i32": torch.arange(6, dtype=torch.int32) - 3,
        "i16": torch.arange(6, dtype=torch.int16) - 3,
        "i8": torch.arange(6, dtype=torch.int8) - 3,
        "u8": torch.arange(250, 256, dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(2.5),
        "transposed": base.float()[0].t(),  # non-contiguous strides
        "view_a": shared[2:5],  # two views of one storage, with an offset
        "view_b": shared[4:9],
        "empty": torch.zeros(0, 3),
    }


def write_safetensors(path, tensors):
    names = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16",
             torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
             torch.bool: "BOOL"}
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for key, t in tensors.items():
        data = t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[key] = {"dtype": names[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def make_dtype_fixture(out_dir):
    folder = os.path.join(out_dir, "dtypes")
    os.makedirs(folder, exist_ok=True)
    state = dtype_state()
    from collections import OrderedDict

    ordered = OrderedDict(state)
    ordered._metadata = OrderedDict({"": {"version": 1}})  # as Module.state_dict() adds
    torch.save(ordered, os.path.join(folder, "zip.pth"))
    torch.save(ordered, os.path.join(folder, "legacy.pth"), _use_new_zipfile_serialization=False)
    torch.save({"epoch": 3, "state_dict": ordered, "note": "wrapped"}, os.path.join(folder, "wrapped.pth"))
    # Newer pickle protocols (FRAME, MEMOIZE, STACK_GLOBAL, SHORT_BINUNICODE), as pickle_protocol= writes them.
    for protocol in (4, 5):
        torch.save(ordered, os.path.join(folder, f"protocol{protocol}.pth"), pickle_protocol=protocol)
        torch.save(ordered, os.path.join(folder, f"protocol{protocol}_legacy.pth"), pickle_protocol=protocol,
                   _use_new_zipfile_serialization=False)
    write_safetensors(os.path.join(folder, "tensors.safetensors"), state)


def make_cli_fixture(out_dir):
    """An odd-sized RGB PNG and torchvision's logits for it with --resize none."""
    import PIL.Image

    folder = os.path.join(out_dir, "cli")
    os.makedirs(folder, exist_ok=True)
    generator = torch.Generator().manual_seed(7)
    rgb = (torch.rand(61, 87, 3, generator=generator) * 255).to(torch.uint8)
    PIL.Image.fromarray(rgb.numpy()).save(os.path.join(folder, "image.png"))
    src = os.path.join(out_dir, "lraspp_mobilenet_v3_large", "weights.pth")
    model = build("lraspp_mobilenet_v3_large")
    model.load_state_dict(torch.load(src))
    model.eval()
    x = rgb.permute(2, 0, 1).float().div(255)
    x = torchvision.transforms.functional.normalize(x, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    with torch.no_grad():
        logits = model(x.unsqueeze(0))["out"][0]
    save_npy(os.path.join(folder, "logits.npy"), logits)


def make_classify_fixture(out_dir):
    """torchvision's class probabilities for the command-line PNG (no resize, no crop),
    with the Grad-CAM fixture's ResNet-18 (10 classes)."""
    import PIL.Image

    folder = os.path.join(out_dir, "cli")
    model = torchvision.models.resnet18(num_classes=10)
    model.load_state_dict(torch.load(os.path.join(out_dir, "gradcam", "resnet18.pth")))
    model.eval()
    rgb = torch.from_numpy(np.array(PIL.Image.open(os.path.join(folder, "image.png")).convert("RGB")))
    x = rgb.permute(2, 0, 1).float().div(255)
    x = torchvision.transforms.functional.normalize(x, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    with torch.no_grad():
        probabilities = torch.softmax(model(x.unsqueeze(0))[0], 0)
    save_npy(os.path.join(folder, "resnet18_probabilities.npy"), probabilities)


def make_image_fixture(out_dir):
    """One picture in every format and mode segkit reads, with the RGB it must decode to."""
    import PIL.Image

    folder = os.path.join(out_dir, "images")
    os.makedirs(folder, exist_ok=True)
    generator = torch.Generator().manual_seed(11)
    # Smooth, so that JPEG's loss stays small; the noise makes every pixel count.
    y, x = torch.meshgrid(torch.arange(19.0), torch.arange(27.0), indexing="ij")
    smooth = torch.stack([x * 9, y * 12, (x + y) * 5], dim=2) + torch.rand(19, 27, 3, generator=generator) * 6
    rgb = smooth.clamp(0, 255).to(torch.uint8).numpy()
    gray = rgb[:, :, 0]
    wide = (gray.astype(np.uint16) * 257 + 100).astype(np.uint16)
    alpha = np.concatenate([rgb, gray[:, :, None]], axis=2)
    PIL.Image.fromarray(rgb).save(os.path.join(folder, "rgb.png"))
    PIL.Image.fromarray(rgb).save(os.path.join(folder, "rgb.bmp"))
    PIL.Image.fromarray(rgb).save(os.path.join(folder, "rgb.tif"))
    PIL.Image.fromarray(rgb).save(os.path.join(folder, "rgb.jpg"), quality=95)
    PIL.Image.fromarray(gray).save(os.path.join(folder, "gray.png"))
    PIL.Image.fromarray(alpha, mode="RGBA").save(os.path.join(folder, "rgba.png"))
    PIL.Image.fromarray(wide).save(os.path.join(folder, "gray16.png"))
    PIL.Image.fromarray(rgb).save(os.path.join(folder, "progressive.jpg"), quality=90, progressive=True)
    PIL.Image.fromarray(gray).save(os.path.join(folder, "gray.jpg"), quality=90)
    # A palette image (as VOC's masks are): colours for read_image, indices for read_label_image.
    indices = (np.arange(19 * 27).reshape(19, 27) * 7 % 5).astype(np.uint8)
    palette = PIL.Image.fromarray(indices, mode="L").convert("P")
    palette.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0, 128, 128, 0, 0, 0, 128])
    palette.save(os.path.join(folder, "palette.png"))
    np.save(os.path.join(folder, "rgb.npy"), rgb)
    # What PIL (libjpeg-turbo, like segkit) decodes the JPEGs to, and the palette file to.
    for name in ("rgb.jpg", "progressive.jpg", "gray.jpg"):
        decoded = np.array(PIL.Image.open(os.path.join(folder, name)).convert("RGB"))
        np.save(os.path.join(folder, name.replace(".", "_") + "_by_pil.npy"), decoded)
    reopened = PIL.Image.open(os.path.join(folder, "palette.png"))
    np.save(os.path.join(folder, "palette_indices_by_pil.npy"), np.array(reopened).astype(np.int64))
    np.save(os.path.join(folder, "palette_rgb_by_pil.npy"), np.array(reopened.convert("RGB")))
    np.save(os.path.join(folder, "gray16_as_rgb.npy"),
            np.repeat(np.round(wide / 257.0).astype(np.uint8)[:, :, None], 3, axis=2))
    make_row_images(folder, generator)


def make_row_images(folder, generator):
    """Images that segkit reads in bands of rows (ImageRows), bigger than a band, with the RGB
    they hold: PNG in every mode, TIFF in strips and in tiles (classic and BigTIFF, deflated)
    as tifffile writes them for microscopy, JPEG."""
    import PIL.Image
    import tifffile

    rgb = (torch.rand(203, 171, 3, generator=generator) * 255).to(torch.uint8).numpy()
    gray = rgb[:, :, 1]
    np.save(os.path.join(folder, "rows_rgb.npy"), rgb)
    np.save(os.path.join(folder, "rows_gray_as_rgb.npy"), np.repeat(gray[:, :, None], 3, axis=2))
    wide = gray.astype(np.uint16) * 257 + 100
    np.save(os.path.join(folder, "rows_gray16_as_rgb.npy"),
            np.repeat(np.round(wide / 257.0).astype(np.uint8)[:, :, None], 3, axis=2))
    PIL.Image.fromarray(rgb).save(os.path.join(folder, "rows_rgb.png"))
    PIL.Image.fromarray(np.concatenate([rgb, gray[:, :, None]], axis=2), mode="RGBA").save(
        os.path.join(folder, "rows_rgba.png"))
    PIL.Image.fromarray(gray).save(os.path.join(folder, "rows_gray.png"))
    PIL.Image.fromarray(wide).save(os.path.join(folder, "rows_gray16.png"))
    tifffile.imwrite(os.path.join(folder, "rows_rgb_strips.tif"), rgb, rowsperstrip=17, photometric="rgb")
    tifffile.imwrite(os.path.join(folder, "rows_rgb_tiles.tif"), rgb, tile=(64, 48), photometric="rgb",
                     compression="zlib")
    tifffile.imwrite(os.path.join(folder, "rows_rgb_tiles_bigtiff.tif"), rgb, tile=(32, 32), photometric="rgb",
                     bigtiff=True)
    tifffile.imwrite(os.path.join(folder, "rows_gray_tiles_bigtiff.tif"), gray, tile=(48, 64),
                     photometric="minisblack", bigtiff=True, compression="zlib")
    # 16-bit, as microscopes write them: tiled gray, and RGB in strips with a predictor.
    tifffile.imwrite(os.path.join(folder, "rows_gray16_tiles_bigtiff.tif"), wide, tile=(48, 64),
                     photometric="minisblack", bigtiff=True, compression="zlib")
    rgb16 = (rgb.astype(np.uint32) * 257 * 251 // 256).astype(np.uint16)  # not a multiple of 257
    tifffile.imwrite(os.path.join(folder, "rows_rgb16_strips.tif"), rgb16, rowsperstrip=17, photometric="rgb",
                     compression="zlib", predictor=True)
    np.save(os.path.join(folder, "rows_rgb16_as_rgb.npy"), np.round(rgb16 / 257.0).astype(np.uint8))
    # JPEG: baseline (4:2:0 and gray, read row by row), CMYK (as Photoshop writes it), and
    # progressive (read whole).
    PIL.Image.fromarray(rgb).save(os.path.join(folder, "rows_rgb.jpg"), quality=90)
    PIL.Image.fromarray(gray).save(os.path.join(folder, "rows_gray.jpg"), quality=90)
    PIL.Image.fromarray(rgb).convert("CMYK").save(os.path.join(folder, "rows_cmyk.jpg"), quality=90)
    PIL.Image.fromarray(rgb).save(os.path.join(folder, "rows_progressive.jpg"), quality=90, progressive=True)
    for name in ("rows_rgb.jpg", "rows_gray.jpg"):  # what PIL (libjpeg-turbo too) decodes them to
        decoded = np.array(PIL.Image.open(os.path.join(folder, name)).convert("RGB"))
        np.save(os.path.join(folder, name.replace(".", "_") + "_by_pil.npy"), decoded)


def make_metrics_fixture(out_dir):
    """Random label maps and scikit-learn's measures of them: the confusion matrix,
    per-class IoU (jaccard_score), Dice (f1_score) and accuracy (recall_score), accuracy and
    class-average accuracy (balanced_accuracy_score)."""
    from sklearn import metrics

    folder = os.path.join(out_dir, "metrics")
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(5)
    classes = 5
    truth = rng.integers(0, classes, size=(3, 37, 41))
    pred = np.where(rng.random(truth.shape) < 0.6, truth, rng.integers(0, classes - 1, size=truth.shape))
    t, p = truth.ravel(), pred.ravel()
    labels = list(range(classes))
    result = {
        "confusion": metrics.confusion_matrix(t, p, labels=labels).tolist(),
        "iou": metrics.jaccard_score(t, p, labels=labels, average=None, zero_division=0).tolist(),
        "dice": metrics.f1_score(t, p, labels=labels, average=None, zero_division=0).tolist(),
        "accuracy": metrics.accuracy_score(t, p),
        "recall": metrics.recall_score(t, p, labels=labels, average=None, zero_division=0).tolist(),
        "balanced_accuracy": metrics.balanced_accuracy_score(t, p),
    }
    np.save(os.path.join(folder, "truth.npy"), truth.astype(np.int64))
    np.save(os.path.join(folder, "pred.npy"), pred.astype(np.int64))
    with open(os.path.join(folder, "sklearn.json"), "w") as f:
        json.dump(result, f)


def make_classification_metrics_fixture(out_dir):
    """Random class scores and labels, and scikit-learn's top-1 and top-5 accuracy,
    confusion matrix and per-class accuracy (recall)."""
    from sklearn import metrics

    folder = os.path.join(out_dir, "metrics")
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(9)
    classes, n = 7, 83
    labels = np.concatenate([np.arange(classes), rng.integers(0, classes, size=n - classes)])
    scores = rng.normal(size=(n, classes)) + 1.5 * np.eye(classes)[labels]
    predicted = scores.argmax(1)
    result = {
        "top1": metrics.accuracy_score(labels, predicted),
        "top5": metrics.top_k_accuracy_score(labels, scores, k=5, labels=list(range(classes))),
        "confusion": metrics.confusion_matrix(labels, predicted, labels=list(range(classes))).tolist(),
        "class_accuracy": metrics.recall_score(labels, predicted, labels=list(range(classes)), average=None).tolist(),
    }
    np.save(os.path.join(folder, "class_scores.npy"), scores.astype(np.float32))
    np.save(os.path.join(folder, "class_labels.npy"), labels.astype(np.int64))
    with open(os.path.join(folder, "classification.json"), "w") as f:
        json.dump(result, f)


def membrane_maps(rng, size=64):
    """A membrane grid with cells of varied sizes (1: interior, 0: membrane), and a
    prediction of it with shifted, missing and spurious membrane pieces."""
    truth = np.ones((size, size), dtype=np.int64)
    for axis in (0, 1):
        position = int(rng.integers(2, 6))
        while position < size:
            width = int(rng.integers(1, 3))
            if axis == 0:
                truth[position:position + width, :] = 0
            else:
                truth[:, position:position + width] = 0
            position += int(rng.integers(7, 15))
    pred = truth.copy()
    for _ in range(6):  # shift a stretch of membrane by a pixel
        r, c = rng.integers(0, size - 8, size=2)
        pred[r:r + 8, c:c + 8] = np.roll(truth[r:r + 8, c:c + 8], 1, axis=int(rng.integers(0, 2)))
    for _ in range(3):  # a gap in a membrane merges two cells
        r, c = rng.integers(0, size - 3, size=2)
        pred[r:r + 3, c:c + 3] = 1
    for _ in range(3):  # a spurious membrane splits a cell
        r, c = rng.integers(0, size - 6, size=2)
        pred[r, c:c + 6] = 0
    noise = rng.random((size, size)) < 0.02
    pred[noise] = 1 - pred[noise]
    return truth, pred


def make_rand_fixture(out_dir):
    """Binary membrane maps and both adapted Rand errors of their 4-connected cells:
    scikit-image's adapted_rand_error and the ISBI/SNEMI3D challenges' definition."""
    from scipy import ndimage
    from skimage.metrics import adapted_rand_error

    from isbi_rand_reference import adapted_rand_error as challenge_rand_error

    folder = os.path.join(out_dir, "metrics")
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(13)
    truths, preds, result = [], [], {"skimage": [], "challenge": []}
    for _ in range(4):
        truth, pred = membrane_maps(rng)
        truth_cells = ndimage.label(truth == 1)[0]  # 4-connected: scipy's default structure
        pred_cells = ndimage.label(pred == 1)[0]
        result["skimage"].append(float(adapted_rand_error(truth_cells, pred_cells)[0]))
        result["challenge"].append(float(challenge_rand_error(pred_cells, truth_cells)))
        truths.append(truth)
        preds.append(pred)
    np.save(os.path.join(folder, "membrane_truth.npy"), np.stack(truths))
    np.save(os.path.join(folder, "membrane_pred.npy"), np.stack(preds))
    with open(os.path.join(folder, "rand.json"), "w") as f:
        json.dump(result, f)


def make_instance_cli_fixture(out_dir):
    """An instance model for the predict tests (tests/e2e/test_instance_cli.cpp): the light
    Mask R-CNN with COCO's 91 classes and random weights, and torchvision's detections on two
    crops of the real datasets (tests/fixtures/detection) at min size 320 / max 512, score
    threshold 0.5 (as in the zoo's golden test: tools/zoo_reference.py); and torchvision's
    COCO category names."""
    from torchvision.models.detection import MaskRCNN_ResNet50_FPN_Weights
    crops = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "detection")
    folder = os.path.join(out_dir, "instance_cli")
    args = argparse.Namespace(model="maskrcnn_mobilenet_v3_large_fpn", classes=91, min_size=320, max_size=512,
                              images=",".join(os.path.join(crops, n) for n in ("ants_97x131.png", "camvid_90x144.png")),
                              out=folder)
    make_instance_reference(args, zlib.crc32(b"instance_cli"))
    with open(os.path.join(folder, "coco_categories.json"), "w") as f:
        json.dump(MaskRCNN_ResNet50_FPN_Weights.COCO_V1.meta["categories"], f)


def main():
    out_dir = sys.argv[1]
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    make_model_fixture(CLI_MODEL, out_dir)
    for folder_name, _, options, shape in UNET_CASES:
        make_unet_fixture(folder_name, options, shape, out_dir)
    make_unet_train_step_fixture(out_dir)
    make_dtype_fixture(out_dir)
    # The fuzzing harnesses' seeds: a test reads each (so the corpus is known valid), and
    # scripts/fuzz.sh starts from them.
    import make_fuzz_seeds
    make_fuzz_seeds.main(os.path.join(out_dir, "fuzz_seeds"))
    make_image_fixture(out_dir)
    make_metrics_fixture(out_dir)
    make_classification_metrics_fixture(out_dir)
    make_rand_fixture(out_dir)
    make_ops_fixtures(out_dir)
    make_detection_fixtures(out_dir)
    make_instance_cli_fixture(out_dir)
    make_cli_fixture(out_dir)
    import gradcam_reference

    gradcam_reference.make(out_dir)
    make_classify_fixture(out_dir)
    print("fixtures written to", out_dir, "with torch", torch.__version__, "torchvision", torchvision.__version__)


if __name__ == "__main__":
    main()
