#include "segkit/train/training_task.h"

namespace segkit {

std::mt19937_64 make_rng(uint64_t seed, int64_t a, int64_t b, int64_t c) {
  std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32), static_cast<uint32_t>(a),
                    static_cast<uint32_t>(b), static_cast<uint32_t>(c)};
  return std::mt19937_64(seq);
}

bool lower_is_better(const std::string& metric) {
  static const std::string kSuffix = "error";
  return metric.size() >= kSuffix.size() &&
         metric.compare(metric.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0;
}

}  // namespace segkit
