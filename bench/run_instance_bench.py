#!/usr/bin/python3
"""Faster and Mask R-CNN inference, segkit against torchvision eager in the same run: latency,
peak memory and where the time goes (transform, backbone with FPN, RPN, RoI heads, mask
pasting) on one 480x640 natural image (a crop of a droplets frame from ../shared/datasets),
resized to 800 as torchvision does, at torchvision's test settings (score 0.05, 100
detections). Both load the same checkpoint: random weights with randomized BatchNorm statistics
and heads drawn as for the golden test (tools/zoo_reference.py), so that each image gives the
full 100 detections (the mask head's worst case). Same threads, BLAS and malloc settings;
processes alternate ROUNDS times, each reporting the median of RUNS passes after warm-up; the
table shows the median over rounds. Peak memory: the process's peak resident set (VmHWM).

Usage: bench/run_instance_bench.py BUILD_DIR [--rounds 5] [--runs 5] [--threads 2] MODEL ...
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zlib

from machine import describe

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
DATASETS = os.path.join(HERE, "..", "..", "shared", "datasets")
MALLOC = "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824"
STEPS = ["transform", "backbone", "rpn", "roi_heads", "paste"]


def make_image(folder):
    from PIL import Image
    path = os.path.join(folder, "droplets_480x640.png")
    if not os.path.exists(path):
        frame = Image.open(os.path.join(DATASETS, "droplets", "val", "video1image0.jpg")).convert("RGB")
        frame.crop((320, 272, 960, 752)).save(path)
    return path


def make_checkpoint(name, folder, image_path):
    import numpy as np
    import torch
    from PIL import Image
    from zoo_reference import build_instance, randomize
    path = os.path.join(folder, name + ".pth")
    if os.path.exists(path):
        return path
    seed = zlib.crc32(name.encode())
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = build_instance(name, 91).eval()
    image = torch.from_numpy(np.array(Image.open(image_path))).permute(2, 0, 1).float().div(255)
    randomize(model.backbone, generator, model.transform([image])[0].tensors)
    with torch.no_grad():
        for key, parameter in model.rpn.head.named_parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * (0.06 if "cls" in key else 0.02))
        predictor = model.roi_heads.box_predictor
        predictor.cls_score.weight.copy_(torch.randn(predictor.cls_score.weight.shape, generator=generator) * 0.5)
        predictor.bbox_pred.weight.copy_(torch.randn(predictor.bbox_pred.weight.shape, generator=generator) * 0.07)
    torch.save(model.state_dict(), path)
    return path


def peer(name, weights, image_path, runs, warmup, threads):
    """torchvision's model, timed step by step with hooks around its modules."""
    import numpy as np
    import torch
    from PIL import Image
    from zoo_reference import build_instance
    torch.set_num_threads(threads)
    model = build_instance(name, 91).eval()
    model.load_state_dict(torch.load(weights))
    if "resnet50" in name:
        for module in model.backbone.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.eps = 0.0
    image = torch.from_numpy(np.array(Image.open(image_path))).permute(2, 0, 1).float().div(255)
    marks = {}

    def timed(step, module):
        module.register_forward_pre_hook(lambda m, i: marks.__setitem__(step + ".start", time.perf_counter()))
        module.register_forward_hook(lambda m, i, o: marks.__setitem__(step + ".end", time.perf_counter()))
    timed("transform", model.transform)
    timed("backbone", model.backbone)
    timed("rpn", model.rpn)
    timed("roi_heads", model.roi_heads)
    original = model.transform.postprocess

    def postprocess(*args):
        marks["paste.start"] = time.perf_counter()
        result = original(*args)
        marks["paste.end"] = time.perf_counter()
        return result
    model.transform.postprocess = postprocess
    base = rss_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    rows = []
    with torch.no_grad():
        for i in range(warmup + runs):
            start = time.perf_counter()
            out = model([image])
            total = (time.perf_counter() - start) * 1000
            if i >= warmup:
                row = {s + "_ms": (marks[s + ".end"] - marks[s + ".start"]) * 1000 for s in STEPS}
                # The transform's forward ends before the postprocessing it also owns.
                row["median_ms"], row["detections"] = total, len(out[0]["scores"])
                rows.append(row)
    result = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    peak = rss_kib("VmHWM")
    result.update(impl="torchvision", peak_rss_mib=peak / 1024, inference_peak_mib=(peak - base) / 1024)
    print(json.dumps(result))


def rss_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def run(cmd):
    env = dict(os.environ, GLIBC_TUNABLES=MALLOC)
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("build_dir", nargs="?")
    p.add_argument("models", nargs="*")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--peer", nargs=3, metavar=("MODEL", "WEIGHTS", "IMAGE"))
    a = p.parse_args()
    print(describe(), flush=True)
    if a.peer:
        return peer(*a.peer, a.runs, a.warmup, a.threads)
    folder = os.path.join(tempfile.gettempdir(), "segkit_bench_checkpoints")
    os.makedirs(folder, exist_ok=True)
    image = make_image(folder)
    common = ["--runs", str(a.runs), "--warmup", str(a.warmup), "--threads", str(a.threads)]
    for name in a.models:
        weights = make_checkpoint(name, folder, image)
        rows = {"segkit": [], "torchvision": []}
        for _ in range(a.rounds):
            line = run([os.path.join(a.build_dir, "segkit"), "bench", name, "--weights", weights, "--image", image,
                        "--json"] + common)
            line.update({step + "_ms": ms for step, ms in line.pop("stages_ms").items()})
            rows["segkit"].append(line)
            rows["torchvision"].append(run([sys.executable, os.path.abspath(__file__), "--peer", name, weights, image]
                                           + common))
        med = {impl: {k: statistics.median(r[k] for r in v) for k in ["median_ms", "peak_rss_mib", "detections"]
                      + [s + "_ms" for s in STEPS]} for impl, v in rows.items()}
        s, t = med["segkit"], med["torchvision"]
        print(f"\n{name} (480x640 resized to 800x1066, 2 threads, {a.rounds} rounds x {a.runs} runs; "
              f"{s['detections']:.0f} / {t['detections']:.0f} detections)")
        print("| step | segkit ms | torchvision ms | speed-up |")
        print("|---|---|---|---|")
        for step in STEPS + ["median"]:
            label = "total" if step == "median" else step
            print(f"| {label} | {s[step + '_ms']:.1f} | {t[step + '_ms']:.1f} | {t[step + '_ms'] / s[step + '_ms']:.2f}x |")
        print(f"| peak memory MiB | {s['peak_rss_mib']:.0f} | {t['peak_rss_mib']:.0f} | |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
