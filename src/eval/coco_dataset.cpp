#include "segkit/eval/coco_dataset.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "segkit/core/atomic_file.h"
#include "segkit/core/errors.h"
#include "segkit/io/image.h"
#include "segkit/io/label_image.h"

namespace segkit {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json parse_json_file(const std::string& path) {
  if (fs::is_directory(path)) fail(path, ": is a folder, not a JSON file");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": no such file");
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    fail(path, ": not valid JSON (", e.what(), ")");
  }
}

// A field of an object of a file, with the file and the object named when it is missing or of another type.
template <typename T>
T field(const json& object, const char* key, const std::string& where) {
  const auto found = object.find(key);
  if (found == object.end()) fail(where, " has no \"", key, "\"");
  try {
    return found->get<T>();
  } catch (const json::exception&) {
    fail(where, ": \"", key, "\" is ", found->type_name(), ", not what it should be");
  }
}

// Whether a box (x, y, width, height) stays within a pixel of an image of height x width.
bool box_fits(const std::array<double, 4>& b, const CocoImage& image) {
  return b[2] >= 0 && b[3] >= 0 && b[0] >= -1 && b[1] >= -1 && b[0] + b[2] <= image.width + 1 &&
         b[1] + b[3] <= image.height + 1;
}

std::string box_text(const std::array<double, 4>& b) {
  std::ostringstream text;
  text << "[" << b[0] << ", " << b[1] << ", " << b[2] << ", " << b[3] << "]";
  return text.str();
}

std::string size_text(const CocoImage& image) {
  return std::to_string(image.width) + "x" + std::to_string(image.height);
}

// A polygon of a file, checked: at least 3 points, within a pixel of its image.
Rle polygon_mask(const std::vector<double>& xy, const CocoImage& image, const std::string& where) {
  if (xy.size() % 2 != 0) fail(where, " has a polygon with an odd number of coordinates (", xy.size(), ")");
  if (xy.size() < 6) fail(where, " has a polygon of ", xy.size() / 2, " points; a polygon needs at least 3");
  for (size_t i = 0; i < xy.size(); i += 2) {
    if (xy[i] < -1 || xy[i + 1] < -1 || xy[i] > image.width + 1 || xy[i + 1] > image.height + 1) {
      fail(where, " has a polygon point (", xy[i], ", ", xy[i + 1], ") outside its ", size_text(image), " image");
    }
  }
  return rle_from_polygon(xy, image.height, image.width);
}

// An RLE of a file: {"size": [h, w], "counts": "compressed" or [uncompressed runs]}.
Rle rle_mask(const json& segmentation, const CocoImage& image, const std::string& where) {
  const auto size = field<std::vector<int64_t>>(segmentation, "size", where + "'s segmentation");
  if (size.size() != 2 || size[0] != image.height || size[1] != image.width) {
    fail(where, " has a mask of size ",
         size.size() == 2 ? std::to_string(size[1]) + "x" + std::to_string(size[0]) : "?", " for its ",
         size_text(image), " image");
  }
  const json& counts = segmentation.at("counts");
  try {
    if (counts.is_string()) return rle_from_string(counts.get<std::string>(), image.height, image.width);
    Rle rle{image.height, image.width, counts.get<std::vector<uint32_t>>()};
    rle_check(rle);
    return rle;
  } catch (const InputError& e) {
    fail(where, ": ", e.what());
  } catch (const json::exception&) {
    fail(where, ": its mask's \"counts\" is neither a string nor a list of run lengths");
  }
}

// An annotation's or a result's "segmentation": polygons (merged) or an RLE.
Rle segmentation_mask(const json& segmentation, const CocoImage& image, const std::string& where) {
  if (segmentation.is_object()) return rle_mask(segmentation, image, where);
  if (!segmentation.is_array() || segmentation.empty()) fail(where, " has an empty or malformed segmentation");
  std::vector<Rle> parts;
  for (const json& polygon : segmentation) {
    if (!polygon.is_array()) fail(where, " has a segmentation that is neither polygons nor an RLE");
    parts.push_back(polygon_mask(polygon.get<std::vector<double>>(), image, where));
  }
  return rle_union(parts);
}

// A COCO annotation file's contents (`path` names it in errors).
CocoDataset coco_from_json(const json& file, const std::string& path) {
  if (!file.is_object() || !file.contains("images") || !file.contains("annotations")) {
    fail(path, ": not a COCO annotation file (it needs \"images\" and \"annotations\")");
  }
  CocoDataset d;
  std::map<int64_t, size_t> images;
  for (const json& i : file.at("images")) {
    const std::string where = path + ": an image";
    CocoImage image{field<int64_t>(i, "id", where), field<int64_t>(i, "height", where),
                    field<int64_t>(i, "width", where), i.value("file_name", std::string())};
    if (image.height < 1 || image.width < 1) fail(path, ": image ", image.id, " is ", size_text(image));
    if (!images.emplace(image.id, d.images.size()).second) fail(path, ": image id ", image.id, " is given twice");
    d.images.push_back(image);
  }
  if (file.contains("categories")) {
    for (const json& c : file.at("categories")) {
      const int64_t id = field<int64_t>(c, "id", path + ": a category");
      if (!d.categories.emplace(id, c.value("name", std::to_string(id))).second) {
        fail(path, ": category id ", id, " is given twice");
      }
    }
  }
  std::set<int64_t> ids;
  for (const json& a : file.at("annotations")) {
    CocoObject o;
    o.id = field<int64_t>(a, "id", path + ": an annotation");
    const std::string where = path + ": annotation " + std::to_string(o.id);
    if (!ids.insert(o.id).second) fail(path, ": annotation id ", o.id, " is given twice");
    o.image_id = field<int64_t>(a, "image_id", where);
    o.category_id = field<int64_t>(a, "category_id", where);
    const auto image = images.find(o.image_id);
    if (image == images.end()) fail(where, " is of image ", o.image_id, ", which the file does not list");
    if (!d.categories.count(o.category_id))
      fail(where, " has category ", o.category_id, ", which the file does not list");
    const CocoImage& picture = d.images[image->second];
    o.iscrowd = a.value("iscrowd", 0) != 0;
    if (a.contains("segmentation")) o.mask = segmentation_mask(a.at("segmentation"), picture, where);
    if (a.contains("bbox")) {
      const auto box = field<std::vector<double>>(a, "bbox", where);
      if (box.size() != 4) fail(where, " has a bbox of ", box.size(), " numbers");
      o.bbox = {box[0], box[1], box[2], box[3]};
    } else if (o.mask) {
      o.bbox = rle_bbox(*o.mask);
    } else {
      fail(where, " has neither a bbox nor a segmentation");
    }
    if (!box_fits(o.bbox, picture))
      fail(where, " has a box ", box_text(o.bbox), " outside its ", size_text(picture), " image");
    o.area = a.contains("area") ? field<double>(a, "area", where)
                                : (o.mask ? static_cast<double>(rle_area(*o.mask)) : o.bbox[2] * o.bbox[3]);
    d.annotations.push_back(std::move(o));
  }
  if (d.annotations.empty()) fail(path, ": holds no annotations: nothing to evaluate against");
  return d;
}

// A VIA project file's contents.
CocoDataset via_from_json(const json& file, const std::string& path, const std::string& images_dir) {
  if (!file.is_object()) fail(path, ": not a VIA project file (an object of files and their regions)");
  std::vector<std::pair<std::string, const json*>> entries;
  for (const auto& [key, entry] : file.items()) {
    const std::string name = field<std::string>(entry, "filename", path + ": entry " + key);
    entries.emplace_back(name, &entry);
  }
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  CocoDataset d;
  d.categories[1] = "object";
  int64_t next_id = 1;
  for (const auto& [name, entry] : entries) {
    const Image pixels = read_image((fs::path(images_dir) / name).string());
    const CocoImage image{static_cast<int64_t>(d.images.size()), pixels.height(), pixels.width(), name};
    d.images.push_back(image);
    const json& regions = entry->contains("regions") ? entry->at("regions") : json::array();
    for (const auto& [index, region] : regions.items()) {
      const std::string where = path + ": " + name + " region " + index;
      const json& shape = region.contains("shape_attributes") ? region.at("shape_attributes") : json::object();
      if (shape.value("name", std::string()) != "polygon") fail(where, " is not a polygon");
      const auto xs = field<std::vector<double>>(shape, "all_points_x", where);
      const auto ys = field<std::vector<double>>(shape, "all_points_y", where);
      if (xs.size() != ys.size()) fail(where, " has ", xs.size(), " x and ", ys.size(), " y coordinates");
      std::vector<double> xy;
      double area = 0;
      for (size_t i = 0; i < xs.size(); ++i) {
        xy.push_back(xs[i] + 0.5), xy.push_back(ys[i] + 0.5);
        const size_t next = (i + 1) % xs.size();
        area += xs[i] * ys[next] - xs[next] * ys[i];
      }
      CocoObject o;
      o.id = next_id++, o.image_id = image.id, o.category_id = 1;
      o.mask = polygon_mask(xy, image, where);
      const auto [x0, x1] = std::minmax_element(xs.begin(), xs.end());
      const auto [y0, y1] = std::minmax_element(ys.begin(), ys.end());
      o.bbox = {*x0, *y0, *x1 - *x0, *y1 - *y0};
      o.area = std::abs(area) / 2;
      d.annotations.push_back(std::move(o));
    }
  }
  if (d.annotations.empty()) fail(path, ": holds no regions: nothing to evaluate against");
  return d;
}

}  // namespace

CocoDataset read_coco_json(const std::string& path) { return coco_from_json(parse_json_file(path), path); }

CocoDataset read_via_json(const std::string& path, const std::string& images_dir) {
  return via_from_json(parse_json_file(path), path, images_dir);
}

CocoDataset read_instance_pngs(const std::string& folder) {
  std::vector<std::string> skipped;
  std::vector<std::string> files = list_image_files(folder, skipped);
  report_skipped_files(folder, skipped);
  if (files.empty()) fail(folder, ": holds no instance maps");
  CocoDataset d;
  d.categories[1] = "object";
  int64_t next_id = 1;
  for (const std::string& file : files) {
    const at::Tensor map = read_label_image(file);
    const CocoImage image{static_cast<int64_t>(d.images.size()), map.size(0), map.size(1),
                          fs::path(file).stem().string()};
    d.images.push_back(image);
    const at::Tensor values = std::get<0>(at::_unique(map));
    for (int64_t k = 0; k < values.size(0); ++k) {
      const int64_t value = values[k].item<int64_t>();
      if (value == 0) continue;
      CocoObject o;
      o.id = next_id++, o.image_id = image.id, o.category_id = 1;
      o.mask = rle_encode(map.eq(value));
      o.bbox = rle_bbox(*o.mask);
      o.area = static_cast<double>(rle_area(*o.mask));
      d.annotations.push_back(std::move(o));
    }
  }
  if (d.annotations.empty()) fail(folder, ": its instance maps hold no instance: nothing to evaluate against");
  return d;
}

CocoDataset read_instance_truth(const std::string& path, const std::string& images_dir) {
  if (fs::is_directory(path)) return read_instance_pngs(path);
  const json file = parse_json_file(path);  // parsed once, then read as whichever it is
  if (file.is_object() && file.contains("annotations")) return coco_from_json(file, path);
  return via_from_json(file, path, images_dir.empty() ? fs::path(path).parent_path().string() : images_dir);
}

std::vector<CocoObject> read_coco_results(const std::string& path, const CocoDataset& truth) {
  const json file = parse_json_file(path);
  if (!file.is_array()) fail(path, ": not a COCO results file (a list of detections)");
  std::vector<CocoObject> results;
  // As loadRes: the first entry decides whether these are box results (boxes give the area).
  const bool boxes = !file.empty() && file[0].contains("bbox") && !file[0]["bbox"].empty();
  for (size_t n = 0; n < file.size(); ++n) {
    const json& r = file[n];
    const std::string where = path + ": result " + std::to_string(n);
    CocoObject o;
    o.id = static_cast<int64_t>(n) + 1;
    o.image_id = field<int64_t>(r, "image_id", where);
    o.category_id = field<int64_t>(r, "category_id", where);
    o.score = field<double>(r, "score", where);
    const CocoImage* image = truth.image(o.image_id);
    if (image == nullptr) fail(where, " is for image ", o.image_id, ", which the ground truth does not have");
    if (!truth.categories.count(o.category_id)) {
      fail(where, " has category ", o.category_id, ", which the ground truth does not have");
    }
    if (r.contains("segmentation")) o.mask = segmentation_mask(r.at("segmentation"), *image, where);
    if (boxes) {
      const auto box = field<std::vector<double>>(r, "bbox", where);
      if (box.size() != 4) fail(where, " has a bbox of ", box.size(), " numbers");
      o.bbox = {box[0], box[1], box[2], box[3]};
      o.area = box[2] * box[3];
    } else {
      if (!o.mask) fail(where, " has neither a bbox nor a segmentation");
      o.area = static_cast<double>(rle_area(*o.mask));
      o.bbox = rle_bbox(*o.mask);
    }
    if (!box_fits(o.bbox, *image))
      fail(where, " has a box ", box_text(o.bbox), " outside its ", size_text(*image), " image");
    results.push_back(std::move(o));
  }
  return results;
}

std::vector<CocoObject> instances_to_results(const Instances& instances, int64_t image_id) {
  std::vector<CocoObject> results;
  const at::Tensor boxes = instances.boxes.to(at::kDouble).cpu();
  const bool masks = instances.masks.defined() && instances.masks.dim() == 3;
  for (int64_t d = 0; d < instances.labels.size(0); ++d) {
    CocoObject o;
    o.image_id = image_id;
    o.category_id = instances.labels[d].item<int64_t>();
    const double x1 = boxes[d][0].item<double>(), y1 = boxes[d][1].item<double>();
    o.bbox = {x1, y1, boxes[d][2].item<double>() - x1, boxes[d][3].item<double>() - y1};
    o.area = o.bbox[2] * o.bbox[3];
    o.score = instances.scores[d].item<double>();
    if (masks) o.mask = rle_encode(instances.masks[d].ge(0.5));
    results.push_back(std::move(o));
  }
  return results;
}

void write_coco_results(const std::vector<CocoObject>& results, const std::string& path) {
  json file = json::array();
  for (const CocoObject& o : results) {
    json r{{"image_id", o.image_id}, {"category_id", o.category_id}, {"bbox", o.bbox}, {"score", o.score}};
    if (o.mask) r["segmentation"] = {{"size", {o.mask->height, o.mask->width}}, {"counts", rle_to_string(*o.mask)}};
    file.push_back(std::move(r));
  }
  write_file_atomically(path, file.dump() + "\n");
}

void write_coco_json(const CocoDataset& d, const std::string& path) {
  json file{{"images", json::array()}, {"annotations", json::array()}, {"categories", json::array()}};
  for (const CocoImage& i : d.images) {
    file["images"].push_back({{"id", i.id}, {"height", i.height}, {"width", i.width}, {"file_name", i.file_name}});
  }
  for (const auto& [id, name] : d.categories) file["categories"].push_back({{"id", id}, {"name", name}});
  for (const CocoObject& o : d.annotations) {
    json a{{"id", o.id},     {"image_id", o.image_id}, {"category_id", o.category_id},
           {"bbox", o.bbox}, {"area", o.area},         {"iscrowd", o.iscrowd ? 1 : 0}};
    if (o.mask) a["segmentation"] = {{"size", {o.mask->height, o.mask->width}}, {"counts", rle_to_string(*o.mask)}};
    file["annotations"].push_back(std::move(a));
  }
  write_file_atomically(path, file.dump() + "\n");
}

}  // namespace segkit
