#include "segkit/core/runtime.h"

#include <ATen/Parallel.h>
#include <malloc.h>
#include <sched.h>

#include <thread>

namespace segkit {

int available_cores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return CPU_COUNT(&set);
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

void configure_runtime(int threads) {
  // glibc would mmap each large activation and unmap it on free, paying page
  // faults again on every pass; keep freed memory in the heap instead.
  // 32 MiB is the largest mmap threshold glibc accepts on 64-bit systems.
  constexpr int kMmapThreshold = 32 << 20;
  constexpr int kTrimThreshold = 1 << 30;
  mallopt(M_MMAP_THRESHOLD, kMmapThreshold);
  mallopt(M_TRIM_THRESHOLD, kTrimThreshold);
  at::set_num_threads(threads > 0 ? threads : available_cores());
}

}  // namespace segkit
