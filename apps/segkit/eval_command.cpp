#include <algorithm>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "commands.h"
#include "options.h"
#include "segkit/core/atomic_file.h"
#include "segkit/core/errors.h"
#include "segkit/core/runtime.h"
#include "segkit/data/classification_dataset.h"
#include "segkit/eval/coco_dataset.h"
#include "segkit/eval/evaluate.h"
#include "segkit/infer/instance_predictor.h"
#include "segkit/io/image.h"
#include "segkit/io/label_image.h"
#include "segkit/models/load_model.h"
#include "segkit/models/segmentors/generalized_rcnn.h"

namespace segkit::cli {
namespace {

namespace fs = std::filesystem;

struct EvalArgs {
  std::string model, weights, task;
  std::optional<int64_t> num_classes;
  DataArgs data;
  std::string predictions;
  std::string folder;
  std::string mask_encoding = "auto";
  std::optional<int64_t> ignore_index;
  std::string upsampling;
  TileOptions tiles;
  std::string resize = "default";
  int64_t crop = -1;
  int64_t batch = 0;
  std::string labels;
  bool skip_bad = false;
  std::string report;
  bool json = false;
  int threads = 0;
  int streams = 0;  // auto
  std::string device = "cpu";
  std::string precision = "fp32";
  // Instance.
  std::string gt, results, save_gt;
  DetectionArgs detection;

  InferenceOptions inference() const { return inference_options(parse_device(device), precision); }
};

constexpr int64_t kDefaultIgnoreIndex = 255;

// --ignore-index, else the one the checkpoint records, else 255.
DatasetOptions mask_options(const EvalArgs& args, int64_t num_classes, const LoadedModel* loaded = nullptr) {
  DatasetOptions data;
  data.num_classes = num_classes;
  data.ignore_index = args.ignore_index.value_or(
      loaded && loaded->info && loaded->info->ignore_index ? *loaded->info->ignore_index : kDefaultIgnoreIndex);
  data.encoding = parse_mask_encoding(args.mask_encoding);
  return data;
}

void print_report(const EvalArgs& args, const std::string& table, const std::string& json) {
  std::cout << (args.json ? json + "\n" : table);
  if (!args.report.empty()) {
    write_file_atomically(args.report, json + "\n");
    if (!args.json) std::cout << "report written to " << args.report << "\n";
  }
}

// Names for the report's rows: --class-names or the checkpoint's, else the membrane
// classes for binary data.
std::vector<std::string> report_names(const std::vector<std::string>& names, bool binary) {
  if (!names.empty()) return names;
  return binary ? std::vector<std::string>{"membrane", "cell interior"} : std::vector<std::string>{};
}

// Semantic: a model run on labelled images: tiled as predict does where the model or
// --tile asks for it, else whole images, --batch at a time, at --resize.
void eval_semantic_model(const EvalArgs& args) {
  const ZooEntry& entry = model_for(args.model, args.weights, Task::kSemantic);
  LoadOptions load;
  load.num_classes = args.num_classes;
  load.unet_upsampling = parse_optional_upsampling(args.upsampling);
  LoadedModel loaded = load_model(entry.name, args.weights, load);
  const std::vector<std::string> names = class_names_for(args.labels, loaded, loaded.num_classes);
  const auto samples = collect_samples(args.data, "--images/--masks or --list");
  Progress reading(samples.size(), "reading");
  const SegmentationDataset dataset(samples, mask_options(args, loaded.num_classes, &loaded),
                                    [&](size_t done, size_t) { reading.update(done, samples[done - 1].image); });
  reading.finish();
  Preprocess preprocess = loaded.preprocess;
  preprocess.resize = parse_resize(args.resize, loaded.preprocess.resize);
  const auto* constraints = input_constraints(*loaded.model);
  const bool tiled = args.tiles.tile > 0 || (constraints && constraints->border() > 0);
  if (tiled && args.resize != "default" && args.resize != "none") {
    fail("--resize cannot be combined with tiles: tiles are taken at the image's own resolution");
  }
  if (tiled && args.batch > 0) fail("--batch cannot be combined with tiles (--tile-batch sets tiles per pass)");
  Predictor predictor(take_as<SegmentorImpl>(loaded.model), preprocess, parse_device(args.device), args.inference());
  Progress progress(dataset.size(), "eval");
  const auto report_progress = [&](size_t done) { progress.update(done, dataset[done - 1].paths.image); };
  EvalReport report;
  if (tiled) {
    TiledInference tiler(predictor, args.tiles);
    report = evaluate_segmentation(tiler, dataset, loaded.num_classes, report_progress);
  } else {
    report = evaluate_segmentation(predictor, dataset, loaded.num_classes, std::max<int64_t>(1, args.batch),
                                   report_progress, streams_for(args.streams, parse_device(args.device)));
  }
  progress.finish();
  print_report(args, report.to_table(report_names(names, dataset.binary())), report.to_json());
}

// Semantic without a model: predicted masks (class indices, as predict writes them) against the truth.
void eval_semantic_predictions(const EvalArgs& args) {
  if (!args.num_classes) fail("--predictions needs --num-classes");
  if (args.data.masks.empty() || !args.data.images.empty() || !args.data.list.empty()) {
    fail("--predictions DIR is scored against --masks DIR (files paired by name)");
  }
  const auto pairs = pair_folders(args.predictions, args.data.masks);
  const DatasetOptions options = mask_options(args, *args.num_classes);
  std::vector<at::Tensor> truths;
  for (const auto& pair : pairs) truths.push_back(read_label_image(pair.mask));
  const bool binary = masks_are_binary(truths, options);
  Evaluator evaluator(*args.num_classes, options.ignore_index, binary);
  DatasetOptions predicted = options;
  predicted.ignore_index = -1;  // every predicted pixel must be a class
  Progress progress(pairs.size(), "eval");
  for (size_t i = 0; i < pairs.size(); ++i) {
    const at::Tensor truth = decode_mask(truths[i], pairs[i].mask, options, binary);
    at::Tensor prediction = read_label_image(pairs[i].image);
    if (prediction.sizes() != truth.sizes()) {
      fail(pairs[i].image, ": prediction is ", prediction.size(1), "x", prediction.size(0), " but its mask ",
           pairs[i].mask, " is ", truth.size(1), "x", truth.size(0));
    }
    // A 0/255 prediction of a binary task is read as such; anything else must hold class indices.
    const bool binary_prediction = binary && prediction.max().item<int64_t>() == 255;
    evaluator.add(decode_mask(prediction, pairs[i].image, predicted, binary_prediction), truth);
    progress.update(i + 1, pairs[i].image);
  }
  progress.finish();
  const EvalReport report = evaluator.report();
  const std::vector<std::string> names =
      args.labels.empty() ? std::vector<std::string>{} : class_names_for(args.labels, {}, *args.num_classes);
  print_report(args, report.to_table(report_names(names, binary)), report.to_json());
}

void eval_classification(const EvalArgs& args) {
  const ZooEntry& entry = model_for(args.model, args.weights, Task::kClassification);
  if (args.folder.empty() == args.data.list.empty()) fail("give --folder (one folder per class) or --list, not both");
  std::vector<std::string> names = args.labels.empty() ? std::vector<std::string>{} : read_class_names(args.labels);
  ClassSamples samples = args.folder.empty() ? read_class_list(args.data.list, names) : scan_image_folder(args.folder);
  if (!names.empty()) samples.classes = names;
  ClassificationDatasetOptions data;
  data.skip_bad = args.skip_bad;
  data.threads = at::get_num_threads();
  LoadOptions load;
  load.num_classes = args.num_classes;
  LoadedModel loaded = load_model(entry.name, args.weights, load);
  if (loaded.info && !loaded.info->class_names.empty() && loaded.info->class_names != samples.classes) {
    fail("the data's classes (", join(samples.classes), ") are not those ", args.weights, " was trained on (",
         join(loaded.info->class_names), ")");
  }
  Preprocess preprocess = loaded.preprocess;
  preprocess.resize = parse_resize(args.resize, loaded.preprocess.resize);
  if (args.crop >= 0) preprocess.crop = args.crop;
  if (preprocess.crop <= 0) fail("classification eval needs a --crop (images of one size per batch)");
  const ClassificationDataset dataset(std::move(samples), data);
  for (const auto& message : dataset.skipped()) std::cerr << "segkit: warning: skipped " << message << "\n";
  if (dataset.num_classes() != loaded.num_classes) {
    fail("the data has ", dataset.num_classes(), " classes but ", args.weights, " has ", loaded.num_classes);
  }
  ClassificationPredictor predictor(take_as<ClassifierImpl>(loaded.model), preprocess, parse_device(args.device),
                                    args.inference());
  Progress progress(dataset.size(), "eval");
  const ClassificationReport report = evaluate_classification(
      predictor, dataset, args.batch > 0 ? args.batch : 16,
      [&](size_t done) { progress.update(done, dataset.path(done - 1)); },
      streams_for(args.streams, parse_device(args.device)));
  progress.finish();
  print_report(args, report.to_table(dataset.classes()), report.to_json(dataset.classes()));
}

// The image file of each ground-truth image: its file name in --images (COCO, VIA), or the
// image whose stem is the instance map's (PNG folders).
std::vector<std::string> truth_image_files(const CocoDataset& truth, const std::string& images_dir) {
  std::vector<std::string> skipped;
  std::map<std::string, std::string> by_name, by_stem;
  for (const std::string& file : list_image_files(images_dir, skipped)) {
    by_name[fs::path(file).filename().string()] = file;
    by_stem[fs::path(file).stem().string()] = file;
  }
  std::vector<std::string> files;
  for (const CocoImage& image : truth.images) {
    const auto name = by_name.find(fs::path(image.file_name).filename().string());
    const auto stem = by_stem.find(image.file_name);
    if (name != by_name.end()) {
      files.push_back(name->second);
    } else if (stem != by_stem.end()) {
      files.push_back(stem->second);
    } else {
      fail(images_dir, ": has no image \"", image.file_name, "\" (image ", image.id, " of the ground truth)");
    }
  }
  return files;
}

// A model's detections on the ground truth's images, as COCO results (what `segkit predict
// --coco-results` writes, read back as pycocotools' loadRes reads it).
std::vector<CocoObject> model_detections(const EvalArgs& args, const CocoDataset& truth) {
  const ZooEntry& entry = model_for(args.model, args.weights, Task::kInstance);
  const std::string images_dir = !args.data.images.empty()
                                     ? args.data.images
                                     : (fs::is_directory(args.gt) ? "" : fs::path(args.gt).parent_path().string());
  if (images_dir.empty()) fail("give --images: the folder of the ground truth's images");
  const std::vector<std::string> files = truth_image_files(truth, images_dir);
  LoadOptions load;
  load.num_classes = args.num_classes;
  LoadedModel loaded = load_model(entry.name, args.weights, load);
  InstancePredictor predictor(instance_model(loaded, args.detection), parse_device(args.device), args.inference());
  std::vector<CocoObject> detections;
  Progress progress(files.size(), "eval");
  const size_t batch = static_cast<size_t>(std::max<int64_t>(1, args.batch));
  for (size_t first = 0; first < files.size(); first += batch) {
    std::vector<Image> images;
    for (size_t i = first; i < std::min(files.size(), first + batch); ++i) {
      images.push_back(read_image(files[i]));
      const CocoImage& info = truth.images[i];
      if (images.back().height() != info.height || images.back().width() != info.width) {
        fail(files[i], ": is ", images.back().width(), "x", images.back().height(), " but the ground truth says ",
             info.width, "x", info.height);
      }
    }
    const std::vector<Instances> found = predictor.predict(images);
    for (size_t k = 0; k < found.size(); ++k) {
      for (CocoObject& o : instances_to_results(found[k], truth.images[first + k].id)) {
        o.id = static_cast<int64_t>(detections.size()) + 1;  // as loadRes numbers them
        detections.push_back(std::move(o));
      }
    }
    progress.update(first + images.size(), files[first + images.size() - 1]);
  }
  progress.finish();
  return detections;
}

// Instance: COCO box and mask AP/AR of a model, or of a results file, against the ground truth.
void eval_instances(const EvalArgs& args) {
  if (args.gt.empty()) fail("--task instance needs --gt: a COCO or VIA JSON file, or a folder of instance-id PNGs");
  const CocoDataset truth = read_instance_truth(args.gt, args.data.images);
  if (!args.save_gt.empty()) {
    write_coco_json(truth, args.save_gt);
    if (args.results.empty() && args.weights.empty()) {
      std::cout << "wrote the ground truth (" << truth.images.size() << " images, " << truth.annotations.size()
                << " objects) to " << args.save_gt << "\n";
      return;
    }
  }
  std::vector<CocoObject> detections;
  if (!args.results.empty()) {
    if (!args.model.empty() || !args.weights.empty()) fail("--results scores detections already made: no --model");
    detections = read_coco_results(args.results, truth);
  } else {
    if (args.weights.empty()) fail("give --results (a COCO results file) or --weights (a model to run)");
    detections = model_detections(args, truth);
  }
  const CocoStats boxes = coco_evaluate(truth, detections, IouType::kBox);
  const bool masks =
      truth.has_masks() && !detections.empty() &&
      std::all_of(detections.begin(), detections.end(), [](const CocoObject& d) { return d.mask.has_value(); });
  std::optional<CocoStats> segm;
  if (masks) segm = coco_evaluate(truth, detections, IouType::kMask);
  std::ostringstream table;
  table << truth.images.size() << " images, " << truth.annotations.size() << " objects, " << detections.size()
        << " detections\n"
        << std::left << std::setw(8) << "metric" << std::setw(9) << "box" << (segm ? "mask" : "") << "\n";
  nlohmann::json json{
      {"images", truth.images.size()}, {"objects", truth.annotations.size()}, {"detections", detections.size()}};
  for (size_t i = 0; i < CocoStats::names().size(); ++i) {
    const char* name = CocoStats::names()[i];
    table << std::setw(8) << name << std::fixed << std::setprecision(4) << std::setw(9) << boxes.values[i];
    if (segm) table << segm->values[i];
    table << "\n";
    json["bbox"][name] = boxes.values[i];
    if (segm) json["segm"][name] = segm->values[i];
  }
  table << "(COCO's rules, as pycocotools: AP over IoU 0.50:0.95, s/m/l areas under 32^2 / 96^2 / above, AR at 1, 10, "
           "100 detections; -1: nothing to measure)\n";
  print_report(args, table.str(), json.dump());
}

void run_eval(const EvalArgs& args) {
  configure_runtime(args.threads);
  args.inference();  // a bad --device or --precision is named before anything is read
  if (args.task == "instance" || !args.gt.empty() || !args.results.empty()) {
    if (!args.task.empty() && args.task != "instance") fail("--gt and --results are for --task instance");
    eval_instances(args);
    return;
  }
  if (!args.predictions.empty()) {
    if (!args.model.empty() || !args.weights.empty()) fail("--predictions scores masks already made: no --model");
    eval_semantic_predictions(args);
    return;
  }
  if (args.weights.empty()) fail("give --weights (and --model for a file segkit did not write), or --predictions");
  const std::string model = resolve_model_name(args.model, args.weights);
  const Task task = find_model(model).task;
  if (!args.task.empty() && args.task != task_name(task)) {
    fail("--task ", args.task, " does not fit ", model, ", a ", task_name(task), " model");
  }
  if (task == Task::kClassification) {
    eval_classification(args);
  } else {
    eval_semantic_model(args);
  }
}

}  // namespace

Run add_eval_command(CLI::App& app) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand(
      "eval", "Measure a model on labelled images (IoU, Dice, ISBI errors; top-1/top-5), or score predicted masks");
  cmd->add_option("-m,--model", args->model,
                  "Model name (see `segkit models`; default: the one a segkit checkpoint records)");
  cmd->add_option("-w,--weights", args->weights, "Checkpoint");
  cmd->add_option("--task", args->task, "semantic, classification or instance (default: the model's)");
  cmd->add_option("--gt", args->gt,
                  "Instance: the ground truth: a COCO annotation file, a VIA project file (images beside it or in "
                  "--images) or a folder of instance-id PNGs");
  cmd->add_option("--results", args->results,
                  "Instance, without a model: a COCO results file (`segkit predict --coco-results`)");
  cmd->add_option("--save-gt", args->save_gt, "Instance: also write the ground truth as a COCO annotation file");
  add_detection_options(*cmd, args->detection);
  cmd->add_option("--num-classes", args->num_classes, "Class count (default: read from the checkpoint)");
  add_data_options(*cmd, args->data, "");
  cmd->add_option("--predictions", args->predictions,
                  "Semantic, without a model: a folder of predicted class-index masks, scored against --masks");
  cmd->add_option("--folder", args->folder, "Classification: a folder with one folder of images per class");
  cmd->add_option("--labels,--class-names", args->labels,
                  "Class names for the report: a file, one per line, or voc, camvid, cityscapes (default: the "
                  "checkpoint's); classification: the order of --list's label indices");
  cmd->add_option("--mask-encoding", args->mask_encoding, "auto, index or binary (0/255)")->capture_default_str();
  cmd->add_option("--ignore-index", args->ignore_index,
                  "Mask value that does not count (default: the checkpoint's, else 255)");
  add_upsampling_option(*cmd, args->upsampling);
  cmd->add_option("--tile", args->tiles.tile, "Semantic: tile side in pixels (0: whole images)")->capture_default_str();
  cmd->add_option("--overlap", args->tiles.overlap, "Semantic: overlap of neighbouring tiles, pixels")
      ->capture_default_str();
  cmd->add_option("--tile-batch", args->tiles.batch, "Semantic: tiles per forward pass")->capture_default_str();
  cmd->add_option("--resize", args->resize,
                  "Short side in pixels, or \"none\" for the image's own size (default: the checkpoint's or model's)");
  cmd->add_option("--crop", args->crop, "Classification: center crop side (default: the model's)");
  cmd->add_option("--batch", args->batch, "Images per forward pass (default: semantic 1, classification 16)");
  cmd->add_flag("--skip-bad", args->skip_bad, "Classification: leave out unreadable files with a warning");
  cmd->add_option("--report", args->report, "Also write the report as JSON to this file");
  cmd->add_flag("--json", args->json, "Print the report as JSON instead of a table");
  cmd->add_option("--threads", args->threads, "Threads (default: all cores)");
  add_streams_option(*cmd, args->streams);
  cmd->add_option("--device", args->device, "cpu or cuda")->capture_default_str();
  add_precision_option(*cmd, args->precision);
  return [args] { run_eval(*args); };
}

}  // namespace segkit::cli
