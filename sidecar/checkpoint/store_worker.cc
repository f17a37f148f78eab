#include "sidecar/checkpoint/store_worker.h"

namespace tidemark::checkpoint {

StoreWorker::StoreWorker(event::EventLoop& loop, store::CheckpointStore& store)
    : loop_(loop), store_(store), thread_([this] { run(); }) {}

StoreWorker::~StoreWorker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

void StoreWorker::enqueue(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    tasks_.push_back(std::move(task));
  }
  cv_.notify_one();
}

void StoreWorker::run() {
  while (true) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) return;  // stopping, and every job done
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
}

}  // namespace tidemark::checkpoint
