#pragma once

// What each fuzzing harness does with one input, shared by the libFuzzer entry points
// (fuzz_*.cpp) and the unit test that replays past findings (tests/unit/core/test_fuzz_regressions.cpp).
// segkit's readers take paths, as the command line gives them: the input is written to a
// file first. A clean InputError naming the file is the expected failure; an error message
// that does not name it throws std::logic_error, which libFuzzer reports as a finding
// (as it does any other exception, crash, leak or sanitizer report).

#include <ATen/ATen.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "segkit/core/checkpoint.h"
#include "segkit/core/errors.h"
#include "segkit/core/pickle.h"
#include "segkit/io/image.h"
#include "segkit/io/label_image.h"

namespace segkit::fuzz {

/// The input as a file of this process's own (in $TMPDIR), rewritten for every input.
inline std::string write_input(const uint8_t* data, size_t size, const char* extension) {
  const char* dir = std::getenv("TMPDIR");
  const std::string path =
      std::string(dir != nullptr ? dir : "/tmp") + "/segkit-fuzz-" + std::to_string(::getpid()) + extension;
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr || (size > 0 && std::fwrite(data, 1, size, file) != size) || std::fclose(file) != 0) {
    throw std::runtime_error("cannot write the fuzzing input to " + path);
  }
  return path;
}

/// How the reads ended, printed at exit when SEGKIT_FUZZ_OUTCOMES is set (to replay a corpus
/// and count its successes and clean errors: bench/RESULTS.md's fuzzing table).
struct Outcomes {
  size_t read = 0, refused = 0;
  ~Outcomes() {
    if (std::getenv("SEGKIT_FUZZ_OUTCOMES") != nullptr) {
      std::fprintf(stderr, "segkit-fuzz outcomes: %zu read, %zu refused with a clean error\n", read, refused);
    }
  }
};
inline Outcomes outcomes;

template <typename Read>
void expect_clean(const std::string& path, Read read) {
  try {
    read();
    ++outcomes.read;
  } catch (const InputError& e) {
    const std::string message = e.what();
    if (message.find(path) == std::string::npos) throw std::logic_error("message does not name the file: " + message);
    ++outcomes.refused;
  }
}

/// segkit's pickle reader, then the search for a state dict in what it read.
inline void pickle_input(const uint8_t* data, size_t size) {
  static const at::Tensor storage = at::zeros({1024});  // room for every seed's tensors
  auto persistent_load = [](const pickle::ValuePtr&) { return pickle::Value::of_tensor(storage); };
  expect_clean("input.pkl", [&] {
    size_t offset = 0;
    const auto value =
        pickle::unpickle(reinterpret_cast<const char*>(data), size, offset, persistent_load, "input.pkl");
    state_dict_from_value(value, "input.pkl");
  });
}

/// torch.save's zip format, as `-w FILE` reads it: the state dict and segkit's record. The
/// input's first bytes are made a zip's, so that every input reaches the zip reader.
inline void checkpoint_zip_input(const uint8_t* data, size_t size) {
  std::vector<uint8_t> bytes(data, data + size);
  if (bytes.size() < 4) bytes.resize(4);
  std::memcpy(bytes.data(), "PK\x03\x04", 4);
  const std::string path = write_input(bytes.data(), bytes.size(), ".pth");
  expect_clean(path, [&] { load_state_dict(path); });
  expect_clean(path, [&] { load_checkpoint_metadata(path); });
}

/// torch.save's legacy format (before PyTorch 1.6): the input starts with a PROTO opcode.
inline void checkpoint_legacy_input(const uint8_t* data, size_t size) {
  std::vector<uint8_t> bytes(data, data + size);
  if (bytes.size() < 2) bytes.resize(2);
  bytes[0] = 0x80;
  if (bytes[1] < 2 || bytes[1] > 5) bytes[1] = 2;
  const std::string path = write_input(bytes.data(), bytes.size(), ".pth");
  expect_clean(path, [&] { load_state_dict(path); });
}

/// safetensors: the tensors and the metadata segkit stores there.
inline void safetensors_input(const uint8_t* data, size_t size) {
  const std::string path = write_input(data, size, ".safetensors");
  expect_clean(path, [&] { load_safetensors(path); });
  expect_clean(path, [&] { load_safetensors_metadata(path); });
}

/// Images (PNG, JPEG, BMP, TIFF) as predict, classify and training read them, under a pixel
/// cap lower than the command line's so that each input stays quick.
inline void image_input(const uint8_t* data, size_t size) {
  const std::string path = write_input(data, size, ".img");
  at::Tensor whole;
  expect_clean(path, [&] { whole = read_image(path, 1 << 22).pixels; });
  // Read in bands of rows, as tiled prediction reads it (as many pixels at most).
  std::vector<at::Tensor> bands;
  bool complete = false, refused = true;
  expect_clean(path, [&] {
    ImageRows image(path, 1 << 22);
    for (int64_t budget = 1 << 22; budget > 0;) {
      const at::Tensor rows = image.read(37);
      if (rows.size(0) == 0) {
        complete = true;
        break;
      }
      bands.push_back(rows);
      budget -= rows.size(0) * image.width();
    }
    refused = false;
  });
  // The two readers of a file agree: a whole read is no laxer than the bands (segkit's own PNG
  // reader against libpng's rows: libpng also reads the chunks after the image data, so the
  // whole read may refuse what the bands take, never the other way), and they give the same
  // pixels.
  if (whole.defined() && refused) throw std::logic_error("read whole, refused in bands");
  if (whole.defined() && complete && !at::cat(bands).equal(whole)) {
    throw std::logic_error("the bands' pixels differ from the whole read's");
  }
}

/// Label images (masks of class indices) as training and eval read them.
inline void label_input(const uint8_t* data, size_t size) {
  const std::string path = write_input(data, size, ".png");
  expect_clean(path, [&] { read_label_image(path, 1 << 22); });
}

}  // namespace segkit::fuzz
