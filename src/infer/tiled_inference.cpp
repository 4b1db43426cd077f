#include "segkit/infer/tiled_inference.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "segkit/core/errors.h"
#include "segkit/ops/resized_argmax.h"

namespace segkit {
namespace {

// Index i mirrored into [0, size) (reflection without repeating the edge pixel).
int64_t mirror(int64_t i, int64_t size) {
  if (size == 1) return 0;
  const int64_t period = 2 * (size - 1);
  int64_t m = i % period;
  if (m < 0) m += period;
  return m < size ? m : period - m;
}

at::Tensor mirrored_indices(int64_t start, int64_t length, int64_t size) {
  std::vector<int64_t> indices(static_cast<size_t>(length));
  for (int64_t k = 0; k < length; ++k) indices[static_cast<size_t>(k)] = mirror(start + k, size);
  return at::tensor(indices, at::kLong);
}

// Blending weight along one axis of an output tile: 1 inside, falling linearly to
// near 0 over `ramp` pixels at either end.
at::Tensor edge_ramp(int64_t length, int64_t ramp) {
  at::Tensor i = at::arange(length, at::kFloat).add_(0.5);
  if (ramp <= 0) return at::ones({length}, at::kFloat);
  return at::minimum(at::minimum(i / ramp, (length - i) / ramp), at::ones_like(i));
}

// What the model asks of its input: nothing, or an unpadded U-Net's border and grid.
struct Constraints {
  explicit Constraints(const ModelImpl& model) : c(input_constraints(model)) {}
  int64_t border() const { return c ? c->border() : 0; }
  int64_t alignment() const { return c ? c->alignment() : 1; }
  int64_t valid_input_size(int64_t side) const { return c ? c->valid_input_size(side) : side; }
  const InputConstraints* c;
};

// Tile geometry along one axis.
struct Axis {
  int64_t in = 0;      // input tile side
  int64_t out = 0;     // output tile side
  int64_t stride = 0;  // distance between tile starts, a multiple of the model's alignment
  int64_t count = 0;   // tiles
};

Axis plan_axis(const Constraints& model, int64_t size, const TileOptions& o) {
  const int64_t border = model.border();
  Axis axis;
  axis.in = model.valid_input_size(o.tile > 0 ? o.tile : size + 2 * border);
  axis.out = axis.in - 2 * border;
  if (axis.out <= 0) fail("--tile ", o.tile, " leaves no output after the model's border of ", border, " pixels");
  if (o.tile <= 0 || axis.out >= size) {
    axis.stride = axis.out;
    axis.count = 1;
    return axis;
  }
  const int64_t a = model.alignment();
  axis.stride = (axis.out - o.overlap) / a * a;
  if (axis.stride <= 0) {
    fail("--overlap ", o.overlap, " leaves no stride for tiles of ", axis.out, " output pixels (the model needs ",
         "tile starts on multiples of ", a, ")");
  }
  axis.count = (size - axis.out + axis.stride - 1) / axis.stride + 1;
  return axis;
}

// The blending weights of the tiles along an axis, summed at each of its `size` pixels.
at::Tensor ramp_sums(const Axis& axis, const at::Tensor& ramp, int64_t size) {
  at::Tensor sums = at::zeros({size}, at::kFloat);
  for (int64_t t = 0; t < axis.count; ++t) {
    const int64_t start = t * axis.stride, length = std::min(axis.out, size - start);
    sums.slice(0, start, start + length).add_(ramp.slice(0, 0, length));
  }
  return sums;
}

// The image's rows read as the tile rows move down, dropped once neither a tile nor a band
// still to be handed over needs them: a row of tiles in memory, whatever the image's height.
// Gray rows (three equal channels, a view of one: ImageRows) are held as one channel.
class RowWindow {
 public:
  // Rows as RGB: gray ones viewed as three equal channels.
  static at::Tensor rgb(const at::Tensor& rows) { return rows.size(2) == 1 ? rows.expand({-1, -1, 3}) : rows; }

  explicit RowWindow(ImageRows& image) : image_(image) {}
  // Rows by index, each at least first(), as held (gray: one channel; columns are taken from
  // them before rgb() views them as three: selecting from such a view copies it whole).
  at::Tensor rows(const at::Tensor& indices) {
    const int64_t last = indices.max().item<int64_t>();
    if (last >= end()) {
      at::Tensor more = image_.read(last + 1 - end());
      if (more.stride(2) == 0 && (!rows_.defined() || rows_.size(2) == 1)) more = more.slice(2, 0, 1);
      rows_ = rows_.defined() ? at::cat({rows_.expand({-1, -1, more.size(2)}), more}) : more;
    }
    return rows_.index_select(0, indices - first_);  // one channel for gray images: see rgb()
  }
  // Rows [begin, end), already read.
  at::Tensor slice(int64_t begin, int64_t end) const { return rgb(rows_.slice(0, begin - first_, end - first_)); }
  void drop_before(int64_t row) {
    if (row <= first_ || !rows_.defined()) return;
    const int64_t first = std::min(row, end());
    rows_ = rows_.slice(0, first - first_).clone();
    first_ = first;
  }

 private:
  int64_t end() const { return first_ + (rows_.defined() ? rows_.size(0) : 0); }

  ImageRows& image_;
  at::Tensor rows_;  // rows [first_, end())
  int64_t first_ = 0;
};

}  // namespace

TiledInference::TiledInference(Predictor& predictor, const TileOptions& options)
    : predictor_(predictor), options_(options) {
  if (options.tile < 0 || options.overlap < 0 || options.batch < 1) {
    fail("--tile and --overlap must not be negative and the batch positive");
  }
}

void TiledInference::run(ImageRows& image, const BlockSink& block_sink, const BandSink& band_sink) {
  const Constraints model(predictor_.model());
  Preprocess preprocess = predictor_.preprocess();
  preprocess.resize = 0;
  preprocess.crop = 0;
  const int64_t height = image.height(), width = image.width();
  const int64_t border = model.border();
  const Axis ay = plan_axis(model, height, options_);
  const Axis ax = plan_axis(model, width, options_);
  const int64_t ramp = options_.tile > 0 ? options_.overlap : 0;
  const at::Tensor ramp_y = edge_ramp(ay.out, ramp), ramp_x = edge_ramp(ax.out, ramp);
  const at::Tensor window = ramp_y.view({ay.out, 1}) * ramp_x.view({1, ax.out});
  // The tiles' weights summed at each pixel: the window is the product of a ramp down and a ramp
  // across and the tiles lie on a grid, so the sum is the sum of the ramps down the tile rows
  // times that of the ramps across the columns.
  const at::Tensor weight_y = ramp_sums(ay, ramp_y, height), weight_x = ramp_sums(ax, ramp_x, width);
  const auto input_rows = [&](int64_t ty) { return mirrored_indices(ty * ay.stride - border, ay.in, height); };
  // The lowest row that tile row ty or any below it reads (mirroring at the bottom reads upward).
  std::vector<int64_t> lowest(static_cast<size_t>(ay.count) + 1, height);
  for (int64_t ty = ay.count - 1; ty >= 0; --ty) {
    lowest[static_cast<size_t>(ty)] =
        std::min(lowest[static_cast<size_t>(ty) + 1], input_rows(ty).min().item<int64_t>());
  }

  c10::InferenceMode guard;
  RowWindow pixels(image);
  // The blended logits, summed in tile order (every pixel sums the same terms in the same order
  // as it would over a whole row of tiles): `work` holds the columns of the tile being added
  // (C x ay.out x ax.out), `carry` what the tile rows so far left below their final rows
  // (C x (ay.out - ay.stride) x W). Columns leave `work` when no tile further right reaches
  // them: their final rows are handed over, the others go to `carry`. A row of tiles of a wide
  // image so costs the overlap's rows of logits, not the tiles'.
  at::Tensor work, carry;
  for (int64_t ty = 0; ty < ay.count; ++ty) {
    const int64_t y = ty * ay.stride;
    const bool last_row = ty == ay.count - 1;
    const int64_t final_rows = last_row ? height - y : ay.stride;
    // Columns [begin, end) of `work`, image columns from x + begin, enter: zero, or what the
    // tile rows above left there.
    const auto enter = [&](int64_t x, int64_t begin, int64_t end) {
      if (end <= begin) return;
      at::Tensor columns = work.slice(2, begin, end);
      columns.zero_();
      if (ty > 0) columns.slice(1, 0, carry.size(1)).copy_(carry.slice(2, x + begin, x + end));
    };
    // Columns [begin, end) of `work` leave.
    const auto leave = [&](int64_t x, int64_t begin, int64_t end) {
      const at::Tensor columns = work.slice(2, begin, end);
      at::Tensor done = columns.slice(1, 0, final_rows);
      done.div_(weight_y.slice(0, y, y + final_rows).view({1, -1, 1})).div_(weight_x.slice(0, x + begin, x + end));
      block_sink(y, x + begin, done);
      if (!last_row) carry.slice(2, x + begin, x + end).copy_(columns.slice(1, ay.stride, ay.out));
    };
    const at::Tensor strip = pixels.rows(input_rows(ty));
    for (int64_t tx0 = 0; tx0 < ax.count; tx0 += options_.batch) {
      const int64_t n = std::min(options_.batch, ax.count - tx0);
      std::vector<at::Tensor> inputs;
      for (int64_t tx = tx0; tx < tx0 + n; ++tx) {
        const at::Tensor cols = mirrored_indices(tx * ax.stride - border, ax.in, width);
        inputs.push_back(preprocess.normalize(RowWindow::rgb(strip.index_select(1, cols))));
      }
      const at::Tensor out = predictor_.forward(at::stack(inputs)).to(at::kCPU, at::kFloat);
      TORCH_CHECK(out.size(2) == ay.out && out.size(3) == ax.out, "model returned ", out.sizes(), " for a ", ay.in,
                  " x ", ax.in, " tile, expected ", ay.out, " x ", ax.out);
      if (!work.defined()) {
        work = at::empty({out.size(1), ay.out, ax.out}, at::kFloat);
        if (ay.count > 1) carry = at::empty({out.size(1), ay.out - ay.stride, width}, at::kFloat);
      }
      for (int64_t k = 0; k < n; ++k) {
        const int64_t tx = tx0 + k, x = tx * ax.stride;
        const int64_t w = std::min(ax.out, width - x);
        if (tx == 0) {
          enter(x, 0, w);
        } else {  // the previous tile's first columns are final; its others move left
          const int64_t keep = ax.out - ax.stride;
          leave(x - ax.stride, 0, ax.stride);
          work.slice(2, 0, keep).copy_(work.slice(2, ax.stride, ax.out).clone());
          enter(x, keep, w);
        }
        work.slice(2, 0, w).add_(out[k].slice(2, 0, w) * window.slice(1, 0, w));
        if (tx == ax.count - 1) leave(x, 0, w);
      }
    }
    band_sink(y, final_rows, pixels.slice(y, y + final_rows));
    if (!last_row) pixels.drop_before(std::min(y + ay.stride, lowest[static_cast<size_t>(ty) + 1]));
  }
}

at::Tensor TiledInference::logits(const at::Tensor& pixels) {
  ImageRows image(Image{pixels, ""});
  at::Tensor result;
  run(
      image,
      [&](int64_t first_row, int64_t first_col, const at::Tensor& block) {
        if (!result.defined()) result = at::empty({block.size(0), image.height(), image.width()}, at::kFloat);
        result.slice(1, first_row, first_row + block.size(1))
            .slice(2, first_col, first_col + block.size(2))
            .copy_(block);
      },
      [](int64_t, int64_t, const at::Tensor&) {});
  return result;
}

void TiledInference::masks(const at::Tensor& pixels, const std::function<void(const at::Tensor& rows)>& sink) {
  ImageRows image(Image{pixels, ""});
  masks(image, [&](const at::Tensor& rows, const at::Tensor&) { sink(rows); });
}

void TiledInference::masks(ImageRows& image, const MaskSink& sink) {
  // A band's class map in the narrowest type that holds the classes, handed over as int64 a few
  // rows at a time: an int64 map of a whole band of a wide image would weigh as much as the
  // band's logits.
  constexpr int64_t kRows = 64;
  at::Tensor classes;
  run(
      image,
      [&](int64_t, int64_t first_col, const at::Tensor& block) {
        if (!classes.defined() || classes.size(0) < block.size(1)) {
          classes = at::empty({block.size(1), image.width()}, block.size(0) <= 256 ? at::kByte : at::kInt);
        }
        classes.slice(0, 0, block.size(1)).slice(1, first_col, first_col + block.size(2)).copy_(channel_argmax(block));
      },
      [&](int64_t, int64_t count, const at::Tensor& pixels) {
        for (int64_t r = 0; r < count; r += kRows) {
          const int64_t n = std::min(kRows, count - r);
          sink(classes.slice(0, r, r + n).to(at::kLong), pixels.slice(0, r, r + n));
        }
      });
}

}  // namespace segkit
