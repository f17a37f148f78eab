#pragma once

// A thread of its own for blocking work (SQLite fsyncs, a remote backend's
// network round trips), so an EventLoop never blocks. Jobs run in submission
// order; each job's result is posted back to the loop, where `then` runs.

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "sidecar/event/event_loop.h"

namespace tidemark::event {

class WorkerThread {
 public:
  explicit WorkerThread(EventLoop& loop);
  // Finishes queued jobs, then joins.
  ~WorkerThread();
  WorkerThread(const WorkerThread&) = delete;
  WorkerThread& operator=(const WorkerThread&) = delete;

  // `job` runs on the worker; `then` on the loop thread with its result.
  template <typename R>
  void submit(std::function<R()> job, std::function<void(R)> then) {
    enqueue([this, job = std::move(job), then = std::move(then)]() mutable {
      auto result = std::make_shared<R>(job());
      loop_.post([then = std::move(then), result]() mutable { then(std::move(*result)); });
    });
  }

 private:
  void enqueue(std::function<void()> task);
  void run();

  EventLoop& loop_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::thread thread_;
};

}  // namespace tidemark::event
