#pragma once

namespace segkit {

/// Sets up the process for fast repeated inference: `threads` intra-op threads
/// (0: all cores) and a malloc that keeps large buffers instead of returning
/// them to the OS after every forward pass.
void configure_runtime(int threads);

/// The number of cores this process may run on.
int available_cores();

}  // namespace segkit
