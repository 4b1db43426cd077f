#include "segkit/core/checkpoint.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "segkit/core/atomic_file.h"
#include "segkit/core/errors.h"
#include "segkit/io/palette.h"
#include "segkit/models/checkpoint_info.h"
#include "test_util.h"

namespace segkit {
namespace {

using testing::fixture;
using testing::run_command;
using testing::temp_dir;

// The same tensors as dtype_state() in tools/make_parity_fixtures.py.
StateDict expected_dtype_state() {
  const at::Tensor base = at::arange(24, at::kDouble).reshape({2, 3, 4}) / 7 - 1;
  const at::Tensor shared = at::arange(10, at::kFloat);
  const auto ramp = [](at::ScalarType dtype) { return at::arange(6, at::kLong).to(dtype) - 3; };
  return {
      {"f32", base.to(at::kFloat)},
      {"f64", base},
      {"f16", base.to(at::kHalf)},
      {"bf16", base.to(at::kBFloat16)},
      {"i64", at::arange(6, at::kLong) * int64_t{1'000'000'007'000} - 3},
      {"i32", ramp(at::kInt)},
      {"i16", ramp(at::kShort)},
      {"i8", ramp(at::kChar)},
      {"u8", at::arange(250, 256, at::kLong).to(at::kByte)},
      {"bool", at::tensor({1, 0, 1}, at::kLong).to(at::kBool)},
      {"scalar", at::scalar_tensor(2.5, at::kFloat)},
      {"transposed", base.to(at::kFloat)[0].t()},
      {"view_a", shared.slice(0, 2, 5)},
      {"view_b", shared.slice(0, 4, 9)},
      {"empty", at::zeros({0, 3}, at::kFloat)},
  };
}

void expect_same(const StateDict& actual, const StateDict& expected, const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (size_t i = 0; i < expected.size(); ++i) {
    const auto& [name, want] = expected[i];
    EXPECT_EQ(actual[i].first, name) << what;
    const at::Tensor& got = actual[i].second;
    EXPECT_EQ(got.scalar_type(), want.scalar_type()) << what << " " << name;
    EXPECT_EQ(got.sizes(), want.sizes()) << what << " " << name;
    EXPECT_TRUE(got.equal(want)) << what << " " << name << ": " << got << " vs " << want;
  }
}

TEST(Checkpoint, ReadsEveryDtypeFromZipLegacyWrappedAndSafetensors) {
  const auto expected = expected_dtype_state();
  expect_same(load_state_dict(fixture("dtypes/zip.pth")), expected, "zip");
  expect_same(load_state_dict(fixture("dtypes/legacy.pth")), expected, "legacy");
  expect_same(load_state_dict(fixture("dtypes/wrapped.pth")), expected, "wrapped");
  expect_same(load_state_dict(fixture("dtypes/tensors.safetensors")), expected, "safetensors");
  for (const char* name : {"protocol4.pth", "protocol4_legacy.pth", "protocol5.pth", "protocol5_legacy.pth"}) {
    expect_same(load_state_dict(fixture(std::string("dtypes/") + name)), expected, name);
  }
}

TEST(Checkpoint, DetectsFormats) {
  EXPECT_EQ(detect_checkpoint_format(fixture("dtypes/zip.pth")), CheckpointFormat::kTorchZip);
  EXPECT_EQ(detect_checkpoint_format(fixture("dtypes/legacy.pth")), CheckpointFormat::kTorchLegacy);
  EXPECT_EQ(detect_checkpoint_format(fixture("dtypes/tensors.safetensors")), CheckpointFormat::kSafetensors);
}

TEST(Checkpoint, ReadsTheWholeWrappedCheckpoint) {
  const auto value = load_torch_file(fixture("dtypes/wrapped.pth"));
  ASSERT_EQ(value->kind, pickle::Kind::kDict);
  EXPECT_EQ(value->get("epoch")->integer, 3);
  EXPECT_EQ(value->get("note")->text, "wrapped");
}

TEST(Checkpoint, TorchLoadReadsWhatSegkitWritesAndBack) {
  const std::string dir = temp_dir("roundtrip");
  const auto expected = expected_dtype_state();
  save_state_dict(expected, dir + "/segkit.pth", CheckpointFormat::kTorchZip);
  save_state_dict(expected, dir + "/segkit.safetensors", CheckpointFormat::kSafetensors);
  const auto result = run_command(std::string(SEGKIT_PYTHON) + " " + SEGKIT_SOURCE_DIR + "/tools/check_checkpoint.py " +
                                  dir + "/segkit.pth " + dir + "/segkit.safetensors " + dir + "/from_python.pth");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  // Contiguous copies come back: strides and shared storage are not preserved, values are.
  expect_same(load_state_dict(dir + "/from_python.pth"), expected, "python legacy");
  expect_same(load_state_dict(dir + "/segkit.safetensors"), expected, "segkit safetensors");
  EXPECT_FALSE(std::filesystem::exists(dir + "/segkit.pth.tmp." + std::to_string(::getpid())));
}

void expect_input_error(const std::string& path, const std::string& fragment) {
  try {
    load_state_dict(path);
    ADD_FAILURE() << "no error for " << path;
  } catch (const InputError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find(fragment), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << "one line: " << message;
  }
}

void write_prefix(const std::string& from, const std::string& to, double fraction) {
  const std::string bytes = read_file(from);
  std::ofstream(to, std::ios::binary) << bytes.substr(0, static_cast<size_t>(bytes.size() * fraction));
}

TEST(Checkpoint, BadFilesGiveOneLineErrorsNamingTheFile) {
  const std::string dir = temp_dir("bad_checkpoints");
  expect_input_error(dir + "/missing.pth", "no such file");
  std::ofstream(dir + "/empty.pth").close();
  expect_input_error(dir + "/empty.pth", "empty");
  std::ofstream(dir + "/text.pth") << "this is not a checkpoint at all";
  expect_input_error(dir + "/text.pth", "not a checkpoint");
  for (double fraction : {0.3, 0.9, 0.999}) {
    write_prefix(fixture("dtypes/zip.pth"), dir + "/cut_zip.pth", fraction);
    expect_input_error(dir + "/cut_zip.pth", "");
    write_prefix(fixture("dtypes/legacy.pth"), dir + "/cut_legacy.pth", fraction);
    expect_input_error(dir + "/cut_legacy.pth", "truncated");
    write_prefix(fixture("dtypes/tensors.safetensors"), dir + "/cut.safetensors", fraction);
    expect_input_error(dir + "/cut.safetensors", "");
  }
}

TEST(AtomicFile, UncommittedWriteLeavesThePreviousFile) {
  const std::string dir = temp_dir("atomic");
  const std::string path = dir + "/model.pth";
  write_file_atomically(path, "old");
  {
    AtomicFile file(path);
    file.write("new and longer", 14);
  }  // destroyed without commit, as when an exception interrupts a save
  EXPECT_EQ(read_file(path), "old");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), std::filesystem::directory_iterator()), 1);
  EXPECT_THROW(write_file_atomically(dir + "/no/such/dir/x.pth", "x"), InputError);
}

// The record segkit keeps beside the weights survives both formats, and files without one
// (written by PyTorch) have none.
TEST(Checkpoint, InfoRoundTripsInBothFormatsAndOfficialFilesHaveNone) {
  const std::string dir = temp_dir("checkpoint_info");
  CheckpointInfo info;
  info.model = "unet";
  info.task = "semantic";
  info.num_classes = 3;
  info.unet = UNetOptions().depth(4).base_width(8).padding(true).upsampling(Upsampling::kNearest).num_classes(3);
  info.class_names = {"sky", "road", "car"};
  info.palette = named_palette("camvid", 3);
  info.ignore_index = 11;
  info.preprocess = Preprocess::imagenet(110, 96);
  const StateDict state = {{"a", at::randn({2, 3})}, {"b", at::arange(4)}};
  for (const std::string name : {"x.pth", "x.safetensors"}) {
    save_checkpoint(state, info, dir + "/" + name);
    const auto back = read_checkpoint_info(dir + "/" + name);
    ASSERT_TRUE(back.has_value()) << name;
    EXPECT_EQ(back->to_json(), info.to_json()) << name;
    EXPECT_EQ(back->unet->upsampling(), Upsampling::kNearest);
    EXPECT_EQ(back->preprocess->crop, 96);
    EXPECT_TRUE(back->palette.equal(info.palette));
    const StateDict loaded = load_state_dict(dir + "/" + name);
    ASSERT_EQ(loaded.size(), 2u);
    EXPECT_TRUE(loaded[0].second.equal(state[0].second));
  }
  EXPECT_EQ(detect_checkpoint_format(dir + "/x.safetensors"), CheckpointFormat::kSafetensors);
  EXPECT_FALSE(read_checkpoint_info(fixture("dtypes/zip.pth")).has_value());
  EXPECT_FALSE(read_checkpoint_info(fixture("dtypes/legacy.pth")).has_value());
  EXPECT_FALSE(read_checkpoint_info(fixture("dtypes/tensors.safetensors")).has_value());
  // A record from a newer segkit, or a malformed one, is named.
  save_state_dict(state, dir + "/newer.pth", CheckpointFormat::kTorchZip,
                  R"({"format": "segkit.checkpoint", "version": 99, "model": "unet", "num_classes": 2})");
  EXPECT_THROW_MESSAGE(read_checkpoint_info(dir + "/newer.pth"), "newer.pth: written by a newer segkit");
  save_state_dict(state, dir + "/bad.pth", CheckpointFormat::kTorchZip, R"({"format": "segkit.checkpoint"})");
  EXPECT_THROW_MESSAGE(read_checkpoint_info(dir + "/bad.pth"), "bad.pth: malformed segkit record");
}

}  // namespace
}  // namespace segkit
