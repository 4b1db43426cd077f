#include "segkit/core/state_dict.h"

#include <gtest/gtest.h>

#include "segkit/core/errors.h"
#include "segkit/layers/conv_bn.h"

namespace segkit {
namespace {

ConvNormAct small_block() { return ConvNormAct(ConvNormActOptions(3, 5, 3)); }

StateDict state_of(const ConvNormAct& block) {
  StateDict state;
  for (auto& [name, t] : module_state_dict(*block)) state.emplace_back(name, t.clone());
  return state;
}

TEST(StateDict, NamesFollowTorchvision) {
  std::vector<std::string> names;
  for (const auto& [name, t] : module_state_dict(*small_block())) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"0.weight", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                                             "1.num_batches_tracked"}));
}

TEST(StateDict, StrictLoadCopiesAndConvertsDtypes) {
  ConvNormAct source = small_block();
  StateDict state = state_of(source);
  for (auto& [name, t] : state) {
    if (t.is_floating_point()) t = (at::randn_like(t) * 3).to(at::kHalf);
  }
  ConvNormAct target = small_block();
  const LoadReport report = load_state_dict_into(*target, state, /*strict=*/true, "file.pth");
  EXPECT_TRUE(report.empty());
  EXPECT_TRUE(target->named_parameters()["0.weight"].equal(state[0].second.to(at::kFloat)));
}

TEST(StateDict, StrictLoadNamesEveryProblemAndChangesNothing) {
  StateDict state = state_of(small_block());
  state.erase(state.begin() + 1);                      // 1.weight missing
  state.emplace_back("extra.weight", at::zeros({2}));  // unexpected
  state[0].second = at::zeros({5, 3, 1, 1});           // 0.weight of another shape
  ConvNormAct target = small_block();
  const at::Tensor before = target->named_parameters()["1.bias"].clone();
  try {
    load_state_dict_into(*target, state, /*strict=*/true, "other.pth");
    FAIL() << "no error";
  } catch (const InputError& e) {
    const std::string message = e.what();
    for (const char* fragment : {"other.pth", "1 missing (1.weight)", "1 unexpected (extra.weight)",
                                 "0.weight [5, 3, 1, 1] in the file vs [5, 3, 3, 3]"}) {
      EXPECT_NE(message.find(fragment), std::string::npos) << fragment << " not in: " << message;
    }
  }
  EXPECT_TRUE(target->named_parameters()["1.bias"].equal(before));
}

TEST(StateDict, NonStrictLoadsWhatFitsAndReports) {
  ConvNormAct source = small_block();
  StateDict state = state_of(source);
  state[0].second = at::zeros({5, 3, 1, 1});
  ConvNormAct target = small_block();
  const LoadReport report = load_state_dict_into(*target, state, /*strict=*/false, "x.pth");
  EXPECT_EQ(report.mismatched.size(), 1u);
  EXPECT_TRUE(target->named_parameters()["1.weight"].equal(source->named_parameters()["1.weight"]));
  EXPECT_FALSE(target->named_parameters()["0.weight"].equal(at::zeros({5, 3, 1, 1})));
}

TEST(StateDict, NumBatchesTrackedMayBeAbsentAsInOldFiles) {
  StateDict state = state_of(small_block());
  state.pop_back();  // 1.num_batches_tracked
  ConvNormAct target = small_block();
  EXPECT_TRUE(load_state_dict_into(*target, state, /*strict=*/true, "old.pth").empty());
}

}  // namespace
}  // namespace segkit
