#!/usr/bin/python3
"""Reference outputs for segkit's parity and checkpoint tests, made with Debian's
torch and torchvision (run with /usr/bin/python3, not a pyenv python).

For each zoo model: random weights *and randomized BatchNorm statistics*, saved as
torch.save's zip format and its legacy (pre-1.6) format, a fixed odd-sized input,
and torchvision's eval-mode logits ("out" and "aux"). Also a state dict of every
dtype in zip, legacy and safetensors form, and a PNG image with torchvision's
logits for it (for the command-line test).

Usage: make_parity_fixtures.py OUT_DIR [MODEL ...]
"""
import json
import os
import struct
import sys

import numpy as np
import torch
import torchvision
from torchvision.models import segmentation

MODELS = [
    "fcn_resnet50",
    "fcn_resnet101",
    "deeplabv3_resnet50",
    "deeplabv3_resnet101",
    "deeplabv3_mobilenet_v3_large",
    "lraspp_mobilenet_v3_large",
]
NUM_CLASSES = 7
INPUT_SHAPE = (2, 3, 97, 123)  # odd sizes on purpose


def build(name):
    kwargs = dict(weights=None, weights_backbone=None, num_classes=NUM_CLASSES)
    if not name.startswith("lraspp"):
        kwargs["aux_loss"] = True
    return getattr(segmentation, name)(**kwargs)


def randomize(model, generator):
    """Random weights everywhere, and BatchNorm statistics far from (0, 1)."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                c = module.num_features
                module.weight.copy_(torch.rand(c, generator=generator) * 0.8 + 0.6)
                module.bias.copy_(torch.randn(c, generator=generator) * 0.2)
                module.running_mean.copy_(torch.randn(c, generator=generator) * 0.3)
                module.running_var.copy_(torch.rand(c, generator=generator) * 1.5 + 0.5)
                module.num_batches_tracked.fill_(int(torch.randint(1, 1000, (1,), generator=generator)))
            elif isinstance(module, torch.nn.Conv2d):
                fan_in = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
                module.weight.copy_(torch.randn(module.weight.shape, generator=generator) * (2.0 / fan_in) ** 0.5)
                if module.bias is not None:
                    module.bias.copy_(torch.randn(module.bias.shape, generator=generator) * 0.1)


def save_npy(path, tensor):
    np.save(path, tensor.detach().contiguous().numpy())


def make_model_fixture(name, out_dir):
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(hash(name) % (2**31))
    model = build(name)
    randomize(model, generator)
    model.eval()
    folder = os.path.join(out_dir, name)
    os.makedirs(folder, exist_ok=True)
    state = model.state_dict()
    torch.save(state, os.path.join(folder, "weights.pth"))
    torch.save(state, os.path.join(folder, "weights_legacy.pth"), _use_new_zipfile_serialization=False)
    x = torch.randn(INPUT_SHAPE, generator=generator)
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
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from unet_reference import UNet

    generator = torch.Generator().manual_seed(len(folder_name) * 7919)
    model = UNet(num_classes=NUM_CLASSES, **options)
    randomize(model, generator)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.ConvTranspose2d):
                module.weight.copy_(torch.randn(module.weight.shape, generator=generator) * 0.3)
                module.bias.copy_(torch.randn(module.bias.shape, generator=generator) * 0.1)
    model.eval()
    folder = os.path.join(out_dir, folder_name)
    os.makedirs(folder, exist_ok=True)
    torch.save(model.state_dict(), os.path.join(folder, "weights.pth"))
    torch.save(model.state_dict(), os.path.join(folder, "weights_legacy.pth"), _use_new_zipfile_serialization=False)
    x = torch.randn(shape, generator=generator)
    with torch.no_grad():
        out = model(x)
    save_npy(os.path.join(folder, "input.npy"), x)
    save_npy(os.path.join(folder, "out.npy"), out)


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
    np.save(os.path.join(folder, "rgb.npy"), rgb)
    np.save(os.path.join(folder, "gray16_as_rgb.npy"),
            np.repeat(np.round(wide / 257.0).astype(np.uint8)[:, :, None], 3, axis=2))


def make_metrics_fixture(out_dir):
    """Random label maps and scikit-learn's measures of them: the confusion matrix,
    per-class IoU (jaccard_score) and Dice (f1_score), accuracy, and the ISBI adapted
    Rand error computed from sklearn's contingency matrix."""
    from sklearn import metrics
    from sklearn.metrics.cluster import contingency_matrix

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
    }
    np.save(os.path.join(folder, "truth.npy"), truth.astype(np.int64))
    np.save(os.path.join(folder, "pred.npy"), pred.astype(np.int64))
    # Object label maps (0 = boundary) for the adapted Rand error.
    seg_truth = rng.integers(0, 6, size=(29, 31))
    seg_pred = np.where(rng.random(seg_truth.shape) < 0.7, seg_truth, rng.integers(0, 9, size=seg_truth.shape))
    np.save(os.path.join(folder, "seg_truth.npy"), seg_truth.astype(np.int64))
    np.save(os.path.join(folder, "seg_pred.npy"), seg_pred.astype(np.int64))
    cont = contingency_matrix(seg_truth.ravel(), seg_pred.ravel()).astype(np.float64)  # rows: truth ids, sorted
    n = seg_truth.size
    a = cont[1:, :]  # truth foreground (id 0 is the first row: ids 0..5 all occur)
    b = cont[1:, 1:]
    c = cont[1:, 0]
    sum_a = (a.sum(1) ** 2).sum()
    sum_b = (b.sum(0) ** 2).sum() + c.sum() / n
    sum_ab = (b ** 2).sum() + c.sum() / n
    precision, recall = sum_ab / sum_b, sum_ab / sum_a
    result["adapted_rand_error"] = 1 - 2 * precision * recall / (precision + recall)
    with open(os.path.join(folder, "sklearn.json"), "w") as f:
        json.dump(result, f)


def main():
    out_dir = sys.argv[1]
    models = sys.argv[2:] or MODELS
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    for name in models:
        make_model_fixture(name, out_dir)
    for folder_name, _, options, shape in UNET_CASES:
        make_unet_fixture(folder_name, options, shape, out_dir)
    make_dtype_fixture(out_dir)
    make_image_fixture(out_dir)
    make_metrics_fixture(out_dir)
    if "lraspp_mobilenet_v3_large" in models:
        make_cli_fixture(out_dir)
    print("fixtures written to", out_dir, "with torch", torch.__version__, "torchvision", torchvision.__version__)


if __name__ == "__main__":
    main()
