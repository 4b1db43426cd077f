#pragma once

// A three-stage pipeline for commands that run a network over many files: loading (decoding,
// preprocessing) runs ahead on worker threads, the network on the calling thread or on streams
// of its own, and storing (postprocessing, encoding, writing) behind it on a thread of its own.
// Queues are bounded, so memory stays bounded however many items there are; items reach the
// store in their order; the first error (in item order) stops the pipeline and is rethrown to
// the caller after the items before it are stored, as a loop over the items would have left
// things.

#include <algorithm>
#include <condition_variable>
#include <cstddef>
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
  /// Loader threads; 0: each runner loads its items itself, before running them (with one
  /// runner, no overlap of loading and running).
  size_t loaders = 1;
  /// Threads running the network, each on items of its own (taken in order): 1 runs it on the
  /// calling thread.
  size_t runners = 1;
  /// Items loaded ahead of the network, and results waiting for the store, at most (at least
  /// one per runner).
  size_t depth = 2;
  /// Called first on each loader thread and on the store thread (e.g. set_threads_here(1)).
  std::function<void()> thread_setup;
  /// Called first on each runner thread, where there are several, with its index (e.g.
  /// set_threads_here with its share of the threads).
  std::function<void(size_t runner)> runner_setup;
};

/// For each i in [0, count): store(run(load(i))). `load` may return std::nullopt to skip an
/// item (neither run nor stored). `load` runs on the loader threads, `store` on its own thread,
/// `run` on the calling thread or, with several runners, on theirs.
template <typename Loaded, typename Result>
void run_pipeline(size_t count, const std::function<std::optional<Loaded>(size_t)>& load,
                  const std::function<Result(Loaded&)>& run, const std::function<void(Result&)>& store,
                  const PipelineOptions& options = {}) {
  const size_t runners = std::max<size_t>(1, options.runners);
  const size_t depth = std::max(options.depth, runners);
  // What became of an item: a result, nothing (skipped), or an error (its load's or run's).
  struct Outcome {
    std::optional<Result> result;
    std::exception_ptr error;
  };
  std::mutex mutex;
  std::condition_variable changed;
  std::map<size_t, std::optional<Loaded>> loaded;  // by index (nullopt: skipped)
  std::map<size_t, std::exception_ptr> load_errors;
  std::map<size_t, Outcome> outcomes;  // run, waiting for the store
  size_t next_to_load = 0, next_to_run = 0, next_to_store = 0;
  bool stopping = false;  // after an error: nothing more is loaded or run
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
  // Takes the items in order, runs them and hands the outcomes over; with loaders == 0 it loads
  // them itself first.
  const auto runner = [&] {
    for (;;) {
      size_t i;
      std::optional<Loaded> item;
      Outcome outcome;
      {
        std::unique_lock<std::mutex> lock(mutex);
        changed.wait(lock, [&] {
          return stopping || next_to_run >= count ||
                 ((options.loaders == 0 || loaded.count(next_to_run) > 0) && next_to_run < next_to_store + depth);
        });
        if (stopping || next_to_run >= count) return;
        i = next_to_run++;
        if (options.loaders > 0) {
          if (load_errors.count(i)) outcome.error = load_errors[i];
          item = std::move(loaded[i]);
          loaded.erase(i);
        }
        changed.notify_all();
      }
      try {
        if (options.loaders == 0) item = load(i);
        if (item && !outcome.error) outcome.result = run(*item);
      } catch (...) {
        outcome.error = std::current_exception();
      }
      item.reset();
      std::lock_guard<std::mutex> lock(mutex);
      if (outcome.error) stopping = true;  // the store still takes what came before it
      outcomes.emplace(i, std::move(outcome));
      changed.notify_all();
    }
  };
  // Stores the outcomes in item order, up to the first error.
  std::exception_ptr error;
  const auto storer = [&] {
    if (options.thread_setup) options.thread_setup();
    for (;;) {
      Outcome outcome;
      {
        std::unique_lock<std::mutex> lock(mutex);
        // An item not taken by a runner when the pipeline stopped never comes.
        changed.wait(lock, [&] {
          return outcomes.count(next_to_store) > 0 || next_to_store >= count ||
                 (stopping && next_to_store >= next_to_run);
        });
        if (outcomes.count(next_to_store) == 0) return;
        outcome = std::move(outcomes[next_to_store]);
        outcomes.erase(next_to_store++);
        if (outcome.error) {
          error = outcome.error;
          stopping = true;
        }
        changed.notify_all();
      }
      if (outcome.error) return;
      if (!outcome.result) continue;
      try {
        store(*outcome.result);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        store_error = std::current_exception();
        stopping = true;
        changed.notify_all();
        return;
      }
    }
  };

  std::vector<std::thread> threads;
  std::thread store_thread;
  try {
    for (size_t t = 0; t < options.loaders && t < count; ++t) threads.emplace_back(loader);
    store_thread = std::thread(storer);
    if (runners == 1) {
      runner();
    } else {
      for (size_t t = 0; t < runners && t < count; ++t) {
        threads.emplace_back([&, t] {
          if (options.runner_setup) options.runner_setup(t);
          runner();
        });
      }
    }
  } catch (...) {  // a thread that could not start (or the caller's runner failing outside its items)
    {
      std::lock_guard<std::mutex> lock(mutex);
      stopping = true;
      changed.notify_all();
    }
    if (store_thread.joinable()) store_thread.join();
    for (std::thread& t : threads) t.join();
    throw;
  }
  store_thread.join();
  {
    std::lock_guard<std::mutex> lock(mutex);
    stopping = true;
    changed.notify_all();
  }
  for (std::thread& t : threads) t.join();
  if (store_error) std::rethrow_exception(store_error);
  if (error) std::rethrow_exception(error);
}

/// Items [0, count) in batches of `batch_size`, as the commands run a network over files:
/// `load(begin, end)` reads and preprocesses items [begin, end) ahead on a loader thread, `run`
/// passes the batch through the network (dropping what it no longer needs), `store` writes its
/// results behind it. The loader and the store run LibTorch's operations on one core each
/// (set_threads_here(1)), leaving the others to the network. With `streams` above 1, `run` is
/// called on that many threads at once (at most one per batch), each on its own batches and
/// its share of the calling thread's threads (inference_streams).
template <typename Batch>
void run_batch_pipeline(size_t count, size_t batch_size, const std::function<Batch(size_t, size_t)>& load,
                        const std::function<void(Batch&)>& run, const std::function<void(Batch&)>& store,
                        int streams = 1) {
  const size_t step = batch_size < 1 ? 1 : batch_size;
  PipelineOptions options;
  options.thread_setup = [] { set_threads_here(1); };
  const size_t batches = (count + step - 1) / step;
  // As many runners as there are streams and batches, the threads shared out among them.
  options.runners = std::max<size_t>(1, std::min(static_cast<size_t>(std::max(1, streams)), batches));
  options.runner_setup = [threads = threads_here(), runners = options.runners](size_t runner) {
    set_threads_here(thread_share(threads, runners, runner));
  };
  run_pipeline<Batch, Batch>(
      batches, [&](size_t b) -> std::optional<Batch> { return load(b * step, std::min(count, (b + 1) * step)); },
      [&](Batch& batch) {
        run(batch);
        return std::move(batch);
      },
      store, options);
}

}  // namespace segkit
