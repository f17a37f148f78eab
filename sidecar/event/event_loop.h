#pragma once

// The one seam over libevent's event_base. An EventLoop is driven by exactly
// one thread (the one that calls run()); every callback it invokes runs on
// that thread. Other threads (librdkafka's, signal delivery) reach the loop
// only through post(), which is the single thread-safe entry point besides
// stop().

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "sidecar/base/status.h"

struct event_base;
struct event;

namespace tidemark::event {

class EventLoop;

// A timer owned by its creator; destroying it cancels it. Loop thread only.
class Timer {
 public:
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // (Re)arms the timer to fire once after `delay`.
  void arm(std::chrono::milliseconds delay);
  void cancel();

 private:
  friend class EventLoop;
  Timer(EventLoop& loop, std::function<void()> callback);
  static void onFire(int fd, short what, void* self);

  struct event* ev_ = nullptr;
  std::function<void()> callback_;
};

class EventLoop {
 public:
  static StatusOr<std::unique_ptr<EventLoop>> create();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Runs callbacks until stop(). Returns an error only if libevent fails.
  Status run();

  // Thread-safe: makes run() return after the callback in progress.
  void stop();

  // Thread-safe: runs `fn` on the loop thread soon, in posting order.
  void post(std::function<void()> fn);

  // Calls `fn` on the loop thread each time `signo` arrives. Loop thread only.
  Status onSignal(int signo, std::function<void()> fn);

  std::unique_ptr<Timer> createTimer(std::function<void()> callback);

  // For the other libevent seams in this folder (listeners, connections, HTTP).
  struct event_base* base() {
    return base_;
  }

 private:
  EventLoop() = default;
  static void onPosted(int fd, short what, void* self);
  static void onSignalEvent(int fd, short what, void* self);

  struct event_base* base_ = nullptr;
  struct event* wakeup_ = nullptr;
  std::mutex mu_;
  std::vector<std::function<void()>> posted_;  // guarded by mu_

  struct SignalHandler {
    struct event* ev;
    std::function<void()> fn;
  };
  std::vector<std::unique_ptr<SignalHandler>> signals_;
};

}  // namespace tidemark::event
