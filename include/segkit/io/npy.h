#pragma once

#include <ATen/Tensor.h>

#include <string>

namespace segkit {

/// Writes a tensor as NumPy .npy (version 1.0, C order, little-endian), atomically.
void write_npy(const at::Tensor& tensor, const std::string& path);

/// Reads a .npy file written by NumPy or write_npy (C order, little-endian; float32/float64/int64/uint8).
at::Tensor read_npy(const std::string& path);

}  // namespace segkit
