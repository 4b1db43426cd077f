// COCO's run-length encoding, on cases worked out by hand from pycocotools' maskApi.c
// (rleEncode, rleToString, rleFrString, rleArea, rleToBbox), and round trips on random masks.

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "segkit/core/errors.h"
#include "segkit/eval/rle.h"

namespace segkit {
namespace {

at::Tensor mask_of(std::vector<uint8_t> values, int64_t height, int64_t width) {
  return at::tensor(std::vector<int64_t>(values.begin(), values.end())).view({height, width}).to(at::kByte);
}

TEST(Rle, CountsRunDownTheColumnsStartingWithZeros) {
  // 3 x 2: column 0 reads 0,1,0 and column 1 reads 1,1,0: runs 1 zero, 1 one, 1 zero, 2 ones, 1 zero.
  const at::Tensor mask = mask_of({0, 1, 1, 1, 0, 0}, 3, 2);
  const Rle rle = rle_encode(mask);
  EXPECT_EQ(rle.height, 3);
  EXPECT_EQ(rle.width, 2);
  EXPECT_EQ(rle.counts, (std::vector<uint32_t>{1, 1, 1, 2, 1}));
  EXPECT_EQ(rle_area(rle), 3);
  EXPECT_TRUE(rle_decode(rle).equal(mask));
  // A mask that starts inside begins with an empty run of zeros: columns 1,1 and 0,1.
  EXPECT_EQ(rle_encode(mask_of({1, 0, 1, 1}, 2, 2)).counts, (std::vector<uint32_t>{0, 2, 1, 1}));
  EXPECT_EQ(rle_encode(at::zeros({4, 5}, at::kByte)).counts, (std::vector<uint32_t>{20}));
}

TEST(Rle, CompressedStringsAsPycocotoolsWritesThem) {
  // Counts 1,1,1,2,1 are written as 1, 1, 1, 2-1, 1-1: one character each, '0' + value.
  EXPECT_EQ(rle_to_string({3, 2, {1, 1, 1, 2, 1}}), "11110");
  // 38 x 1 with runs 0,5,30,2,1: 30 needs two 5-bit groups (30 has the sign bit 0x10, so a
  // continuation: 'n' = '0' + 30 + 32, then '0'); 2-5 = -3 is 'M' ('0' + 29); 1-30 = -29 is
  // 'S' ('0' + 3 + 32) then 'O' ('0' + 31).
  const Rle rle{38, 1, {0, 5, 30, 2, 1}};
  EXPECT_EQ(rle_to_string(rle), "05n0MSO");
  EXPECT_EQ(rle_from_string("05n0MSO", 38, 1).counts, rle.counts);
  EXPECT_EQ(rle_from_string("11110", 3, 2).counts, (std::vector<uint32_t>{1, 1, 1, 2, 1}));
  EXPECT_EQ(rle_to_string({0, 0, {}}), "");
}

TEST(Rle, BoundingBoxesAsToBbox) {
  // Pixels at (x 0, y 1), (1, 0), (1, 1): x 0..1, y 0..1.
  const std::array<double, 4> box = rle_bbox(rle_encode(mask_of({0, 1, 1, 1, 0, 0}, 3, 2)));
  EXPECT_EQ(box, (std::array<double, 4>{0, 0, 2, 2}));
  // A run of ones that wraps from the bottom of column 0 to the top of column 1 counts as the
  // full height, as pycocotools' toBbox does.
  EXPECT_EQ(rle_bbox(rle_encode(mask_of({0, 1, 0, 0, 1, 0}, 3, 2))), (std::array<double, 4>{0, 0, 2, 3}));
  EXPECT_EQ(rle_bbox(rle_encode(at::zeros({4, 5}, at::kByte))), (std::array<double, 4>{0, 0, 0, 0}));
  // One pixel at row 2, column 3 of a 4 x 5 mask.
  at::Tensor one = at::zeros({4, 5}, at::kByte);
  one[2][3] = 1;
  EXPECT_EQ(rle_bbox(rle_encode(one)), (std::array<double, 4>{3, 2, 1, 1}));
}

TEST(Rle, RoundTripsRandomMasks) {
  at::manual_seed(3);
  for (int trial = 0; trial < 50; ++trial) {
    const int64_t h = 1 + trial % 17, w = 1 + (trial * 7) % 23;
    // Blobs and long runs as well as noise: runs longer than 31 need several characters.
    const at::Tensor mask = trial % 2 ? at::rand({h, w}).gt(0.5) : at::rand({h, w}).gt(0.97).logical_not();
    const Rle rle = rle_encode(mask);
    EXPECT_TRUE(rle_decode(rle).equal(mask.to(at::kByte))) << h << "x" << w;
    EXPECT_EQ(rle_from_string(rle_to_string(rle), h, w).counts, rle.counts) << h << "x" << w;
    EXPECT_EQ(rle_area(rle), mask.sum().item<int64_t>());
  }
}

TEST(Rle, MalformedCountsAreErrors) {
  EXPECT_THROW(rle_decode({2, 2, {1, 1}}), InputError) << "2 pixels for a 2 x 2 mask";
  EXPECT_THROW(rle_from_string("11110", 4, 2), InputError) << "6 pixels for 8";
  EXPECT_THROW(rle_from_string("1~", 3, 2), InputError) << "a character past 'o'";
  EXPECT_THROW(rle_from_string("1n", 3, 2), InputError) << "ends inside a number";
}

}  // namespace
}  // namespace segkit
