#include "segkit/core/checkpoint.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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
  for (const auto& item : std::filesystem::directory_iterator(dir)) {
    EXPECT_EQ(item.path().string().find(".segkit-tmp."), std::string::npos) << item.path();
  }
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
  std::filesystem::create_directory(dir + "/folder.pth");
  expect_input_error(dir + "/folder.pth", "is a folder, not a file");
  ASSERT_EQ(::mkfifo((dir + "/fifo.pth").c_str(), 0600), 0);
  expect_input_error(dir + "/fifo.pth", "is a FIFO (named pipe), not a regular file");
  for (double fraction : {0.3, 0.9, 0.999}) {
    write_prefix(fixture("dtypes/zip.pth"), dir + "/cut_zip.pth", fraction);
    expect_input_error(dir + "/cut_zip.pth", "");
    write_prefix(fixture("dtypes/legacy.pth"), dir + "/cut_legacy.pth", fraction);
    expect_input_error(dir + "/cut_legacy.pth", "truncated");
    write_prefix(fixture("dtypes/tensors.safetensors"), dir + "/cut.safetensors", fraction);
    expect_input_error(dir + "/cut.safetensors", "");
  }
}

// safetensors files as the reference reader (the safetensors crate) refuses them.
std::string safetensors_file(const std::string& header, size_t data_bytes, uint64_t header_size = 0) {
  const uint64_t size = header_size ? header_size : header.size();
  return std::string(reinterpret_cast<const char*>(&size), 8) + header + std::string(data_bytes, '\x01');
}

TEST(Checkpoint, SafetensorsAreCheckedAsStrictlyAsTheReferenceReader) {
  const std::string dir = temp_dir("strict_safetensors");
  auto entry = [](const char* name, const std::string& shape, uint64_t begin, uint64_t end) {
    return str_cat("\"", name, "\":{\"dtype\":\"F32\",\"shape\":", shape, ",\"data_offsets\":[", begin, ",", end, "]}");
  };
  const std::string two = "{" + entry("a", "[2]", 0, 8) + "," + entry("b", "[1]", 8, 12) + "}";
  const std::string swapped = "{" + entry("b", "[1]", 8, 12) + "," + entry("a", "[2]", 0, 8) + "}";
  write_file_atomically(dir + "/ok.safetensors", safetensors_file(two, 12));
  EXPECT_EQ(load_state_dict(dir + "/ok.safetensors").size(), 2u);
  write_file_atomically(dir + "/listed_out_of_order.safetensors", safetensors_file(swapped, 12));
  EXPECT_EQ(load_state_dict(dir + "/listed_out_of_order.safetensors")[0].first, "b") << "the header's order is kept";

  const std::vector<std::pair<std::string, std::string>> cases = {
      {safetensors_file(two, 16), "has 4 bytes after the last tensor's data"},
      {safetensors_file(two, 8), "data is truncated (the header places tensors up to byte 12, the file holds 8)"},
      {safetensors_file("{" + entry("a", "[2]", 0, 8) + "," + entry("b", "[1]", 12, 16) + "}", 16),
       "tensor b begins at byte 12 of the data, leaving a gap"},
      {safetensors_file("{" + entry("a", "[2]", 0, 8) + "," + entry("b", "[1]", 4, 8) + "}", 8),
       "tensor b begins at byte 4 of the data, inside the tensor before it"},
      {safetensors_file("{" + entry("a", "[2]", 8, 0) + "}", 8), "has data_offsets that end before they begin"},
      {safetensors_file("{" + entry("a", "[18446744073709551616]", 0, 8) + "}", 8),
       "has a shape entry that is not a whole number from 0 to 2^63 (1.8446744073709552e+19)"},
      {safetensors_file("{" + entry("a", "[4294967296,4294967296,16]", 0, 8) + "}", 8),
       "has more elements than 64 bits can count"},
      {safetensors_file("{" + entry("a", "[3]", 0, 8) + "}", 8), "has data_offsets [0, 8] of 8 bytes, but its shape"},
      {safetensors_file(two, 12, 4096), "safetensors header of 4096 bytes runs past the end of the file"},
      {safetensors_file(two, 12, uint64_t{1} << 40), "over the format's limit of 100000000"},
      {safetensors_file("{\"__metadata__\":{\"segkit\":3}}", 0), "__metadata__ entry segkit is not a string"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string path = dir + "/bad" + std::to_string(i) + ".safetensors";
    write_file_atomically(path, cases[i].first);
    expect_input_error(path, cases[i].second);
  }
}

// Legacy files record the writer's byte order and C type sizes; storages are raw bytes in them.
TEST(Checkpoint, LegacyFilesFromBigEndianOrFourByteLongMachinesAreRefused) {
  const std::string dir = temp_dir("legacy_system_info");
  const std::string legacy = read_file(fixture("dtypes/legacy.pth"));
  std::string big_endian = legacy;
  const size_t flag = big_endian.find("little_endian") + std::string("little_endian").size();
  ASSERT_EQ(big_endian.substr(flag, 3), std::string("q\x02\x88")) << "memoized (BINPUT 2), then True";
  big_endian[flag + 2] = '\x89';
  write_file_atomically(dir + "/big_endian.pth", big_endian);
  expect_input_error(dir + "/big_endian.pth", "legacy checkpoint written on a big-endian machine");
  // torch.save writes long=4 whatever the machine (struct.Struct('=l').size): read as usual.
  std::string odd_long = legacy;
  const size_t size = odd_long.find("long") + 4;
  ASSERT_EQ(odd_long.substr(size, 4), std::string("q\x07K\x04")) << "memoized (BINPUT 7), then 4";
  odd_long[size + 3] = '\x08';
  write_file_atomically(dir + "/long8.pth", odd_long);
  expect_same(load_state_dict(dir + "/long8.pth"), expected_dtype_state(), "long=8: element widths follow the dtypes");
  odd_long[size + 3] = '\x02';
  write_file_atomically(dir + "/long2.pth", odd_long);
  expect_input_error(dir + "/long2.pth", "its system info gives a C long 2 bytes; torch.save writes 4 or 8");
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

// A temporary names its writer (pid and start time): one whose process is gone was abandoned
// (kill -9, power loss) and the next AtomicFile in its folder removes it; a live writer's stays.
TEST(AtomicFile, RemovesTemporariesWhoseProcessIsGone) {
  const std::string dir = temp_dir("abandoned");
  const pid_t gone = ::fork();
  if (gone == 0) ::_exit(0);
  ASSERT_GT(gone, 0);
  ::waitpid(gone, nullptr, 0);
  char host[256] = {};
  ASSERT_EQ(::gethostname(host, sizeof(host) - 1), 0);
  const std::string abandoned = str_cat(dir, "/last.pth.segkit-tmp.", gone, ".12345.", host);
  const std::string other_machine = str_cat(dir, "/last.pth.segkit-tmp.", gone, ".12345.another-host");
  std::string live;
  {
    AtomicFile writing(dir + "/best.pth");  // this process's: alive
    live = writing.temporary_path();
    write_file_atomically(abandoned, "half a checkpoint");  // swept before this file existed
    write_file_atomically(dir + "/notes.tmp.1", "not segkit's");
    write_file_atomically(other_machine, "its process may be alive there (a folder on NFS)");
    EXPECT_EQ(remove_abandoned_temporaries(dir), 1);
    EXPECT_FALSE(std::filesystem::exists(abandoned));
    EXPECT_TRUE(std::filesystem::exists(other_machine));
    EXPECT_TRUE(std::filesystem::exists(live));
    EXPECT_TRUE(std::filesystem::exists(dir + "/notes.tmp.1"));
  }
  EXPECT_FALSE(std::filesystem::exists(live)) << "removed when the writer gave up";

  // The sweep AtomicFile does by itself, once per folder and process.
  const std::string fresh = temp_dir("abandoned_swept");
  std::ofstream(str_cat(fresh, "/a_mask.png.segkit-tmp.", gone, ".1.", host)) << "x";
  write_file_atomically(fresh + "/b_mask.png", "y");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(fresh), std::filesystem::directory_iterator()), 1);
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
