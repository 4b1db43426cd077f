#pragma once

namespace segkit {

/// Sets up the process for fast repeated inference: `threads` intra-op threads
/// (0: all cores) and a malloc that keeps large buffers instead of returning
/// them to the OS after every forward pass.
void configure_runtime(int threads);

/// The number of cores this process may run on.
int available_cores();

/// For a thread working beside the network (a pipeline's loader or writer): LibTorch's
/// operations called from it run on it alone, instead of starting a team of OpenMP threads of
/// their own that would compete with the network's for the cores. The network's threads are
/// unchanged (OpenMP's thread count is per thread).
void single_threaded_here();

/// This process's resident memory now, and at its peak since the start or the last
/// reset_peak_resident_memory(), in KiB (Linux's VmRSS and VmHWM; -1 where unknown).
long resident_memory_kib();
long peak_resident_memory_kib();
/// Starts a new peak at the current resident memory (Linux 4.0 and later).
void reset_peak_resident_memory();

/// Whether this CPU computes bfloat16 natively (x86's AVX512-BF16 or AMX-BF16); oneDNN emulates
/// it elsewhere, more slowly than float32.
bool cpu_has_native_bf16();
/// Whether this CPU has int8 dot products (x86's AVX512-VNNI or AVX-VNNI), which oneDNN's int8
/// kernels need to beat float32.
bool cpu_has_vnni();

}  // namespace segkit
