#pragma once

// The class map of logits, and of logits resized to an image: the argmax over channels of their bilinear
// resize (align_corners false, as at::upsample_bilinear2d and torchvision's segmentation
// models), computed pixel by pixel without the resized C x H x W logits: for 21 classes and a
// 720 x 960 image those are 58 MB that LibTorch writes and then reads back for the argmax.

#include <ATen/core/Tensor.h>

namespace segkit {

/// C x h x w float logits (any layout, any floating type) to an H x W int64 map of the channel
/// with the largest resized value (the first of equal ones, NaN above all, as at::argmax).
/// The interpolation weights and the sum are at::upsample_bilinear2d's; values within a
/// rounding of each other may still order differently than LibTorch's vectorized kernel.
at::Tensor resized_argmax(const at::Tensor& logits, int64_t height, int64_t width);

/// The same for logits resized twice, to mid_height x mid_width and then to height x width, as a
/// model's last resize to its input and the resize of that to the image: argmax(resize(resize(
/// logits))) without either resized tensor. Each output value is the same sum over at most 4 x 4
/// source pixels for every class, with the two resizes' weights multiplied through; where one
/// class wins at all of them by more than rounding could undo, it is the answer without the sum
/// (most of a segmentation map: only the pixels near a boundary between classes are summed).
at::Tensor resized_argmax(const at::Tensor& logits, int64_t mid_height, int64_t mid_width, int64_t height,
                          int64_t width);

/// C x H x W logits (any strides, any floating type) to the H x W int64 map of the channel with
/// the largest value, exactly as at::argmax(0) (the first of equal ones, NaN above all), in one
/// pass over the pixels: LibTorch 1.13's argmax over a leading dimension takes half a second for
/// 2 x 448 x 8192 floats, 500 times a comparison of the two planes.
at::Tensor channel_argmax(const at::Tensor& logits);

}  // namespace segkit
