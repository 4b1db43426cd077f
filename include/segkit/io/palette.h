#pragma once

// Class colours for overlays, legends and reports: num_classes x 4 uint8 RGBA, where an
// alpha of 0 leaves that class's pixels bare (VOC's "background").

#include <ATen/Tensor.h>

#include <string>
#include <vector>

namespace segkit {

/// The PASCAL VOC colour palette: class k's RGB colour, for any k (k x 3 uint8).
at::Tensor voc_palette(int64_t num_classes);

/// A named palette for `num_classes` classes: "voc" (class 0, background, left bare),
/// "camvid" (the SegNet tutorial's 11 classes and Unlabelled), "cityscapes" (the 19
/// training classes) or "distinct" (VOC's colours from its class 1 on: every class coloured).
/// Classes past a named palette's end get distinct colours. Throws InputError for other names.
at::Tensor named_palette(const std::string& name, int64_t num_classes);

/// The names named_palette knows, for error messages and help.
const std::vector<std::string>& palette_names();

/// `spec` is a palette name or a file of one colour per line: "R G B", "#RRGGBB" or "none"
/// (left bare); text after the colour (a class name) is ignored. Fewer lines than classes is
/// an error naming the file.
at::Tensor load_palette(const std::string& spec, int64_t num_classes);

/// The class names of a known dataset ("voc", "camvid", "cityscapes", "coco": torchvision's 91
/// detection classes, background and unused ids included); empty for other names.
std::vector<std::string> dataset_class_names(const std::string& name);

}  // namespace segkit
