// COCO evaluation on cases small enough to work out by hand from pycocotools' rules
// (cocoeval.py, maskApi.c): matching at each IoU threshold, crowd regions, area ranges,
// detection limits, stable ordering of tied scores, and polygon rasterization. The whole
// evaluator is cross-checked against pycocotools itself in bench/RESULTS.md.

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "segkit/eval/coco_eval.h"

namespace segkit {
namespace {

constexpr double kTolerance = 1e-12;
enum Stat { kAP, kAP50, kAP75, kAPs, kAPm, kAPl, kAR1, kAR10, kAR100, kARs, kARm, kARl };

CocoDataset one_image(int64_t height = 200, int64_t width = 200) {
  CocoDataset d;
  d.images.push_back({1, height, width, "a.png"});
  d.categories[1] = "thing";
  return d;
}

CocoObject box(int64_t id, std::array<double, 4> b, double score = 0, bool crowd = false, int64_t image = 1) {
  CocoObject o;
  o.id = id, o.image_id = image, o.category_id = 1, o.bbox = b, o.area = b[2] * b[3], o.score = score;
  o.iscrowd = crowd;
  return o;
}

TEST(CocoEval, APerfectDetectionScoresOneWhereThereIsTruthAndMinusOneElsewhere) {
  CocoDataset truth = one_image();
  truth.annotations = {box(1, {0, 0, 10, 10})};  // area 100: small
  const CocoStats s = coco_evaluate(truth, {box(1, {0, 0, 10, 10}, 0.9)}, IouType::kBox);
  // Precision is tp / (tp + fp + numpy.spacing(1)): 1 - 2e-16 at best, as in pycocotools.
  for (Stat i : {kAP, kAP50, kAP75, kAPs, kAR1, kAR10, kAR100, kARs}) EXPECT_NEAR(s.values[i], 1.0, kTolerance) << i;
  for (Stat i : {kAPm, kAPl, kARm, kARl}) EXPECT_EQ(s.values[i], -1.0) << i << ": no truth of that size";
}

TEST(CocoEval, AFalsePositiveRankedFirstCostsPrecisionAtEveryRecall) {
  CocoDataset truth = one_image();
  truth.annotations = {box(1, {0, 0, 40, 40}), box(2, {100, 100, 40, 40})};
  // d1 hits nothing, d2 and d3 hit the two truths: precision 0, 1/2, 2/3 at recall 0, 1/2, 1,
  // made non-increasing from the right: 2/3 at every recall point.
  const std::vector<CocoObject> detections = {box(1, {150, 0, 20, 20}, 0.9), box(2, {0, 0, 40, 40}, 0.8),
                                              box(3, {100, 100, 40, 40}, 0.7)};
  const CocoStats s = coco_evaluate(truth, detections, IouType::kBox);
  EXPECT_NEAR(s.values[kAP], 2.0 / 3, kTolerance);
  EXPECT_NEAR(s.values[kAP50], 2.0 / 3, kTolerance);
  EXPECT_EQ(s.values[kAR1], 0.0) << "one detection per image: only the miss";
  EXPECT_EQ(s.values[kAR10], 1.0);
  EXPECT_EQ(s.values[kAR100], 1.0);
  // 40x40 is medium; the 20x20 false positive is small and, unmatched, not counted there.
  EXPECT_NEAR(s.values[kAPm], 1.0, kTolerance);
}

TEST(CocoEval, PartialOverlapMatchesUpToItsIou) {
  CocoDataset truth = one_image();
  truth.annotations = {box(1, {0, 0, 100, 100})};
  // IoU 0.79: a match at thresholds 0.50 ... 0.75 (6 of 10), a miss above.
  const CocoStats s = coco_evaluate(truth, {box(1, {0, 0, 100, 79}, 0.5)}, IouType::kBox);
  EXPECT_NEAR(s.values[kAP], 0.6, kTolerance);
  EXPECT_NEAR(s.values[kAP50], 1.0, kTolerance);
  EXPECT_NEAR(s.values[kAP75], 1.0, kTolerance);
  EXPECT_NEAR(s.values[kAR100], 0.6, kTolerance);
  EXPECT_NEAR(s.values[kAPl], 0.6, kTolerance);
}

TEST(CocoEval, DetectionsInACrowdRegionAreNeitherHitsNorMisses) {
  CocoDataset truth = one_image();
  // A crowd region over the right half; its IoU is intersection over the detection's area.
  truth.annotations = {box(1, {0, 0, 40, 40}), box(2, {100, 0, 100, 200}, 0, /*crowd=*/true)};
  const std::vector<CocoObject> detections = {box(1, {120, 20, 30, 30}, 0.9), box(2, {140, 100, 30, 30}, 0.85),
                                              box(3, {0, 0, 40, 40}, 0.8)};
  CocoStats s = coco_evaluate(truth, detections, IouType::kBox);
  EXPECT_NEAR(s.values[kAP], 1.0, kTolerance) << "both detections in the crowd are ignored, even matched to it twice";
  EXPECT_EQ(s.values[kAR100], 1.0) << "the crowd is not a miss";
  // The same region as an ordinary object: two false positives first, one miss.
  truth.annotations[1].iscrowd = false;
  s = coco_evaluate(truth, detections, IouType::kBox);
  // Recall 1/2 at rank 3, precision 1/3: 1/3 for the 51 recall points up to 0.5, 0 above.
  EXPECT_NEAR(s.values[kAP50], 51.0 / 101 / 3, kTolerance);
  EXPECT_NEAR(s.values[kAR100], 0.5, kTolerance);
}

TEST(CocoEval, UnmatchedDetectionsOutsideTheAreaRangeAreIgnored) {
  CocoDataset truth = one_image();
  truth.annotations = {box(1, {0, 0, 10, 10})};  // small
  // A large false positive ranked first: a miss for "all", ignored for "small".
  const std::vector<CocoObject> detections = {box(1, {50, 50, 120, 120}, 0.9), box(2, {0, 0, 10, 10}, 0.8)};
  const CocoStats s = coco_evaluate(truth, detections, IouType::kBox);
  EXPECT_NEAR(s.values[kAP], 0.5, kTolerance);
  EXPECT_NEAR(s.values[kAPs], 1.0, kTolerance);
}

TEST(CocoEval, TiedScoresKeepTheirOrderInTheResults) {
  CocoDataset truth = one_image();
  truth.annotations = {box(1, {0, 0, 40, 40})};
  const CocoObject miss = box(1, {150, 150, 20, 20}, 0.5), hit = box(2, {0, 0, 40, 40}, 0.5);
  // The miss first: precision 0 then 1/2, so 1/2 everywhere; the hit first: 1 everywhere.
  EXPECT_NEAR(coco_evaluate(truth, {miss, hit}, IouType::kBox).values[kAP], 0.5, kTolerance);
  EXPECT_NEAR(coco_evaluate(truth, {hit, miss}, IouType::kBox).values[kAP], 1.0, kTolerance);
}

TEST(CocoEval, MaskIouCountsPixelsAndCrowdsDivideByTheDetection) {
  CocoDataset truth = one_image(20, 20);
  at::Tensor a = at::zeros({20, 20}, at::kByte);
  a.narrow(0, 0, 10).narrow(1, 0, 10).fill_(1);  // 100 pixels
  at::Tensor b = at::zeros({20, 20}, at::kByte);
  b.narrow(0, 0, 8).narrow(1, 0, 9).fill_(1);  // 72 pixels inside a: IoU 0.72
  CocoObject g = box(1, {0, 0, 10, 10});
  g.mask = rle_encode(a);
  truth.annotations = {g};
  CocoObject d = box(1, {0, 0, 9, 8}, 0.9);
  d.mask = rle_encode(b);
  // IoU 0.72: matched at 0.50 ... 0.70 (5 of 10 thresholds).
  EXPECT_NEAR(coco_evaluate(truth, {d}, IouType::kMask).values[kAP], 0.5, kTolerance);
  EXPECT_NEAR(rle_iou(*d.mask, *g.mask, /*crowd=*/false), 0.72, kTolerance);
  EXPECT_EQ(rle_iou(*d.mask, *g.mask, /*crowd=*/true), 1.0) << "all of the detection inside the crowd";
  EXPECT_NEAR(rle_iou(*g.mask, *d.mask, /*crowd=*/true), 0.72, kTolerance) << "72 of its 100 pixels";
}

TEST(CocoEval, PolygonsAreRasterizedAsPycocotools) {
  // The square (1, 1)-(3, 3) in a 5 x 5 image, traced by hand through rleFrPoly: the outline
  // crosses the centres' columns x = 1 and 2 at y = 1 (top) and y = 3 (bottom), so pixels
  // x 1..2, y 1..2; column-major runs 6, 2, 3, 2, 12.
  const Rle square = rle_from_polygon({1, 1, 3, 1, 3, 3, 1, 3}, 5, 5);
  EXPECT_EQ(square.counts, (std::vector<uint32_t>{6, 2, 3, 2, 12}));
  EXPECT_EQ(rle_area(square), 4);
  // The same square traced the other way round.
  EXPECT_EQ(rle_from_polygon({1, 1, 1, 3, 3, 3, 3, 1}, 5, 5).counts, square.counts);
  // Two polygons of one object are merged.
  const Rle both = rle_union({square, rle_from_polygon({3, 3, 5, 3, 5, 5, 3, 5}, 5, 5)});
  EXPECT_EQ(rle_area(both), 8);
}

}  // namespace
}  // namespace segkit
