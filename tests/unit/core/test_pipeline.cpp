#include "segkit/core/pipeline.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace segkit {
namespace {

using std::chrono::microseconds;

// Sleeps of a few hundred microseconds, different per item, so that loaders finish out of order.
void jitter(size_t i) { std::this_thread::sleep_for(microseconds((i * 7919) % 500)); }

struct Counts {
  std::atomic<int> in_flight{0};  // loaded, not yet stored
  std::atomic<int> most{0};
  void loaded() {
    const int now = ++in_flight;
    int seen = most.load();
    while (now > seen && !most.compare_exchange_weak(seen, now)) {
    }
  }
};

TEST(Pipeline, RunsAndStoresEveryItemInOrderWithBoundedLookahead) {
  for (const size_t loaders : {0, 1, 3}) {
    SCOPED_TRACE("loaders " + std::to_string(loaders));
    Counts counts;
    std::vector<size_t> ran, stored;
    const std::thread::id caller = std::this_thread::get_id();
    bool run_on_caller = true, stored_elsewhere = true;
    PipelineOptions options;
    options.loaders = loaders;
    options.depth = 2;
    run_pipeline<size_t, size_t>(
        300,
        [&](size_t i) -> std::optional<size_t> {
          jitter(i);
          counts.loaded();
          return i;
        },
        [&](size_t& i) {
          run_on_caller = run_on_caller && std::this_thread::get_id() == caller;
          ran.push_back(i);
          return i * 10;
        },
        [&](size_t& r) {
          stored_elsewhere = stored_elsewhere && std::this_thread::get_id() != caller;
          jitter(r);
          stored.push_back(r / 10);
          --counts.in_flight;
        },
        options);
    ASSERT_EQ(stored.size(), 300u);
    for (size_t i = 0; i < 300; ++i) {
      EXPECT_EQ(ran[i], i);
      EXPECT_EQ(stored[i], i);
    }
    EXPECT_TRUE(run_on_caller);
    EXPECT_TRUE(stored_elsewhere);
    // depth loaded ahead, one being run, depth waiting for the store, one being stored, and
    // one more per loader finishing an item it took before the queue filled.
    EXPECT_LE(counts.most.load(), static_cast<int>(2 * options.depth + 2 + loaders));
  }
}

TEST(Pipeline, SkipsWhatTheLoaderLeavesOut) {
  std::vector<size_t> stored;
  run_pipeline<size_t, size_t>(
      20, [](size_t i) -> std::optional<size_t> { return i % 3 == 0 ? std::nullopt : std::optional<size_t>(i); },
      [](size_t& i) { return i; }, [&](size_t& r) { stored.push_back(r); });
  EXPECT_EQ(stored, (std::vector<size_t>{1, 2, 4, 5, 7, 8, 10, 11, 13, 14, 16, 17, 19}));
}

TEST(Pipeline, ALoadErrorStopsAfterTheItemsBeforeItAreStored) {
  for (const size_t loaders : {0, 2}) {
    std::vector<size_t> ran, stored;
    PipelineOptions options;
    options.loaders = loaders;
    try {
      run_pipeline<size_t, size_t>(
          100,
          [](size_t i) -> std::optional<size_t> {
            jitter(i);
            if (i == 17 || i == 40) throw std::runtime_error("bad item " + std::to_string(i));
            return i;
          },
          [&](size_t& i) {
            ran.push_back(i);
            return i;
          },
          [&](size_t& r) { stored.push_back(r); }, options);
      ADD_FAILURE() << "no error";
    } catch (const std::runtime_error& e) {
      EXPECT_EQ(std::string(e.what()), "bad item 17") << "the first in item order";
    }
    ASSERT_EQ(stored.size(), 17u) << "loaders " << loaders;
    for (size_t i = 0; i < 17; ++i) EXPECT_EQ(stored[i], i);
    EXPECT_EQ(ran.size(), 17u);
  }
}

TEST(Pipeline, AStoreOrRunErrorStopsThePipeline) {
  std::atomic<size_t> loaded{0};
  std::vector<size_t> stored;
  const auto failing_store = [&] {
    run_pipeline<size_t, size_t>(
        1000,
        [&](size_t i) -> std::optional<size_t> {
          ++loaded;
          return i;
        },
        [](size_t& i) { return i; },
        [&](size_t& r) {
          if (r == 5) throw std::runtime_error("disk full");
          stored.push_back(r);
        });
  };
  EXPECT_THROW(failing_store(), std::runtime_error);
  EXPECT_EQ(stored.size(), 5u);
  EXPECT_LT(loaded.load(), 20u) << "loading stops soon after the error";

  stored.clear();
  const auto failing_run = [&] {
    run_pipeline<size_t, size_t>(
        50, [](size_t i) -> std::optional<size_t> { return i; },
        [](size_t& i) {
          if (i == 9) throw std::invalid_argument("network");
          return i;
        },
        [&](size_t& r) { stored.push_back(r); });
  };
  EXPECT_THROW(failing_run(), std::invalid_argument);
  EXPECT_EQ(stored.size(), 9u) << "what ran before the error is stored";
}

// Batches cover the items once, in order, the last one short; each is run before it is stored.
TEST(Pipeline, BatchesCoverTheItemsInOrder) {
  struct Batch {
    size_t begin = 0, end = 0;
    bool ran = false;
  };
  for (const size_t batch_size : {1u, 3u, 7u, 10u}) {
    std::vector<std::pair<size_t, size_t>> stored;
    run_batch_pipeline<Batch>(
        7, batch_size,
        [](size_t begin, size_t end) {
          return Batch{begin, end, false};
        },
        [](Batch& batch) { batch.ran = true; },
        [&](Batch& batch) {
          EXPECT_TRUE(batch.ran);
          stored.emplace_back(batch.begin, batch.end);
        });
    std::vector<std::pair<size_t, size_t>> expected;
    for (size_t begin = 0; begin < 7; begin += batch_size)
      expected.emplace_back(begin, std::min<size_t>(7, begin + batch_size));
    EXPECT_EQ(stored, expected) << "batches of " << batch_size;
  }
}

}  // namespace
}  // namespace segkit
