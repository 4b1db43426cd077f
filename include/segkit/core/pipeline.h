#pragma once

// A three-stage pipeline for commands that run a network over many files: loading (decoding,
// preprocessing) runs ahead on worker threads, the network on the calling thread, and storing
// (postprocessing, encoding, writing) behind it on a thread of its own. Queues are bounded, so
// memory stays bounded however many items there are; items reach the network and the store in
// their order; the first error (in item order) stops the pipeline and is rethrown to the caller
// after the items before it are stored, as a loop over the items would have left things.

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "segkit/core/runtime.h"

namespace segkit {

struct PipelineOptions {
  /// Loader threads; 0 loads on the calling thread, between network calls (no overlap).
  size_t loaders = 1;
  /// Items loaded ahead of the network, and results waiting for the store, at most.
  size_t depth = 2;
  /// Called first on each loader thread and on the store thread (e.g. single_threaded_here).
  std::function<void()> thread_setup;
};

/// For each i in [0, count): store(run(load(i))). `load` may return std::nullopt to skip an
/// item (neither run nor stored). `load` runs on the loader threads, `store` on its own thread,
/// `run` on the calling thread.
template <typename Loaded, typename Result>
void run_pipeline(size_t count, const std::function<std::optional<Loaded>(size_t)>& load,
                  const std::function<Result(Loaded&)>& run, const std::function<void(Result&)>& store,
                  const PipelineOptions& options = {}) {
  const size_t depth = options.depth < 1 ? 1 : options.depth;
  std::mutex mutex;
  std::condition_variable changed;
  // Loaded items by index (nullopt: skipped), and errors by index.
  std::map<size_t, std::optional<Loaded>> loaded;
  std::map<size_t, std::exception_ptr> load_errors;
  size_t next_to_load = 0, next_to_run = 0;
  bool stopping = false;
  std::deque<Result> results;  // waiting for the store, in order
  bool run_done = false;
  std::exception_ptr store_error;

  const auto loader = [&] {
    if (options.thread_setup) options.thread_setup();
    for (;;) {
      size_t i;
      {
        std::unique_lock<std::mutex> lock(mutex);
        changed.wait(lock, [&] { return stopping || next_to_load >= count || next_to_load < next_to_run + depth; });
        if (stopping || next_to_load >= count) return;
        i = next_to_load++;
      }
      std::optional<Loaded> item;
      std::exception_ptr error;
      try {
        item = load(i);
      } catch (...) {
        error = std::current_exception();
      }
      std::lock_guard<std::mutex> lock(mutex);
      if (error) load_errors[i] = error;
      loaded.emplace(i, std::move(item));
      changed.notify_all();
    }
  };
  const auto storer = [&] {
    if (options.thread_setup) options.thread_setup();
    for (;;) {
      std::optional<Result> result;
      {
        std::unique_lock<std::mutex> lock(mutex);
        changed.wait(lock, [&] { return !results.empty() || run_done; });
        if (results.empty()) return;
        result = std::move(results.front());
        results.pop_front();
        changed.notify_all();
      }
      try {
        store(*result);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        store_error = std::current_exception();
        stopping = true;
        changed.notify_all();
        return;
      }
    }
  };

  std::vector<std::thread> loaders;
  for (size_t t = 0; t < options.loaders && t < count; ++t) loaders.emplace_back(loader);
  std::thread store_thread(storer);
  std::exception_ptr error;
  for (size_t i = 0; i < count; ++i) {
    std::optional<Loaded> item;
    try {
      if (options.loaders == 0) {
        item = load(i);
      } else {
        std::unique_lock<std::mutex> lock(mutex);
        changed.wait(lock, [&] { return loaded.count(i) > 0 || stopping; });
        if (stopping) break;
        if (load_errors.count(i)) std::rethrow_exception(load_errors[i]);
        item = std::move(loaded[i]);
        loaded.erase(i);
        next_to_run = i + 1;
        changed.notify_all();
      }
      if (!item) continue;
      Result result = run(*item);
      item.reset();
      std::unique_lock<std::mutex> lock(mutex);
      changed.wait(lock, [&] { return results.size() < depth || stopping; });
      if (stopping) break;
      results.emplace_back(std::move(result));
      changed.notify_all();
    } catch (...) {
      error = std::current_exception();
      break;
    }
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    run_done = true;
    if (error) stopping = true;  // loaders stop; the store finishes what came before the error
    changed.notify_all();
  }
  store_thread.join();
  {
    std::lock_guard<std::mutex> lock(mutex);
    stopping = true;
    changed.notify_all();
  }
  for (std::thread& t : loaders) t.join();
  if (store_error) std::rethrow_exception(store_error);
  if (error) std::rethrow_exception(error);
}

/// Items [0, count) in batches of `batch_size`, as the commands run a network over files:
/// `load(begin, end)` reads and preprocesses items [begin, end) ahead on a loader thread, `run`
/// passes the batch through the network on the calling thread (dropping what it no longer
/// needs), `store` writes its results behind it. The helper threads run LibTorch's operations
/// on one core each (single_threaded_here), leaving the others to the network.
template <typename Batch>
void run_batch_pipeline(size_t count, size_t batch_size, const std::function<Batch(size_t, size_t)>& load,
                        const std::function<void(Batch&)>& run, const std::function<void(Batch&)>& store) {
  const size_t step = batch_size < 1 ? 1 : batch_size;
  PipelineOptions options;
  options.thread_setup = single_threaded_here;
  run_pipeline<Batch, Batch>(
      (count + step - 1) / step,
      [&](size_t b) -> std::optional<Batch> { return load(b * step, std::min(count, (b + 1) * step)); },
      [&](Batch& batch) {
        run(batch);
        return std::move(batch);
      },
      store, options);
}

}  // namespace segkit
