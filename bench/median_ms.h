#pragma once

// What the C++ benchmarks here share: the median wall time of a call.

#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

namespace segkit::bench {

/// The median milliseconds of `runs` calls, after `warmup` untimed ones (kernels built, caches warm).
inline double median_ms(int runs, const std::function<void()>& call, int warmup = 1) {
  for (int i = 0; i < warmup; ++i) call();
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    const auto start = std::chrono::steady_clock::now();
    call();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace segkit::bench
