#include "segkit/eval/coco_eval.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>

namespace segkit {
namespace {

// numpy.linspace(start, stop, num): i * step + start, the last value exactly `stop`.
std::vector<double> linspace(double start, double stop, int num) {
  std::vector<double> values(static_cast<size_t>(num));
  const double step = (stop - start) / (num - 1);
  for (int i = 0; i < num; ++i) values[static_cast<size_t>(i)] = i * step + start;
  values.back() = stop;
  return values;
}

const std::vector<double> kIouThresholds = linspace(0.5, 0.95, 10);
const std::vector<double> kRecallThresholds = linspace(0.0, 1.0, 101);
const std::vector<std::array<double, 2>> kAreaRanges = {
    {0, 1e10}, {0, 32.0 * 32}, {32.0 * 32, 96.0 * 96}, {96.0 * 96, 1e10}};
const std::vector<size_t> kMaxDets = {1, 10, 100};
constexpr double kSpacing1 = std::numeric_limits<double>::epsilon();  // numpy.spacing(1)

// Indices that sort `scores` highest first, ties in their order (numpy's mergesort of -score).
std::vector<size_t> by_score(const std::vector<const CocoObject*>& objects) {
  std::vector<size_t> order(objects.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return -objects[a]->score < -objects[b]->score; });
  return order;
}

// What evaluateImg returns for one image, category and area range.
struct ImageEval {
  std::vector<double> scores;                 // detections, best first, at most 100
  std::vector<std::vector<int64_t>> matches;  // [threshold][detection]: the matched truth's id, 0 none
  std::vector<std::vector<bool>> dt_ignore;   // [threshold][detection]
  std::vector<bool> gt_ignore;                // per truth
};

class Evaluation {
 public:
  Evaluation(const CocoDataset& truth, const std::vector<CocoObject>& detections, IouType type) : type_(type) {
    for (const CocoImage& image : truth.images) image_ids_.push_back(image.id);
    std::sort(image_ids_.begin(), image_ids_.end());
    image_ids_.erase(std::unique(image_ids_.begin(), image_ids_.end()), image_ids_.end());
    for (const auto& [id, name] : truth.categories) category_ids_.push_back(id);
    for (const CocoObject& g : truth.annotations) gts_[{g.image_id, g.category_id}].push_back(&g);
    for (const CocoObject& d : detections) dts_[{d.image_id, d.category_id}].push_back(&d);
  }

  CocoStats run() {
    const size_t T = kIouThresholds.size(), R = kRecallThresholds.size(), K = category_ids_.size();
    const size_t A = kAreaRanges.size(), M = kMaxDets.size();
    // precision[t][r][k][a][m] and recall[t][k][a][m], -1 where absent.
    precision_.assign(T * R * K * A * M, -1.0);
    recall_.assign(T * K * A * M, -1.0);
    for (size_t k = 0; k < K; ++k) {
      std::map<int64_t, std::vector<std::vector<double>>> ious;
      for (int64_t image : image_ids_) ious[image] = compute_iou(image, category_ids_[k]);
      for (size_t a = 0; a < A; ++a) {
        std::vector<ImageEval> evals;
        for (int64_t image : image_ids_) {
          std::optional<ImageEval> e = evaluate_image(image, category_ids_[k], kAreaRanges[a], ious[image]);
          if (e) evals.push_back(std::move(*e));
        }
        for (size_t m = 0; m < M; ++m) accumulate(evals, k, a, m);
      }
    }
    return summarize();
  }

 private:
  using Key = std::pair<int64_t, int64_t>;

  const std::vector<const CocoObject*>& gts(int64_t image, int64_t category) const {
    return find(gts_, image, category);
  }
  const std::vector<const CocoObject*>& dts(int64_t image, int64_t category) const {
    return find(dts_, image, category);
  }
  static const std::vector<const CocoObject*>& find(const std::map<Key, std::vector<const CocoObject*>>& map,
                                                    int64_t image, int64_t category) {
    static const std::vector<const CocoObject*> kNone;
    const auto found = map.find({image, category});
    return found == map.end() ? kNone : found->second;
  }

  // computeIoU: [detection, best first, at most 100][truth, in file order].
  std::vector<std::vector<double>> compute_iou(int64_t image, int64_t category) const {
    const auto& gt = gts(image, category);
    const auto& dt = dts(image, category);
    std::vector<std::vector<double>> ious;
    if (gt.empty() || dt.empty()) return ious;
    std::vector<size_t> order = by_score(dt);
    if (order.size() > kMaxDets.back()) order.resize(kMaxDets.back());
    for (size_t i : order) {
      std::vector<double> row;
      for (const CocoObject* g : gt) {
        if (type_ == IouType::kBox) {
          row.push_back(box_iou_xywh(dt[i]->bbox, g->bbox, g->iscrowd));
        } else {
          row.push_back(rle_iou(*dt[i]->mask, *g->mask, g->iscrowd));
        }
      }
      ious.push_back(std::move(row));
    }
    return ious;
  }

  // evaluateImg, at the largest maxDets.
  std::optional<ImageEval> evaluate_image(int64_t image, int64_t category, const std::array<double, 2>& range,
                                          const std::vector<std::vector<double>>& ious) const {
    const auto& all_gt = gts(image, category);
    const auto& all_dt = dts(image, category);
    if (all_gt.empty() && all_dt.empty()) return std::nullopt;
    // Truths to ignore (crowds, or outside the area range) go last, each group in file order.
    std::vector<int> ignore_flags;
    for (const CocoObject* g : all_gt) ignore_flags.push_back(g->iscrowd || g->area < range[0] || g->area > range[1]);
    std::vector<size_t> gt_order(all_gt.size());
    std::iota(gt_order.begin(), gt_order.end(), 0);
    std::stable_sort(gt_order.begin(), gt_order.end(),
                     [&](size_t a, size_t b) { return ignore_flags[a] < ignore_flags[b]; });
    std::vector<size_t> dt_order = by_score(all_dt);
    if (dt_order.size() > kMaxDets.back()) dt_order.resize(kMaxDets.back());
    const size_t T = kIouThresholds.size(), G = gt_order.size(), D = dt_order.size();

    ImageEval e;
    e.matches.assign(T, std::vector<int64_t>(D, 0));
    e.dt_ignore.assign(T, std::vector<bool>(D, false));
    for (size_t g = 0; g < G; ++g) e.gt_ignore.push_back(ignore_flags[gt_order[g]] != 0);
    for (size_t d = 0; d < D; ++d) e.scores.push_back(all_dt[dt_order[d]]->score);
    std::vector<std::vector<int64_t>> gt_matches(T, std::vector<int64_t>(G, 0));
    if (!ious.empty()) {
      for (size_t t = 0; t < T; ++t) {
        for (size_t d = 0; d < D; ++d) {
          double best = std::min(kIouThresholds[t], 1 - 1e-10);
          std::optional<size_t> m;
          for (size_t g = 0; g < G; ++g) {
            const CocoObject& truth = *all_gt[gt_order[g]];
            if (gt_matches[t][g] > 0 && !truth.iscrowd) continue;  // taken, and not a crowd
            if (m && !e.gt_ignore[*m] && e.gt_ignore[g]) break;    // a real match beats the ignored ones
            const double iou = ious[d][gt_order[g]];
            if (iou < best) continue;
            best = iou;
            m = g;
          }
          if (!m) continue;
          e.dt_ignore[t][d] = e.gt_ignore[*m];
          e.matches[t][d] = all_gt[gt_order[*m]]->id;
          gt_matches[t][*m] = all_dt[dt_order[d]]->id;
        }
      }
    }
    // Unmatched detections outside the area range are ignored.
    for (size_t d = 0; d < D; ++d) {
      const double area = all_dt[dt_order[d]]->area;
      if (area < range[0] || area > range[1]) {
        for (size_t t = 0; t < T; ++t) e.dt_ignore[t][d] = e.dt_ignore[t][d] || e.matches[t][d] == 0;
      }
    }
    return e;
  }

  void accumulate(const std::vector<ImageEval>& evals, size_t k, size_t a, size_t m) {
    if (evals.empty()) return;
    const size_t max_det = kMaxDets[m];
    const size_t T = kIouThresholds.size(), R = kRecallThresholds.size(), K = category_ids_.size();
    const size_t A = kAreaRanges.size(), M = kMaxDets.size();
    std::vector<double> scores;
    std::vector<std::pair<size_t, size_t>> source;  // (image eval, detection)
    int64_t npig = 0;
    for (size_t i = 0; i < evals.size(); ++i) {
      for (size_t d = 0; d < std::min(max_det, evals[i].scores.size()); ++d) {
        scores.push_back(evals[i].scores[d]);
        source.emplace_back(i, d);
      }
      for (bool ignored : evals[i].gt_ignore) npig += !ignored;
    }
    if (npig == 0) return;
    std::vector<size_t> order(scores.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) { return -scores[x] < -scores[y]; });
    const size_t nd = order.size();
    for (size_t t = 0; t < T; ++t) {
      std::vector<double> rc(nd), pr(nd);
      double tp = 0, fp = 0;
      for (size_t j = 0; j < nd; ++j) {
        const auto [i, d] = source[order[j]];
        const bool ignored = evals[i].dt_ignore[t][d];
        const bool matched = evals[i].matches[t][d] != 0;
        tp += matched && !ignored;
        fp += !matched && !ignored;
        rc[j] = tp / static_cast<double>(npig);
        pr[j] = tp / (fp + tp + kSpacing1);
      }
      recall_[((t * K + k) * A + a) * M + m] = nd ? rc.back() : 0;
      for (size_t j = nd - (nd > 0); j > 0; --j) pr[j - 1] = std::max(pr[j - 1], pr[j]);
      for (size_t r = 0; r < R; ++r) {
        // numpy.searchsorted(rc, threshold, side="left"); past the end, the rest stay 0.
        const size_t pi =
            static_cast<size_t>(std::lower_bound(rc.begin(), rc.end(), kRecallThresholds[r]) - rc.begin());
        double q = 0;
        if (pi < nd) {
          q = pr[pi];
        } else {
          for (size_t rest = r; rest < R; ++rest) precision_[(((t * R + rest) * K + k) * A + a) * M + m] = 0;
          break;
        }
        precision_[(((t * R + r) * K + k) * A + a) * M + m] = q;
      }
    }
  }

  // summarize's mean over the entries above -1 of a slice.
  double mean_of(bool ap, std::optional<double> iou, size_t a, size_t max_det) const {
    const size_t T = kIouThresholds.size(), R = kRecallThresholds.size(), K = category_ids_.size();
    const size_t A = kAreaRanges.size(), M = kMaxDets.size();
    const size_t m = static_cast<size_t>(std::find(kMaxDets.begin(), kMaxDets.end(), max_det) - kMaxDets.begin());
    std::vector<double> values;
    // In numpy's order: precision [T, R, K], recall [T, K].
    for (size_t t = 0; t < T; ++t) {
      if (iou && kIouThresholds[t] != *iou) continue;
      for (size_t r = 0; r < (ap ? R : 1); ++r) {
        for (size_t k = 0; k < K; ++k) {
          values.push_back(ap ? precision_[(((t * R + r) * K + k) * A + a) * M + m]
                              : recall_[((t * K + k) * A + a) * M + m]);
        }
      }
    }
    values.erase(std::remove_if(values.begin(), values.end(), [](double v) { return !(v > -1); }), values.end());
    if (values.empty()) return -1;
    return pairwise_sum(values.data(), values.size()) / static_cast<double>(values.size());
  }

  // numpy's pairwise summation (blocks of 8 partial sums below 128 values), so that means
  // agree with pycocotools' to the last bit.
  static double pairwise_sum(const double* a, size_t n) {
    if (n < 8) {
      double s = 0;
      for (size_t i = 0; i < n; ++i) s += a[i];
      return s;
    }
    if (n <= 128) {
      double r[8];
      for (size_t j = 0; j < 8; ++j) r[j] = a[j];
      size_t i = 8;
      for (; i < n - n % 8; i += 8) {
        for (size_t j = 0; j < 8; ++j) r[j] += a[i + j];
      }
      double s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
      for (; i < n; ++i) s += a[i];
      return s;
    }
    size_t half = n / 2;
    half -= half % 8;
    return pairwise_sum(a, half) + pairwise_sum(a + half, n - half);
  }

  CocoStats summarize() const {
    CocoStats s;
    s.values = {mean_of(true, std::nullopt, 0, 100),  mean_of(true, 0.5, 0, 100),
                mean_of(true, 0.75, 0, 100),          mean_of(true, std::nullopt, 1, 100),
                mean_of(true, std::nullopt, 2, 100),  mean_of(true, std::nullopt, 3, 100),
                mean_of(false, std::nullopt, 0, 1),   mean_of(false, std::nullopt, 0, 10),
                mean_of(false, std::nullopt, 0, 100), mean_of(false, std::nullopt, 1, 100),
                mean_of(false, std::nullopt, 2, 100), mean_of(false, std::nullopt, 3, 100)};
    return s;
  }

  IouType type_;
  std::vector<int64_t> image_ids_, category_ids_;
  std::map<Key, std::vector<const CocoObject*>> gts_, dts_;
  std::vector<double> precision_, recall_;
};

}  // namespace

const CocoImage* CocoDataset::image(int64_t id) const {
  for (const CocoImage& i : images) {
    if (i.id == id) return &i;
  }
  return nullptr;
}

bool CocoDataset::has_masks() const {
  return std::all_of(annotations.begin(), annotations.end(), [](const CocoObject& o) { return o.mask.has_value(); });
}

const std::array<const char*, 12>& CocoStats::names() {
  static const std::array<const char*, 12> kNames = {"AP",  "AP50", "AP75",  "APs", "APm", "APl",
                                                     "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"};
  return kNames;
}

CocoStats coco_evaluate(const CocoDataset& truth, const std::vector<CocoObject>& detections, IouType type) {
  return Evaluation(truth, detections, type).run();
}

}  // namespace segkit
