#pragma once

// The report of a training run (curves, confusion matrix, validation images; see
// segkit/report/run_report.h), made from the run's folder alone: `segkit plot` and the end
// of `segkit train`.

#include <string>

namespace segkit::cli {

/// Writes DIR/curves.png, DIR/confusion.png and DIR/report.html, with `samples` validation
/// images predicted by the run's best.pth (else last.pth); returns the report's path.
std::string report_run(const std::string& run_dir, int samples);

}  // namespace segkit::cli
