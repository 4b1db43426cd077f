#include "segkit/core/runtime.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <malloc.h>
#include <sched.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

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
  // One heap for all threads: each thread's own arena (glibc's default) keeps what it freed
  // for itself, so two streams held twice the memory, and an arena's extra 64 MiB heaps are
  // unmapped whenever they empty, paying the page faults again on the next image.
  mallopt(M_ARENA_MAX, 1);
  at::set_num_threads(threads > 0 ? threads : available_cores());
}

void set_threads_here(int threads) {
  // at::set_num_threads would also change the count every thread yet to start takes. The
  // OpenMP runtime LibTorch loaded sets this thread's alone; looked up at run time, as segkit
  // does not link OpenMP itself (and a LibTorch without OpenMP has none: nothing to do).
  at::internal::lazy_init_num_threads();  // LibTorch's first-use setup would undo it otherwise
  using SetThreads = void (*)(int);
  static const auto set_threads = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
  if (set_threads) set_threads(std::max(1, threads));
}

int threads_here() { return at::get_num_threads(); }

int thread_share(int threads, size_t parts, size_t part) {
  const size_t all = static_cast<size_t>(std::max(1, threads)), n = std::max<size_t>(1, parts);
  return static_cast<int>(std::max<size_t>(1, all / n + (part < all % n ? 1 : 0)));
}

int inference_streams(int requested) { return std::min(requested > 0 ? requested : 2, std::max(1, threads_here())); }

namespace {

// A field of /proc/self/status, in KiB.
long status_kib(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string key;
  long value = -1;
  while (in >> key) {
    if (key == field + ":") {
      in >> value;
      return value;
    }
    in.ignore(1 << 12, '\n');
  }
  return -1;
}

}  // namespace

long resident_memory_kib() { return status_kib("VmRSS"); }
long peak_resident_memory_kib() { return status_kib("VmHWM"); }
void reset_peak_resident_memory() { std::ofstream("/proc/self/clear_refs") << "5"; }

namespace {

// Bit `bit` of register `reg` (0 EAX, 1 EBX, 2 ECX, 3 EDX) of CPUID leaf 7, sub-leaf `subleaf`.
bool cpuid_leaf7_bit(unsigned subleaf, int reg, int bit) {
#if defined(__x86_64__) || defined(__i386__)
  unsigned r[4] = {0, 0, 0, 0};
  if (__get_cpuid_max(0, nullptr) < 7) return false;
  __cpuid_count(7, subleaf, r[0], r[1], r[2], r[3]);
  return (r[reg] >> bit) & 1U;
#else
  (void)subleaf, (void)reg, (void)bit;
  return false;
#endif
}

}  // namespace

bool cpu_has_native_bf16() {
  return cpuid_leaf7_bit(1, 0, 5) || cpuid_leaf7_bit(0, 3, 22);  // AVX512-BF16, AMX-BF16
}

bool cpu_has_vnni() {
  return cpuid_leaf7_bit(0, 2, 11) || cpuid_leaf7_bit(1, 0, 4);  // AVX512-VNNI, AVX-VNNI
}

}  // namespace segkit
