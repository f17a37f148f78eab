#pragma once

// Runs store operations (SQLite transactions with fsync) on a thread of their
// own so the event loop never blocks on the disk. Jobs run in submission
// order; each job's result is posted back to the loop. The store is touched
// only by the worker thread once started.

#include <functional>

#include "sidecar/event/worker_thread.h"
#include "store/checkpoint_store.h"

namespace tidemark::checkpoint {

class StoreWorker {
 public:
  StoreWorker(event::EventLoop& loop, store::CheckpointStore& store)
      : thread_(loop), store_(store) {}

  // `job` runs on the worker with the store; `then` runs on the loop thread.
  template <typename R>
  void submit(std::function<R(store::CheckpointStore&)> job, std::function<void(R)> then) {
    thread_.submit<R>([this, job = std::move(job)] { return job(store_); }, std::move(then));
  }

 private:
  event::WorkerThread thread_;
  store::CheckpointStore& store_;
};

}  // namespace tidemark::checkpoint
