#include "segkit/io/palette.h"

#include <ATen/ATen.h>

#include <array>
#include <fstream>
#include <sstream>

#include "segkit/core/errors.h"

namespace segkit {
namespace {

using Rgb = std::array<uint8_t, 3>;

// The SegNet tutorial's CamVid colours, Sky to Bicyclist, then Unlabelled.
const std::vector<Rgb> kCamVid = {{128, 128, 128}, {128, 0, 0},   {192, 192, 128}, {128, 64, 128},
                                  {60, 40, 222},   {128, 128, 0}, {192, 128, 128}, {64, 64, 128},
                                  {64, 0, 128},    {64, 64, 0},   {0, 128, 192},   {0, 0, 0}};
const std::vector<std::string> kCamVidNames = {"Sky",        "Building", "Pole", "Road",       "Pavement", "Tree",
                                               "SignSymbol", "Fence",    "Car",  "Pedestrian", "Bicyclist"};
// Cityscapes' 19 training classes (trainId order), as its scripts colour them.
const std::vector<Rgb> kCityscapes = {{128, 64, 128},  {244, 35, 232}, {70, 70, 70},  {102, 102, 156}, {190, 153, 153},
                                      {153, 153, 153}, {250, 170, 30}, {220, 220, 0}, {107, 142, 35},  {152, 251, 152},
                                      {70, 130, 180},  {220, 20, 60},  {255, 0, 0},   {0, 0, 142},     {0, 0, 70},
                                      {0, 60, 100},    {0, 80, 100},   {0, 0, 230},   {119, 11, 32}};
const std::vector<std::string> kCityscapesNames = {
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign", "vegetation", "terrain",
    "sky",  "person",   "rider",    "car",  "truck", "bus",  "train",         "motorcycle",   "bicycle"};
const std::vector<std::string> kVocNames = {
    "background", "aeroplane", "bicycle",     "bird",  "boat",        "bottle", "bus",
    "car",        "cat",       "chair",       "cow",   "diningtable", "dog",    "horse",
    "motorbike",  "person",    "pottedplant", "sheep", "sofa",        "train",  "tvmonitor"};

// COCO's category ids 0..90 as torchvision's detection models number their classes: the
// background, the 80 named categories and "N/A" for the ids COCO left unused.
const std::vector<std::string> kCocoNames = {"__background__",
                                             "person",
                                             "bicycle",
                                             "car",
                                             "motorcycle",
                                             "airplane",
                                             "bus",
                                             "train",
                                             "truck",
                                             "boat",
                                             "traffic light",
                                             "fire hydrant",
                                             "N/A",
                                             "stop sign",
                                             "parking meter",
                                             "bench",
                                             "bird",
                                             "cat",
                                             "dog",
                                             "horse",
                                             "sheep",
                                             "cow",
                                             "elephant",
                                             "bear",
                                             "zebra",
                                             "giraffe",
                                             "N/A",
                                             "backpack",
                                             "umbrella",
                                             "N/A",
                                             "N/A",
                                             "handbag",
                                             "tie",
                                             "suitcase",
                                             "frisbee",
                                             "skis",
                                             "snowboard",
                                             "sports ball",
                                             "kite",
                                             "baseball bat",
                                             "baseball glove",
                                             "skateboard",
                                             "surfboard",
                                             "tennis racket",
                                             "bottle",
                                             "N/A",
                                             "wine glass",
                                             "cup",
                                             "fork",
                                             "knife",
                                             "spoon",
                                             "bowl",
                                             "banana",
                                             "apple",
                                             "sandwich",
                                             "orange",
                                             "broccoli",
                                             "carrot",
                                             "hot dog",
                                             "pizza",
                                             "donut",
                                             "cake",
                                             "chair",
                                             "couch",
                                             "potted plant",
                                             "bed",
                                             "N/A",
                                             "dining table",
                                             "N/A",
                                             "N/A",
                                             "toilet",
                                             "N/A",
                                             "tv",
                                             "laptop",
                                             "mouse",
                                             "remote",
                                             "keyboard",
                                             "cell phone",
                                             "microwave",
                                             "oven",
                                             "toaster",
                                             "sink",
                                             "refrigerator",
                                             "N/A",
                                             "book",
                                             "clock",
                                             "vase",
                                             "scissors",
                                             "teddy bear",
                                             "hair drier",
                                             "toothbrush"};

// RGBA from the VOC colours of classes first, first + 1, ..., all opaque.
at::Tensor voc_rgba(int64_t num_classes, int64_t first) {
  const at::Tensor rgb = voc_palette(num_classes + first).slice(0, first);
  return at::cat({rgb, at::full({num_classes, 1}, 255, at::kByte)}, 1);
}

at::Tensor from_table(const std::vector<Rgb>& table, int64_t num_classes) {
  at::Tensor palette = voc_rgba(num_classes, 1);  // past the table's end: distinct colours
  auto p = palette.accessor<uint8_t, 2>();
  for (int64_t k = 0; k < std::min<int64_t>(num_classes, static_cast<int64_t>(table.size())); ++k) {
    for (int c = 0; c < 3; ++c) p[k][c] = table[static_cast<size_t>(k)][static_cast<size_t>(c)];
  }
  return palette;
}

bool parse_colour(const std::string& line, std::array<int, 4>& rgba) {
  std::istringstream in(line);
  std::string first;
  if (!(in >> first)) return false;
  if (first == "none") {
    rgba = {0, 0, 0, 0};
    return true;
  }
  if (first.size() == 7 && first[0] == '#') {
    try {
      size_t used = 0;
      const long v = std::stol(first.substr(1), &used, 16);
      if (used != 6) return false;
      rgba = {static_cast<int>(v >> 16) & 255, static_cast<int>(v >> 8) & 255, static_cast<int>(v) & 255, 255};
      return true;
    } catch (const std::exception&) {
      return false;
    }
  }
  std::string text = line;
  for (char& ch : text) ch = ch == ',' ? ' ' : ch;
  std::istringstream numbers(text);
  int r = -1, g = -1, b = -1;
  if (!(numbers >> r >> g >> b)) return false;
  if (r < 0 || r > 255 || g < 0 || g > 255 || b < 0 || b > 255) return false;
  rgba = {r, g, b, 255};
  return true;
}

}  // namespace

at::Tensor voc_palette(int64_t num_classes) {
  at::Tensor palette = at::zeros({num_classes, 3}, at::kByte);
  auto p = palette.accessor<uint8_t, 2>();
  for (int64_t k = 0; k < num_classes; ++k) {
    int64_t label = k;
    for (int shift = 7; shift >= 0 && label > 0; --shift, label >>= 3) {
      for (int c = 0; c < 3; ++c) p[k][c] |= static_cast<uint8_t>(((label >> c) & 1) << shift);
    }
  }
  return palette;
}

const std::vector<std::string>& palette_names() {
  static const std::vector<std::string> names = {"voc", "camvid", "cityscapes", "distinct"};
  return names;
}

at::Tensor named_palette(const std::string& name, int64_t num_classes) {
  if (num_classes < 1) fail("a palette needs at least one class, got ", num_classes);
  if (name == "voc") {
    at::Tensor palette = voc_rgba(num_classes, 0);
    palette[0][3] = 0;  // background
    return palette;
  }
  if (name == "distinct") return voc_rgba(num_classes, 1);
  if (name == "camvid") return from_table(kCamVid, num_classes);
  if (name == "cityscapes") return from_table(kCityscapes, num_classes);
  fail("unknown palette \"", name, "\" (known: ", join(palette_names()), ", or a file of colours)");
}

at::Tensor load_palette(const std::string& spec, int64_t num_classes) {
  for (const auto& name : palette_names()) {
    if (spec == name) return named_palette(spec, num_classes);
  }
  std::ifstream in(spec);
  if (!in) fail(spec, ": no such palette file (or a palette name: voc, camvid, cityscapes, distinct)");
  at::Tensor palette = at::zeros({num_classes, 4}, at::kByte);
  auto p = palette.accessor<uint8_t, 2>();
  int64_t k = 0, line_number = 0;
  for (std::string line; std::getline(in, line) && k < num_classes;) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::array<int, 4> rgba{};
    if (!parse_colour(line, rgba)) {
      fail(spec, ":", line_number, ": not a colour (\"R G B\", \"#RRGGBB\" or \"none\"): \"", line, "\"");
    }
    for (int c = 0; c < 4; ++c) p[k][c] = static_cast<uint8_t>(rgba[static_cast<size_t>(c)]);
    ++k;
  }
  if (k < num_classes) fail(spec, ": names ", k, " colours for ", num_classes, " classes");
  return palette;
}

std::vector<std::string> dataset_class_names(const std::string& name) {
  if (name == "camvid") return kCamVidNames;
  if (name == "cityscapes") return kCityscapesNames;
  if (name == "voc") return kVocNames;
  if (name == "coco") return kCocoNames;
  return {};
}

}  // namespace segkit
