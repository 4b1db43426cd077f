#include "segkit/eval/classification_metrics.h"

#include <ATen/ATen.h>

#include <cmath>
#include <iomanip>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

namespace segkit {
namespace {

int64_t top_k_of(int64_t classes) { return std::min<int64_t>(5, classes); }

std::string class_name(const std::vector<std::string>& names, size_t k) {
  return k < names.size() ? names[k] : std::to_string(k);
}

}  // namespace

ClassificationEvaluator::ClassificationEvaluator(int64_t num_classes)
    : num_classes_(num_classes), confusion_(at::zeros({num_classes, num_classes}, at::kLong)) {}

void ClassificationEvaluator::add(const at::Tensor& scores, const at::Tensor& labels) {
  TORCH_CHECK(
      scores.dim() == 2 && scores.size(1) == num_classes_ && labels.dim() == 1 && labels.size(0) == scores.size(0),
      "expected N x ", num_classes_, " scores and N labels, got ", scores.sizes(), " and ", labels.sizes());
  const at::Tensor truth = labels.to(at::kLong).cpu();
  TORCH_CHECK(truth.numel() == 0 || (truth.min().item<int64_t>() >= 0 && truth.max().item<int64_t>() < num_classes_),
              "a label is outside 0..", num_classes_ - 1);
  const at::Tensor s = scores.to(at::kCPU, at::kFloat);
  const at::Tensor predicted = s.argmax(1);
  confusion_ += at::bincount(truth * num_classes_ + predicted, {}, num_classes_ * num_classes_)
                    .view({num_classes_, num_classes_});
  const at::Tensor top = std::get<1>(s.topk(top_k_of(num_classes_), 1));
  top_k_correct_ += top.eq(truth.unsqueeze(1)).any(1).sum().item<int64_t>();
  images_ += truth.size(0);
}

ClassificationReport ClassificationEvaluator::report() const {
  ClassificationReport r;
  r.images = images_;
  r.top_k = top_k_of(num_classes_);
  r.confusion = confusion_.clone();
  const at::Tensor m = confusion_.to(at::kDouble);
  const double total = m.sum().item<double>();
  r.top1 = total > 0 ? m.diagonal().sum().item<double>() / total : 0.0;
  r.top5 = images_ > 0 ? static_cast<double>(top_k_correct_) / static_cast<double>(images_) : 0.0;
  double sum = 0;
  int64_t counted = 0;
  for (int64_t k = 0; k < num_classes_; ++k) {
    const double n = m[k].sum().item<double>();
    r.class_accuracy.push_back(n > 0 ? m[k][k].item<double>() / n : std::numeric_limits<double>::quiet_NaN());
    if (n > 0) {
      sum += r.class_accuracy.back();
      ++counted;
    }
  }
  r.mean_class_accuracy = counted ? sum / counted : 0.0;
  return r;
}

std::map<std::string, double> ClassificationReport::metrics() const {
  std::map<std::string, double> m{{"top1", top1}, {"top5", top5}, {"mean_class_accuracy", mean_class_accuracy}};
  if (cross_entropy) m["loss"] = *cross_entropy;
  return m;
}

std::string ClassificationReport::to_json(const std::vector<std::string>& names) const {
  nlohmann::json j;
  j["images"] = images;
  j["top1"] = top1;
  j["top5"] = top5;
  j["top_k"] = top_k;
  j["mean_class_accuracy"] = mean_class_accuracy;
  if (cross_entropy) j["loss"] = *cross_entropy;
  nlohmann::json classes = nlohmann::json::array();
  for (size_t k = 0; k < class_accuracy.size(); ++k) {
    const double a = class_accuracy[k];
    classes.push_back({{"class", k},
                       {"name", class_name(names, k)},
                       {"accuracy", std::isnan(a) ? nlohmann::json() : nlohmann::json(a)}});
  }
  j["classes"] = classes;
  nlohmann::json rows = nlohmann::json::array();
  const at::Tensor c = confusion.contiguous();
  for (int64_t i = 0; i < c.size(0); ++i) {
    rows.push_back(std::vector<int64_t>(c[i].data_ptr<int64_t>(), c[i].data_ptr<int64_t>() + c.size(1)));
  }
  j["confusion_matrix"] = rows;
  return j.dump(2);
}

std::string ClassificationReport::to_table(const std::vector<std::string>& names) const {
  std::ostringstream out;
  out << std::fixed << std::setprecision(4);
  out << std::left << std::setw(24) << "class" << std::right << std::setw(10) << "images" << std::setw(10) << "accuracy"
      << "\n";
  for (size_t k = 0; k < class_accuracy.size(); ++k) {
    out << std::left << std::setw(24) << class_name(names, k) << std::right << std::setw(10)
        << confusion[static_cast<int64_t>(k)].sum().item<int64_t>();
    if (std::isnan(class_accuracy[k]))
      out << std::setw(10) << "-";
    else
      out << std::setw(10) << class_accuracy[k];
    out << "\n";
  }
  out << "images " << images << "\n";
  out << "top-1 accuracy " << top1 << ", top-" << top_k << " accuracy " << top5 << ", mean class accuracy "
      << mean_class_accuracy << "\n";
  return out.str();
}

}  // namespace segkit
