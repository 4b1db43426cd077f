#pragma once

// Instance ground truth and detections in and out: COCO JSON (polygons, RLE, crowd RLE), VGG
// Image Annotator 1.x JSON (polygons, as ../shared/datasets/droplets has them), folders of
// instance-id PNGs, and COCO results files. Every error is an InputError naming the file and,
// where there is one, the annotation.

#include <string>
#include <vector>

#include "segkit/eval/coco_eval.h"
#include "segkit/models/model.h"

namespace segkit {

/// A COCO annotation file. Each annotation's mask is made at its image's size (polygons
/// rasterized and merged as pycocotools' annToRLE does). Refused: an image, category or
/// annotation id given twice, an annotation of an unknown image or category, a polygon of
/// fewer than 3 points, a box or polygon reaching more than a pixel outside its image, an RLE
/// of another size than its image, a file without annotations. A missing "area" is the mask's
/// pixel count (the box's area when there is no segmentation).
CocoDataset read_coco_json(const std::string& path);

/// A VIA 1.x project file: each file's polygon regions as one-category instances (category 1,
/// "object"), as detectron2's loader for such files reads them: polygon points at pixel
/// centres (x + 0.5, y + 0.5), the box from the points' extremes, the area the polygon's own
/// (shoelace). Image sizes are read from the images, in `images_dir`; image ids are 0, 1, ...
/// in the order of the file names sorted (as `segkit predict` numbers a sorted folder).
CocoDataset read_via_json(const std::string& path, const std::string& images_dir);

/// Instance-id PNGs (0 background, each other value one instance) of a folder, sorted by name:
/// one-category instances, area the pixel count, the box the mask's; image ids 0, 1, ...;
/// each image's file name is the PNG's stem (matched to images by stem).
CocoDataset read_instance_pngs(const std::string& folder);

/// Reads a folder of instance-id PNGs or a COCO or VIA JSON file (told apart by content).
CocoDataset read_instance_truth(const std::string& path, const std::string& images_dir);

/// A COCO results file against its ground truth, as pycocotools' loadRes reads it: ids 1, 2,
/// ... in order; with boxes, the area is the box's; mask-only results take their box and area
/// from the mask. Box-only results get no mask (loadRes would make the box a polygon mask; mask
/// AP of boxes is not reported). Refused: results for
/// images or categories the ground truth does not have, masks of another size than their image,
/// boxes that reach more than a pixel outside it, entries without a score.
std::vector<CocoObject> read_coco_results(const std::string& path, const CocoDataset& truth);

/// One image's instances as COCO results, as loadRes would read them back: the box as x, y,
/// width, height and its area, the mask (probability at least 0.5) as RLE where there are
/// masks; ids 0 (the caller numbers them).
std::vector<CocoObject> instances_to_results(const Instances& instances, int64_t image_id);

/// Writes detections as a COCO results file (image_id, category_id, bbox, score, and
/// segmentation as compressed RLE where there is a mask), atomically.
void write_coco_results(const std::vector<CocoObject>& results, const std::string& path);

/// Writes the dataset as a COCO annotation file (masks as compressed RLE), atomically.
void write_coco_json(const CocoDataset& dataset, const std::string& path);

}  // namespace segkit
