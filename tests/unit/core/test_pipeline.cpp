#include "segkit/core/pipeline.h"

#include <gtest/gtest.h>

#include "segkit/core/runtime.h"

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace segkit {
namespace {

using std::chrono::microseconds;

// Sleeps of a few hundred microseconds, different per item, so that loaders finish out of order.
void jitter(size_t i) { std::this_thread::sleep_for(microseconds((i * 7919) % 500)); }

// Raises `most` to `now` if it is lower (any thread).
void record_most(std::atomic<int>& most, int now) {
  int seen = most.load();
  while (now > seen && !most.compare_exchange_weak(seen, now)) {
  }
}

struct Counts {
  std::atomic<int> in_flight{0};  // loaded, not yet stored
  std::atomic<int> most{0};
  void loaded() { record_most(most, ++in_flight); }
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

TEST(Pipeline, SeveralRunnersRunEachItemOnceAndTheStoreTakesThemInOrder) {
  for (const size_t runners : {2, 3}) {
    SCOPED_TRACE("runners " + std::to_string(runners));
    Counts counts;
    std::mutex mutex;
    std::vector<int> runs(200, 0);
    std::set<std::thread::id> run_threads, setup_threads;
    std::atomic<int> running{0}, most_running{0};
    std::vector<size_t> stored;
    const std::thread::id caller = std::this_thread::get_id();
    PipelineOptions options;
    options.runners = runners;
    options.depth = runners;
    options.runner_setup = [&](size_t) {
      std::lock_guard<std::mutex> lock(mutex);
      setup_threads.insert(std::this_thread::get_id());
    };
    run_pipeline<size_t, size_t>(
        200,
        [&](size_t i) -> std::optional<size_t> {
          counts.loaded();
          return i;
        },
        [&](size_t& i) {
          record_most(most_running, ++running);
          jitter(i * 31);  // later items often finish first
          {
            std::lock_guard<std::mutex> lock(mutex);
            ++runs[i];
            run_threads.insert(std::this_thread::get_id());
          }
          --running;
          return i * 10;
        },
        [&](size_t& r) {
          stored.push_back(r / 10);
          --counts.in_flight;
        },
        options);
    ASSERT_EQ(stored.size(), 200u);
    for (size_t i = 0; i < 200; ++i) {
      EXPECT_EQ(stored[i], i);
      EXPECT_EQ(runs[i], 1) << "item " << i;
    }
    EXPECT_EQ(run_threads.count(caller), 0u) << "several runners run on threads of their own";
    EXPECT_EQ(run_threads, setup_threads) << "each set up first";
    EXPECT_LE(setup_threads.size(), runners);
    EXPECT_GE(most_running.load(), 2) << "runs overlapped";
    EXPECT_LE(most_running.load(), static_cast<int>(runners));
    EXPECT_LE(counts.most.load(), static_cast<int>(2 * options.depth + 2 + options.loaders));
  }
}

TEST(Pipeline, WithSeveralRunnersTheFirstErrorInItemOrderWins) {
  // Item 20 fails after item 21 has failed on the other runner: the store takes items 0-19,
  // then rethrows 20's error, and nothing after it is stored.
  std::vector<size_t> stored;
  PipelineOptions options;
  options.runners = 2;
  try {
    run_pipeline<size_t, size_t>(
        100, [](size_t i) -> std::optional<size_t> { return i; },
        [](size_t& i) {
          if (i == 20) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            throw std::runtime_error("item 20");
          }
          if (i == 21) throw std::runtime_error("item 21");
          return i;
        },
        [&](size_t& r) { stored.push_back(r); }, options);
    ADD_FAILURE() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "item 20");
  }
  ASSERT_EQ(stored.size(), 20u);
  for (size_t i = 0; i < 20; ++i) EXPECT_EQ(stored[i], i);
}

TEST(Pipeline, StreamsRunOnTheirShareOfTheThreads) {
  const int before = threads_here();
  set_threads_here(4);
  EXPECT_EQ(threads_here(), 4);
  EXPECT_EQ(inference_streams(0), 2) << "auto: 2";
  EXPECT_EQ(inference_streams(3), 3);
  EXPECT_EQ(inference_streams(8), 4) << "at most one per thread";
  EXPECT_EQ(thread_share(4, 3, 0), 2) << "the remainder to the first";
  EXPECT_EQ(thread_share(4, 3, 2), 1);
  EXPECT_EQ(thread_share(1, 2, 1), 1) << "at least one";
  struct Case {
    int streams;
    size_t items;
    std::multiset<int> threads;  // of the runners that ran
  };
  // 4 threads: 1 stream on them all; 2 of 2; 3 of 2, 1 and 1; 4 of 1; 2 streams over one batch
  // (2 items in batches of 2): one runner on all 4.
  for (const Case& c :
       {Case{1, 16, {4}}, Case{2, 16, {2, 2}}, Case{3, 16, {1, 1, 2}}, Case{4, 16, {1, 1, 1, 1}}, Case{2, 2, {4}}}) {
    std::mutex mutex;
    std::map<std::thread::id, int> seen;
    run_batch_pipeline<size_t>(
        c.items, 2, [](size_t begin, size_t) { return begin; },
        [&](size_t&) {
          std::this_thread::sleep_for(microseconds(2000));  // every runner gets batches
          std::lock_guard<std::mutex> lock(mutex);
          seen[std::this_thread::get_id()] = threads_here();
        },
        [](size_t&) {}, c.streams);
    std::multiset<int> threads;
    for (const auto& [id, count] : seen) threads.insert(count);
    EXPECT_EQ(threads, c.threads) << c.streams << " streams, " << c.items << " items";
  }
  set_threads_here(1);
  EXPECT_EQ(inference_streams(0), 1) << "one thread: one stream";
  set_threads_here(before);
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
