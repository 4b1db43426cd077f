#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "segkit/core/errors.h"
#include "segkit/core/pickle.h"

namespace segkit::pickle {
namespace {

ValuePtr sample() {
  auto dict = Value::of_kind(Kind::kDict);
  dict->set("int_small", Value::of_int(7));
  dict->set("int_mid", Value::of_int(40000));
  dict->set("int_negative", Value::of_int(-123456));
  dict->set("int_wide", Value::of_int(int64_t{1} << 40));
  dict->set("int_most_negative", Value::of_int(INT64_MIN));
  dict->set("real", Value::of_float(-2.5e-3));
  dict->set("text", Value::of_string("héllo"));
  dict->set("flag", Value::of_bool(true));
  dict->set("nothing", Value::none());
  auto list = Value::of_kind(Kind::kList);
  list->items = {Value::of_int(1), Value::of_string("two")};
  dict->set("list", list);
  auto tuple = Value::of_kind(Kind::kTuple);
  tuple->items = {Value::of_int(3), Value::of_float(4.0)};
  dict->set("tuple", tuple);
  auto bytes = Value::of_kind(Kind::kBytes);
  bytes->text = std::string("\x00\x7f\x80\xff", 4);
  dict->set("bytes", bytes);
  return dict;
}

ValuePtr roundtrip(const Value& value) {
  const std::string bytes = pickle(value, nullptr);
  size_t offset = 0;
  ValuePtr back = unpickle(bytes.data(), bytes.size(), offset, nullptr, "memory");
  EXPECT_EQ(offset, bytes.size());
  return back;
}

TEST(Pickle, RoundTripsPlainValues) {
  const ValuePtr original = sample();
  const ValuePtr back = roundtrip(*original);
  ASSERT_EQ(back->kind, Kind::kDict);
  ASSERT_EQ(back->entries.size(), original->entries.size());
  EXPECT_EQ(back->get("int_small")->integer, 7);
  EXPECT_EQ(back->get("int_mid")->integer, 40000);
  EXPECT_EQ(back->get("int_negative")->integer, -123456);
  EXPECT_EQ(back->get("int_wide")->integer, int64_t{1} << 40);
  EXPECT_EQ(back->get("int_most_negative")->integer, INT64_MIN);
  EXPECT_DOUBLE_EQ(back->get("real")->real, -2.5e-3);
  EXPECT_EQ(back->get("text")->text, "héllo");
  EXPECT_TRUE(back->get("flag")->boolean);
  EXPECT_EQ(back->get("nothing")->kind, Kind::kNone);
  EXPECT_EQ(back->get("list")->items.at(1)->text, "two");
  EXPECT_EQ(back->get("tuple")->kind, Kind::kTuple);
  EXPECT_DOUBLE_EQ(back->get("tuple")->items.at(1)->real, 4.0);
  EXPECT_EQ(back->get("bytes")->kind, Kind::kBytes);
  EXPECT_EQ(back->get("bytes")->text, std::string("\x00\x7f\x80\xff", 4));
  EXPECT_EQ(back->entries.front().first->text, "int_small");  // insertion order kept
}

TEST(Pickle, RoundTripsTensorsThroughPersistentIds) {
  std::vector<at::Tensor> saved;
  auto save = [&](const at::Tensor& t) {
    saved.push_back(t);
    auto pid = Value::of_kind(Kind::kTuple);
    auto type = Value::of_kind(Kind::kGlobal);
    type->text = "torch." + storage_type_name(t.scalar_type());
    pid->items = {Value::of_string("storage"), type, Value::of_string(std::to_string(saved.size() - 1)),
                  Value::of_string("cpu"), Value::of_int(t.numel())};
    return pid;
  };
  auto load = [&](const ValuePtr& pid) {
    EXPECT_EQ(storage_dtype(pid->items.at(1)->text, "memory"), at::kHalf);
    return Value::of_tensor(saved.at(std::stoul(pid->items.at(2)->text)).flatten());
  };
  const at::Tensor t = at::arange(12, at::kHalf).reshape({3, 4});
  auto dict = Value::of_kind(Kind::kDict);
  dict->set("w", Value::of_tensor(t));
  const std::string bytes = pickle(*dict, save);
  size_t offset = 0;
  const ValuePtr back = unpickle(bytes.data(), bytes.size(), offset, load, "memory");
  const at::Tensor w = back->get("w")->tensor;
  EXPECT_EQ(w.sizes(), t.sizes());
  EXPECT_TRUE(w.equal(t));
}

TEST(Pickle, EveryTruncationIsAnInputError) {
  const std::string bytes = pickle(*sample(), nullptr);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    size_t offset = 0;
    EXPECT_THROW(unpickle(bytes.data(), cut, offset, nullptr, "cut.pkl"), InputError) << "cut at " << cut;
  }
}

TEST(Pickle, ReportsUnsupportedOpcodeWithItsName) {
  const std::string bytes("\x80\x02\xff.", 4);
  size_t offset = 0;
  try {
    unpickle(bytes.data(), bytes.size(), offset, nullptr, "odd.pkl");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("odd.pkl"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("0xff"), std::string::npos);
  }
}

TEST(Pickle, RejectsStackUnderflowAndBadMemo) {
  for (const std::string& bytes :
       {std::string("\x80\x02s.", 4), std::string("\x80\x02h\x05.", 5), std::string("\x80\x02Q.", 4),
        std::string("\x80\x02"
                    "0.",
                    4)}) {
    size_t offset = 0;
    EXPECT_THROW(unpickle(bytes.data(), bytes.size(), offset, nullptr, "bad.pkl"), InputError);
  }
}

// Hostile pickles: a tuple nested 200,000 levels deep (EMPTY_TUPLE, then TUPLE1 again and
// again) and a list the same (200,000 MARKs, EMPTY_LIST, 200,000 LISTs). Reading and releasing
// them must not overflow the stack (they crashed with SIGSEGV in the nested destructors).
TEST(Pickle, DeeplyNestedValuesAreReadAndReleasedWithoutCrashing) {
  constexpr size_t kDepth = 200000;
  const std::string tuples = "\x80\x02)" + std::string(kDepth, '\x85') + ".";
  const std::string lists = "\x80\x02" + std::string(kDepth, '(') + "]" + std::string(kDepth, 'l') + ".";
  for (const std::string& bytes : {tuples, lists}) {
    size_t offset = 0;
    try {
      ValuePtr value = unpickle(bytes.data(), bytes.size(), offset, nullptr, "nested.pkl");
      EXPECT_TRUE(value->kind == Kind::kTuple || value->kind == Kind::kList);
      size_t depth = 0;
      for (const Value* v = value.get(); !v->items.empty(); v = v->items[0].get()) ++depth;
      EXPECT_EQ(depth, kDepth);
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("nested.pkl"), std::string::npos) << e.what();
    }
  }
}

// A state dict entry as torch.save pickles it: the key, then
// _rebuild_tensor_v2(storage, 0, SIZES, STRIDES, False, OrderedDict()), with hand-made sizes.
std::string state_dict_pickle(const std::string& sizes, const std::string& strides) {
  using namespace std::string_literals;  // the opcodes hold NUL bytes
  return "\x80\x02}(X\x0c\x00\x00\x00"s + "conv1.weight" + "ctorch._utils\n_rebuild_tensor_v2\n"s +
         "(X\x07\x00\x00\x00storage\x85QK\x00"s + sizes + strides + "\x89" + "ccollections\nOrderedDict\n)RtRu.";
}

std::string read_error(const std::string& bytes) {
  const at::Tensor storage = at::zeros({4});
  size_t offset = 0;
  try {
    unpickle(
        bytes.data(), bytes.size(), offset, [&](const ValuePtr&) { return Value::of_tensor(storage); }, "hostile.pth");
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

TEST(Pickle, HostileTensorRecordsNameTheTensor) {
  // A 4-element storage: (4,) fits, (100,) reaches past it.
  size_t offset = 0;
  const std::string fits = state_dict_pickle("K\x04\x85", "K\x01\x85");
  const at::Tensor storage = at::arange(4.0);
  const ValuePtr dict = unpickle(
      fits.data(), fits.size(), offset, [&](const ValuePtr&) { return Value::of_tensor(storage); }, "ok.pth");
  EXPECT_TRUE(dict->get("conv1.weight")->tensor.equal(storage));

  EXPECT_EQ(read_error(state_dict_pickle("K\x64\x85", "K\x01\x85")),
            "hostile.pth: tensor conv1.weight reaches past the end of its storage (element 99 of 4; the file is "
            "corrupt or truncated)");
  // 2^64 (LONG1 of 9 bytes) and 2^64 - 1 (8 bytes: -1 as int64).
  EXPECT_EQ(read_error(state_dict_pickle(std::string("\x8a\x09") + std::string(8, '\0') + "\x01\x85", "K\x01\x85")),
            "hostile.pth: tensor conv1.weight has sizes too large for 64 bits");
  EXPECT_EQ(read_error(state_dict_pickle(std::string("\x8a\x08") + std::string(8, '\xff') + "\x85", "K\x01\x85")),
            "hostile.pth: tensor conv1.weight has a negative size or stride (-1, 1)");
  // Sizes and strides whose last element's index overflows 64 bits.
  const std::string huge = std::string("\x8a\x08") + std::string(7, '\xff') + "\x3f";
  EXPECT_EQ(read_error(state_dict_pickle("K\x03" + huge + "\x86", huge + huge + "\x86")),
            "hostile.pth: tensor conv1.weight has sizes and strides too large for 64 bits");
}

TEST(Pickle, ContainersThatHoldThemselvesAndBadMemoKeysAreInputErrors) {
  // EMPTY_LIST, MEMOIZE-by-text "p0", GET "g0", APPEND: a list inside itself.
  EXPECT_EQ(read_error(std::string("\x80\x02]p0\ng0\na.")), "hostile.pth: corrupt pickle (a container holds itself)");
  EXPECT_EQ(read_error(std::string("\x80\x02]pX\n.")), "hostile.pth: corrupt pickle (bad memo key at byte 6)");
  EXPECT_EQ(read_error(std::string("\x80\x02]p99999999999999999999999\n.")),
            "hostile.pth: corrupt pickle (bad memo key at byte 28)");
}

TEST(Pickle, StorageNamesMapToDtypes) {
  for (auto dtype : {at::kFloat, at::kDouble, at::kHalf, at::kBFloat16, at::kLong, at::kInt, at::kShort, at::kChar,
                     at::kByte, at::kBool}) {
    EXPECT_EQ(storage_dtype("torch." + storage_type_name(dtype), "x"), dtype);
  }
  EXPECT_THROW(storage_dtype("torch.QInt8Storage", "x"), InputError);
}

}  // namespace
}  // namespace segkit::pickle
