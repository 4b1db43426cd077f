#!/usr/bin/python3
"""segkit's COCO evaluation (`segkit eval --task instance`) against pycocotools 2.0.7 itself
(../shared/reference/cocoapi, built from Debian's packages by its build.sh), on the same files:

- random datasets: images of random sizes, three categories, objects as polygons (one or two
  per object, 3 to 12 points), compressed RLE and crowd regions as uncompressed RLE, some tiny,
  some large; detections that are jittered copies of the objects, duplicates, misses and false
  positives, with scores rounded to one decimal so that many tie; box and mask results in one
  file (as detectron2 and `segkit predict --coco-results` write them);
- the droplets validation set's VIA annotations (../shared/datasets/droplets/val), converted by
  segkit (--save-gt) and scored against jittered copies of themselves.
Prints, per case, the largest difference over the 12 box and 12 mask numbers.

Usage: bench/coco_crosscheck.py BUILD_DIR [--trials 40]
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
COCOAPI = os.path.join(ROOT, "..", "shared", "reference", "cocoapi")


def pycocotools_path():
    return subprocess.run(["bash", os.path.join(COCOAPI, "build.sh")], check=True, capture_output=True,
                          text=True).stdout.strip().splitlines()[-1]


def polygon(rng, x, y, w, h):
    n = rng.randint(3, 12)
    points = []
    for _ in range(n):
        points += [x + rng.random() * w, y + rng.random() * h]
    return points


def random_case(rng, mask_utils, folder):
    import numpy as np
    images, annotations, results = [], [], []
    categories = [{"id": c, "name": f"c{c}"} for c in (1, 2, 3, 7)]
    next_id = 1
    for image_id in range(rng.randint(1, 6)):
        h, w = rng.randint(40, 300), rng.randint(40, 300)
        images.append({"id": image_id * 3 + 1, "height": h, "width": w, "file_name": f"{image_id}.png"})
        for _ in range(rng.randint(0, 12)):
            cat = rng.choice((1, 2, 3))
            bw, bh = rng.uniform(2, w / 1.2), rng.uniform(2, h / 1.2)
            if rng.random() < 0.3:  # big objects too
                bw, bh = rng.uniform(w / 2, w - 1), rng.uniform(h / 2, h - 1)
            x, y = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
            kind = rng.random()
            if kind < 0.15:  # a crowd region as uncompressed RLE
                mask = np.zeros((h, w), np.uint8, order="F")
                mask[int(y):int(y + bh) + 1, int(x):int(x + bw) + 1] = 1
                rle = mask_utils.encode(mask)
                counts, run, value = [], 0, 0
                for v in mask.flatten(order="F"):
                    if v != value:
                        counts.append(run)
                        run, value = 0, v
                    run += 1
                counts.append(run)
                segmentation, crowd = {"size": [h, w], "counts": counts}, 1
            elif kind < 0.3:  # compressed RLE
                mask = np.zeros((h, w), np.uint8, order="F")
                mask[int(y):int(y + bh) + 1, int(x):int(x + bw) + 1] = np.random.RandomState(next_id).rand(
                    int(y + bh) + 1 - int(y), int(x + bw) + 1 - int(x)) > 0.3
                rle = mask_utils.encode(mask)
                segmentation, crowd = {"size": [h, w], "counts": rle["counts"].decode()}, 0
            else:
                segmentation = [polygon(rng, x, y, bw, bh) for _ in range(1 if rng.random() < 0.8 else 2)]
                rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, h, w))
                crowd = 0
            area = float(mask_utils.area(rle))
            annotations.append({"id": next_id, "image_id": images[-1]["id"], "category_id": cat,
                                "bbox": [x, y, bw, bh], "area": area, "iscrowd": crowd, "segmentation": segmentation})
            next_id += 1
            for _ in range(rng.choice((0, 1, 1, 1, 2))):  # misses, hits, duplicates
                j = [rng.gauss(0, 0.08) for _ in range(4)]
                db = [x + j[0] * bw, y + j[1] * bh, bw * (1 + j[2]), bh * (1 + j[3])]
                db = [max(0.0, db[0]), max(0.0, db[1]), db[2], db[3]]
                db[2], db[3] = min(db[2], w - db[0]), min(db[3], h - db[1])
                poly = [[p + rng.gauss(0, 1.5) for p in polygon(rng, db[0], db[1], db[2], db[3])]]
                poly = [[min(max(v, 0.0), (w if i % 2 == 0 else h)) for i, v in enumerate(poly[0])]]
                drle = mask_utils.merge(mask_utils.frPyObjects(poly, h, w))
                results.append({"image_id": images[-1]["id"], "category_id": cat if rng.random() < 0.9 else 7,
                                "bbox": db, "score": round(rng.random(), 1),
                                "segmentation": {"size": [h, w], "counts": drle["counts"].decode()}})
        for _ in range(rng.randint(0, 4)):  # false positives
            bw, bh = rng.uniform(2, w / 2), rng.uniform(2, h / 2)
            x, y = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
            drle = mask_utils.merge(mask_utils.frPyObjects([polygon(rng, x, y, bw, bh)], h, w))
            results.append({"image_id": images[-1]["id"], "category_id": rng.choice((1, 2, 3)), "bbox": [x, y, bw, bh],
                            "score": round(rng.random(), 1),
                            "segmentation": {"size": [h, w], "counts": drle["counts"].decode()}})
    if not annotations or not results:
        return None
    truth = os.path.join(folder, "truth.json")
    detections = os.path.join(folder, "results.json")
    with open(truth, "w") as f:
        json.dump({"images": images, "annotations": annotations, "categories": categories}, f)
    with open(detections, "w") as f:
        json.dump(results, f)
    return truth, detections


def pycocotools_stats(truth, detections):
    import contextlib
    import io
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    stats = {}
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(truth)
        dt = gt.loadRes(detections)
        for kind in ("bbox", "segm"):
            e = COCOeval(gt, dt, kind)
            e.evaluate()
            e.accumulate()
            e.summarize()
            stats[kind] = list(e.stats)
    return stats


NAMES = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]


def segkit_stats(cli, truth, detections):
    out = subprocess.run([cli, "eval", "--task", "instance", "--gt", truth, "--results", detections, "--json"],
                         check=True, capture_output=True, text=True).stdout
    report = json.loads(out)
    return {kind: [report[kind][n] for n in NAMES] for kind in ("bbox", "segm")}


def droplets_case(cli, mask_utils, folder, rng):
    truth = os.path.join(folder, "droplets_truth.json")
    via = os.path.join(ROOT, "..", "shared", "datasets", "droplets", "val", "via_region_data.json")
    subprocess.run([cli, "eval", "--task", "instance", "--gt", via, "--save-gt", truth], check=True,
                   capture_output=True)
    with open(truth) as f:
        gt = json.load(f)
    results = []
    for a in gt["annotations"]:
        image = next(i for i in gt["images"] if i["id"] == a["image_id"])
        for _ in range(rng.choice((0, 1, 1, 2))):
            x, y, w, h = a["bbox"]
            j = [rng.gauss(0, 0.05) for _ in range(4)]
            box = [max(0.0, x + j[0] * w), max(0.0, y + j[1] * h), w * (1 + j[2]), h * (1 + j[3])]
            box[2], box[3] = min(box[2], image["width"] - box[0]), min(box[3], image["height"] - box[1])
            rle = mask_utils.frPyObjects([[box[0], box[1], box[0], box[1] + box[3], box[0] + box[2],
                                           box[1] + box[3], box[0] + box[2], box[1]]], image["height"], image["width"])[0]
            results.append({"image_id": a["image_id"], "category_id": 1, "bbox": box, "score": round(rng.random(), 1),
                            "segmentation": {"size": rle["size"], "counts": rle["counts"].decode()}})
    detections = os.path.join(folder, "droplets_results.json")
    with open(detections, "w") as f:
        json.dump(results, f)
    return truth, detections, len(gt["annotations"])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("build_dir")
    p.add_argument("--trials", type=int, default=40)
    a = p.parse_args()
    sys.path.insert(0, pycocotools_path())
    from pycocotools import mask as mask_utils
    cli = os.path.join(a.build_dir, "segkit")
    rng = random.Random(2014)
    worst, cases, objects = 0.0, 0, 0
    with tempfile.TemporaryDirectory() as folder:
        for trial in range(a.trials):
            made = random_case(rng, mask_utils, folder)
            if made is None:
                continue
            reference, ours = pycocotools_stats(*made), segkit_stats(cli, *made)
            diff = max(abs(x - y) for kind in ours for x, y in zip(ours[kind], reference[kind]))
            worst = max(worst, diff)
            cases += 1
            with open(made[0]) as f:
                objects += len(json.load(f)["annotations"])
            if diff > 1e-12:
                print(f"trial {trial}: largest difference {diff}\n  segkit {ours}\n  pycocotools {reference}")
        truth, detections, count = droplets_case(cli, mask_utils, folder, rng)
        reference, ours = pycocotools_stats(truth, detections), segkit_stats(cli, truth, detections)
        droplets = max(abs(x - y) for kind in ours for x, y in zip(ours[kind], reference[kind]))
    print(f"random datasets: {cases} ({objects} objects): largest difference {worst:.3g}")
    print(f"droplets val ({count} objects, VIA converted by segkit): largest difference {droplets:.3g}; "
          f"segkit box AP {ours['bbox'][0]:.4f} mask AP {ours['segm'][0]:.4f}, "
          f"pycocotools {reference['bbox'][0]:.4f} / {reference['segm'][0]:.4f}")


if __name__ == "__main__":
    main()
