#pragma once

#include <cstddef>

namespace segkit {

/// Sets up the process for fast repeated inference: `threads` intra-op threads
/// (0: all cores) and a malloc that keeps large buffers instead of returning
/// them to the OS after every forward pass.
void configure_runtime(int threads);

/// The number of cores this process may run on.
int available_cores();

/// For a thread working beside the network (a pipeline's loader or writer, or one of several
/// network streams): LibTorch's operations called from it run on `threads` threads (1: on it
/// alone), instead of starting a team of OpenMP threads as large as the network's that would
/// compete with it for the cores. Other threads are unchanged (OpenMP's count is per thread).
void set_threads_here(int threads);
/// The threads LibTorch's operations called from this thread run on.
int threads_here();
/// The threads of part `part` (from 0) of `parts` sharing `threads`: threads / parts, the
/// remainder one each to the first parts, at least 1.
int thread_share(int threads, size_t parts, size_t part);

/// How many batches a command running a CPU network over many files passes through it at once
/// (streams, as inference servers call them), each on its share of this thread's threads:
/// `requested` where positive, else 2; never more than the threads (run_batch_pipeline runs no
/// more than there are batches). One stream on 2 cores runs a network that keeps
/// both busy, and the decoding, resizing and encoding beside it stall it at every OpenMP
/// barrier; two streams of one thread each have no barriers, and overlap those stages with
/// each other's network (bench/RESULTS.md: 1.24-1.49x the images per second on the mobile
/// segmentation models).
/// Each stream holds its own activations: 1 for the least memory.
int inference_streams(int requested);

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
