#pragma once

// A training run's report: its log (metrics.jsonl) drawn as curves and its last validation's
// confusion matrix, to PNG files and one self-contained HTML page (numbers, curves, a few
// validation images with their truth and prediction side by side) that opens anywhere.

#include <ATen/Tensor.h>

#include <string>
#include <vector>

namespace segkit {

/// A validation image shown in the report, drawn by the caller (image, truth, prediction).
struct ReportSample {
  std::string name;     ///< the image's file name
  at::Tensor panels;    ///< H x W x 3 uint8
  std::string caption;  ///< what the panels show
};

struct RunReportOptions {
  std::string title;                     ///< the page's heading (e.g. the model and the folder)
  std::vector<std::string> class_names;  ///< for the confusion matrix; empty: indices
  std::vector<ReportSample> samples;
};

/// The files write_run_report writes, by name.
struct RunReportFiles {
  std::string curves;     ///< curves.png
  std::string confusion;  ///< confusion.png; empty when the log holds no confusion matrix
  std::string html;       ///< report.html
};

/// Reads `run_dir`/metrics.jsonl and writes curves.png, confusion.png and report.html there,
/// atomically. Throws InputError naming the log if it is missing or holds no epoch.
RunReportFiles write_run_report(const std::string& run_dir, const RunReportOptions& options);

}  // namespace segkit
