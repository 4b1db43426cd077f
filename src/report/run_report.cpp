#include "segkit/report/run_report.h"

#include <ATen/ATen.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "segkit/core/atomic_file.h"
#include "segkit/core/errors.h"
#include "segkit/io/chart.h"
#include "segkit/io/image.h"

namespace segkit {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::vector<json> read_log(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail(path, ": no such training log (is it a run's folder?)");
  std::vector<json> epochs;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    try {
      epochs.push_back(json::parse(line));
    } catch (const json::exception&) {
      // A line cut short by a kill: left out, as resuming does.
    }
  }
  if (epochs.empty()) fail(path, ": holds no finished epoch yet");
  return epochs;
}

// Scalars of a validation report worth a curve: its measures, not its counts.
bool is_measure(const std::string& key, const json& value) {
  static const std::set<std::string> counts = {"images", "pixels", "top_k", "loss"};
  return value.is_number() && counts.count(key) == 0;
}

Series series_of(const std::vector<json>& epochs, const std::string& name, const std::vector<std::string>& path) {
  Series s;
  s.name = name;
  for (const auto& e : epochs) {
    const json* v = &e;
    for (const auto& key : path) {
      if (!v->is_object() || !v->contains(key)) {
        v = nullptr;
        break;
      }
      v = &(*v)[key];
    }
    if (v == nullptr || !v->is_number()) continue;
    s.x.push_back(e.value("epoch", 0));
    s.y.push_back(v->get<double>());
  }
  return s;
}

at::Tensor curves(const std::vector<json>& epochs) {
  std::vector<Series> losses = {series_of(epochs, "training loss", {"loss"})};
  const Series val_loss = series_of(epochs, "validation loss", {"validation", "loss"});
  if (!val_loss.x.empty()) losses.push_back(val_loss);
  std::vector<Series> measures;
  for (const auto& e : epochs) {
    if (!e.contains("validation")) continue;
    for (const auto& [key, value] : e["validation"].items()) {
      if (!is_measure(key, value)) continue;
      const bool known = std::any_of(measures.begin(), measures.end(), [&](const Series& s) { return s.name == key; });
      if (!known) measures.push_back(series_of(epochs, key, {"validation", key}));
    }
  }
  std::vector<at::Tensor> charts = {line_chart("loss", losses, "epoch")};
  if (!measures.empty()) charts.push_back(line_chart("validation", measures, "epoch"));
  charts.push_back(
      line_chart("learning rate (at the epoch's last step)", {series_of(epochs, "lr", {"lr"})}, "epoch", 640, 220));
  return at::cat(charts, 0);
}

// The last validation's confusion matrix, if the log holds one.
at::Tensor last_confusion(const std::vector<json>& epochs) {
  for (auto it = epochs.rbegin(); it != epochs.rend(); ++it) {
    if (!it->contains("validation") || !(*it)["validation"].contains("confusion_matrix")) continue;
    const auto rows = (*it)["validation"]["confusion_matrix"].get<std::vector<std::vector<int64_t>>>();
    std::vector<int64_t> flat;
    for (const auto& row : rows) flat.insert(flat.end(), row.begin(), row.end());
    const auto k = static_cast<int64_t>(rows.size());
    if (k == 0 || static_cast<int64_t>(flat.size()) != k * k) return {};
    return at::tensor(flat, at::kLong).view({k, k});
  }
  return {};
}

std::string base64(const std::string& bytes) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t v = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) v |= static_cast<uint8_t>(bytes[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kAlphabet[v & 63] : '=';
  }
  return out;
}

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string img(const std::string& png, const std::string& alt) {
  return "<img alt=\"" + escape(alt) + "\" src=\"data:image/png;base64," + base64(png) + "\">";
}

std::string cell(const json& v) {
  if (!v.is_number()) return "<td></td>";
  std::ostringstream out;
  if (v.is_number_integer()) {
    out << v.get<int64_t>();
  } else {
    out << std::setprecision(4) << v.get<double>();
  }
  return "<td>" + out.str() + "</td>";
}

// One row per epoch: its losses and validation measures.
std::string epoch_table(const std::vector<json>& epochs) {
  std::vector<std::string> measures;
  for (const auto& e : epochs) {
    if (!e.contains("validation")) continue;
    for (const auto& [key, value] : e["validation"].items()) {
      if ((is_measure(key, value) || key == "loss") &&
          std::find(measures.begin(), measures.end(), key) == measures.end()) {
        measures.push_back(key);
      }
    }
  }
  std::string html = "<table id=\"epochs\"><thead><tr><th>epoch</th><th>time (UTC)</th><th>loss</th><th>lr</th>";
  for (const auto& m : measures) html += "<th>val " + escape(m) + "</th>";
  html += "<th>best</th></tr></thead><tbody>\n";
  for (const auto& e : epochs) {
    html += "<tr>" + cell(e.value("epoch", json())) + "<td>" + escape(e.value("time", "")) + "</td>" +
            cell(e.value("loss", json())) + cell(e.value("lr", json()));
    for (const auto& m : measures) {
      html += cell(e.contains("validation") ? e["validation"].value(m, json()) : json());
    }
    html += std::string("<td>") + (e.value("best", false) ? "&#9733;" : "") + "</td></tr>\n";
  }
  return html + "</tbody></table>\n";
}

constexpr const char* kStyle = R"(
body { font-family: sans-serif; margin: 2em; color: #222; max-width: 1400px; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; font-size: 0.85em; }
td, th { border: 1px solid #ccc; padding: 2px 8px; text-align: right; }
th { background: #f0f0f0; cursor: pointer; }
figure { display: inline-block; margin: 0 1em 1em 0; } figcaption { font-size: 0.85em; }
img { max-width: 100%; }
)";

// Sorts the epoch table by a clicked column, and says in #status whether every image decoded.
constexpr const char* kScript = R"(
window.addEventListener('load', function () {
  var images = Array.prototype.slice.call(document.images);
  var decoded = images.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.getElementById('status').textContent = 'images decoded: ' + decoded + '/' + images.length;
  if (decoded !== images.length) console.error('segkit report: an image did not decode');
  var table = document.getElementById('epochs');
  table.querySelectorAll('th').forEach(function (th, column) {
    th.addEventListener('click', function () {
      var rows = Array.prototype.slice.call(table.tBodies[0].rows);
      var key = function (r) { var v = parseFloat(r.cells[column].textContent); return isNaN(v) ? -Infinity : v; };
      var descending = th.dataset.order !== 'desc';
      rows.sort(function (a, b) { return descending ? key(b) - key(a) : key(a) - key(b); });
      th.dataset.order = descending ? 'desc' : 'asc';
      rows.forEach(function (r) { table.tBodies[0].appendChild(r); });
    });
  });
});
)";

}  // namespace

RunReportFiles write_run_report(const std::string& run_dir, const RunReportOptions& options) {
  const fs::path dir(run_dir);
  const std::vector<json> epochs = read_log((dir / "metrics.jsonl").string());
  RunReportFiles files;
  files.curves = (dir / "curves.png").string();
  const std::string curves_png = encode_rgb_png(curves(epochs));
  write_file_atomically(files.curves, curves_png);
  std::string confusion_png;
  if (const at::Tensor confusion = last_confusion(epochs); confusion.defined()) {
    files.confusion = (dir / "confusion.png").string();
    confusion_png = encode_rgb_png(confusion_chart(confusion, options.class_names));
    write_file_atomically(files.confusion, confusion_png);
  }

  const json& last = epochs.back();
  const json* best = nullptr;
  for (const auto& e : epochs) {
    if (e.value("best", false)) best = &e;
  }
  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" << escape(options.title)
       << "</title><style>" << kStyle << "</style></head><body>\n<h1>" << escape(options.title) << "</h1>\n<p>"
       << epochs.size() << " epochs logged, the last at " << escape(last.value("time", "?")) << "; training loss "
       << std::setprecision(4) << last.value("loss", 0.0);
  if (best != nullptr) html << "; best.pth is epoch " << best->value("epoch", 0);
  html << ".</p>\n<h2>Last validation</h2>\n";
  if (last.contains("validation")) {
    html << "<table id=\"summary\"><tbody>\n";
    for (const auto& [key, value] : last["validation"].items()) {
      if (value.is_number()) html << "<tr><th>" << escape(key) << "</th>" << cell(value) << "</tr>\n";
    }
    html << "</tbody></table>\n";
  } else {
    html << "<p>The last epoch was not validated.</p>\n";
  }
  html << "<h2>Curves</h2>\n" << img(curves_png, "loss, validation measures and learning rate per epoch") << "\n";
  if (!confusion_png.empty()) html << "<h2>Confusion matrix</h2>\n" << img(confusion_png, "confusion matrix") << "\n";
  if (!options.samples.empty()) {
    html << "<h2>Validation images</h2>\n";
    for (const auto& sample : options.samples) {
      html << "<figure>" << img(encode_rgb_png(sample.panels), sample.name) << "<figcaption>"
           << escape(sample.name + ": " + sample.caption) << "</figcaption></figure>\n";
    }
  }
  html << "<h2>Epochs</h2>\n"
       << epoch_table(epochs) << "<p id=\"status\">images not checked</p>\n<script>" << kScript
       << "</script>\n</body></html>\n";
  files.html = (dir / "report.html").string();
  write_file_atomically(files.html, html.str());
  return files;
}

}  // namespace segkit
