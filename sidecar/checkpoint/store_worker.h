#pragma once

// Runs store operations (SQLite transactions with fsync) on a thread of their
// own so the event loop never blocks on the disk. Jobs run in submission
// order; each job's result is posted back to the loop. The store is touched
// only by the worker thread once started.

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "sidecar/event/event_loop.h"
#include "store/checkpoint_store.h"

namespace tidemark::checkpoint {

class StoreWorker {
 public:
  StoreWorker(event::EventLoop& loop, store::CheckpointStore& store);
  // Finishes queued jobs, then joins.
  ~StoreWorker();

  // `job` runs on the worker with the store; `then` runs on the loop thread.
  template <typename R>
  void submit(std::function<R(store::CheckpointStore&)> job, std::function<void(R)> then) {
    enqueue([this, job = std::move(job), then = std::move(then)]() mutable {
      auto result = std::make_shared<R>(job(store_));
      loop_.post([then = std::move(then), result]() mutable { then(std::move(*result)); });
    });
  }

 private:
  void enqueue(std::function<void()> task);
  void run();

  event::EventLoop& loop_;
  store::CheckpointStore& store_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::thread thread_;
};

}  // namespace tidemark::checkpoint
