#include "segkit/eval/metrics.h"

#include <ATen/ATen.h>

#include <cmath>
#include <iomanip>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "segkit/io/label_image.h"

namespace segkit {

ConfusionMatrix::ConfusionMatrix(int64_t num_classes)
    : num_classes_(num_classes), matrix_(at::zeros({num_classes, num_classes}, at::kLong)) {}

void ConfusionMatrix::add(const at::Tensor& prediction, const at::Tensor& truth, int64_t ignore_index) {
  TORCH_CHECK(prediction.sizes() == truth.sizes(), "prediction ", prediction.sizes(), " and truth ", truth.sizes(),
              " differ in size");
  const at::Tensor t = truth.flatten().to(at::kLong);
  const at::Tensor p = prediction.flatten().to(at::kLong);
  const at::Tensor keep = t.ne(ignore_index);
  const at::Tensor tk = t.masked_select(keep), pk = p.masked_select(keep);
  TORCH_CHECK(tk.numel() == 0 || (tk.min().item<int64_t>() >= 0 && tk.max().item<int64_t>() < num_classes_),
              "truth holds a value outside 0..", num_classes_ - 1);
  TORCH_CHECK(pk.numel() == 0 || (pk.min().item<int64_t>() >= 0 && pk.max().item<int64_t>() < num_classes_),
              "prediction holds a value outside 0..", num_classes_ - 1);
  matrix_ += at::bincount(tk * num_classes_ + pk, {}, num_classes_ * num_classes_).view({num_classes_, num_classes_});
}

double adapted_rand_error(const at::Tensor& segmentation, const at::Tensor& truth_labels) {
  const at::Tensor a = truth_labels.flatten().to(at::kLong);
  const at::Tensor b = segmentation.flatten().to(at::kLong);
  const at::Tensor fg = a.gt(0);
  const at::Tensor af = a.masked_select(fg), bf = b.masked_select(fg);
  const int64_t n = a.numel();
  if (af.numel() == 0) return 0.0;
  const int64_t nb = b.max().item<int64_t>() + 1;
  // Contingency counts p_ij over the truth's foreground: i a truth object, j a segment (0 = boundary).
  const at::Tensor joint = at::bincount(af * nb + bf).to(at::kDouble);
  const at::Tensor j_index = at::arange(joint.numel(), at::kLong).remainder(nb);
  const at::Tensor in_segment = j_index.gt(0);
  const double c = joint.masked_select(j_index.eq(0)).sum().item<double>();  // truth fg on predicted boundary
  const at::Tensor b_joint = joint.masked_select(in_segment);
  const double sum_ab = b_joint.pow(2).sum().item<double>() + c / n;
  const double sum_a = at::bincount(af).to(at::kDouble).pow(2).sum().item<double>();
  const at::Tensor bj = at::bincount(bf.masked_select(bf.gt(0)), {}, nb).to(at::kDouble);
  const double sum_b = bj.pow(2).sum().item<double>() + c / n;
  const double precision = sum_ab / sum_b, recall = sum_ab / sum_a;
  if (precision + recall == 0) return 1.0;
  return 1.0 - 2.0 * precision * recall / (precision + recall);
}

double skimage_adapted_rand_error(const at::Tensor& segmentation, const at::Tensor& truth_labels) {
  const at::Tensor a = truth_labels.flatten().to(at::kLong);
  const at::Tensor b = segmentation.flatten().to(at::kLong);
  const at::Tensor fg = a.ne(0);
  const at::Tensor af = a.masked_select(fg), bf = b.masked_select(fg);
  if (af.numel() == 0) return 0.0;
  const int64_t nb = b.max().item<int64_t>() + 1;
  // Pairs of pixels that share a label: sum of squared counts minus the pixel count.
  const double n = static_cast<double>(af.numel());
  const double pairs_joint = at::bincount(af * nb + bf).to(at::kDouble).pow(2).sum().item<double>() - n;
  const double pairs_true = at::bincount(af).to(at::kDouble).pow(2).sum().item<double>() - n;
  const double pairs_test = at::bincount(bf).to(at::kDouble).pow(2).sum().item<double>() - n;
  constexpr double kAlpha = 0.5;
  return 1.0 - pairs_joint / (kAlpha * pairs_true + (1 - kAlpha) * pairs_test);
}

RandErrors rand_errors(const at::Tensor& prediction, const at::Tensor& truth) {
  const at::Tensor predicted = connected_components(prediction.eq(1));
  const at::Tensor actual = connected_components(truth.eq(1));
  return {adapted_rand_error(predicted, actual), skimage_adapted_rand_error(predicted, actual)};
}

Evaluator::Evaluator(int64_t num_classes, int64_t ignore_index, bool membrane_measures)
    : confusion_(num_classes), ignore_index_(ignore_index), membrane_(membrane_measures && num_classes == 2) {}

void Evaluator::add(const at::Tensor& prediction, const at::Tensor& truth) {
  confusion_.add(prediction, truth, ignore_index_);
  if (membrane_) {
    const RandErrors e = rand_errors(prediction, truth);
    rand_sums_.challenge += e.challenge;
    rand_sums_.skimage += e.skimage;
  }
  ++images_;
}

EvalReport Evaluator::report() const {
  EvalReport r;
  r.images = images_;
  r.confusion = confusion_.matrix().clone();
  const at::Tensor m = r.confusion.to(at::kDouble);
  const at::Tensor tp = m.diagonal();
  const at::Tensor truth = m.sum(1), predicted = m.sum(0);
  const double total = m.sum().item<double>();
  r.pixels = static_cast<int64_t>(total);
  r.pixel_accuracy = total > 0 ? tp.sum().item<double>() / total : 0.0;
  double iou_sum = 0, dice_sum = 0, accuracy_sum = 0;
  int64_t counted = 0, present = 0;
  for (int64_t k = 0; k < confusion_.num_classes(); ++k) {
    const double t = truth[k].item<double>(), p = predicted[k].item<double>(), i = tp[k].item<double>();
    const double nan = std::numeric_limits<double>::quiet_NaN();
    r.iou.push_back(t + p > 0 ? i / (t + p - i) : nan);
    r.dice.push_back(t + p > 0 ? 2 * i / (t + p) : nan);
    r.class_accuracy.push_back(t > 0 ? i / t : nan);
    if (t > 0) {
      accuracy_sum += i / t;
      ++present;
    }
    if (t + p > 0) {
      iou_sum += r.iou.back();
      dice_sum += r.dice.back();
      ++counted;
    }
  }
  r.mean_iou = counted ? iou_sum / counted : 0.0;
  r.mean_dice = counted ? dice_sum / counted : 0.0;
  r.mean_class_accuracy = present ? accuracy_sum / present : 0.0;
  if (membrane_) {
    r.pixel_error = 1.0 - r.pixel_accuracy;
    r.rand_error = images_ ? rand_sums_.challenge / images_ : 0.0;
    r.rand_error_skimage = images_ ? rand_sums_.skimage / images_ : 0.0;
  }
  return r;
}

namespace {

nlohmann::json numbers(const std::vector<double>& values) {
  nlohmann::json list = nlohmann::json::array();
  for (double v : values) list.push_back(std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v));
  return list;
}

}  // namespace

std::map<std::string, double> EvalReport::metrics() const {
  std::map<std::string, double> m{{"miou", mean_iou},
                                  {"mean_dice", mean_dice},
                                  {"pixel_accuracy", pixel_accuracy},
                                  {"mean_class_accuracy", mean_class_accuracy},
                                  {"pixel_error", pixel_error.value_or(1.0 - pixel_accuracy)}};
  if (rand_error) m["rand_error"] = *rand_error;
  if (rand_error_skimage) m["rand_error_skimage"] = *rand_error_skimage;
  if (cross_entropy) m["loss"] = *cross_entropy;
  return m;
}

std::string EvalReport::to_json() const {
  nlohmann::json j;
  j["images"] = images;
  j["pixels"] = pixels;
  j["pixel_accuracy"] = pixel_accuracy;
  j["mean_iou"] = mean_iou;
  j["mean_dice"] = mean_dice;
  j["mean_class_accuracy"] = mean_class_accuracy;
  if (cross_entropy) j["loss"] = *cross_entropy;
  j["iou"] = numbers(iou);
  j["dice"] = numbers(dice);
  j["class_accuracy"] = numbers(class_accuracy);
  if (pixel_error) j["pixel_error"] = *pixel_error;
  if (rand_error) j["rand_error"] = *rand_error;
  if (rand_error_skimage) j["rand_error_skimage"] = *rand_error_skimage;
  nlohmann::json rows = nlohmann::json::array();
  const at::Tensor c = confusion.contiguous();
  for (int64_t i = 0; i < c.size(0); ++i) {
    std::vector<int64_t> row(c[i].data_ptr<int64_t>(), c[i].data_ptr<int64_t>() + c.size(1));
    rows.push_back(row);
  }
  j["confusion_matrix"] = rows;
  return j.dump(2);
}

std::string EvalReport::to_table(const std::vector<std::string>& class_names) const {
  std::ostringstream out;
  out << std::fixed << std::setprecision(4);
  out << std::left << std::setw(16) << "class" << std::right << std::setw(10) << "IoU" << std::setw(10) << "Dice"
      << std::setw(10) << "accuracy"
      << "\n";
  for (size_t k = 0; k < iou.size(); ++k) {
    const std::string name = k < class_names.size() ? class_names[k] : std::to_string(k);
    out << std::left << std::setw(16) << name << std::right;
    for (double v : {iou[k], dice[k], class_accuracy[k]}) {
      if (std::isnan(v))
        out << std::setw(10) << "-";
      else
        out << std::setw(10) << v;
    }
    out << "\n";
  }
  out << "images " << images << ", pixels " << pixels << "\n";
  out << "pixel accuracy " << pixel_accuracy << ", class-average accuracy " << mean_class_accuracy << ", mean IoU "
      << mean_iou << ", mean Dice " << mean_dice << "\n";
  if (pixel_error) {
    out << "pixel error " << *pixel_error << ", Rand error " << *rand_error
        << " (ISBI challenge definition; scikit-image's adapted_rand_error: " << *rand_error_skimage << ")\n";
  }
  return out.str();
}

}  // namespace segkit
