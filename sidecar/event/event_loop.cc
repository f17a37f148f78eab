#include "sidecar/event/event_loop.h"

#include <event2/event.h>
#include <event2/thread.h>

namespace tidemark::event {
namespace {

// libevent's locking must be switched on once, before any event_base exists,
// for event_active() from another thread (post, stop) to be safe.
void enableThreadSupportOnce() {
  static const int kResult = evthread_use_pthreads();
  (void)kResult;
}

timeval toTimeval(std::chrono::milliseconds d) {
  timeval tv;
  tv.tv_sec = static_cast<time_t>(d.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((d.count() % 1000) * 1000);
  return tv;
}

}  // namespace

Timer::Timer(EventLoop& loop, std::function<void()> callback) : callback_(std::move(callback)) {
  ev_ = evtimer_new(loop.base(), &Timer::onFire, this);
}

Timer::~Timer() {
  if (ev_ != nullptr) event_free(ev_);
}

void Timer::arm(std::chrono::milliseconds delay) {
  timeval tv = toTimeval(delay);
  evtimer_add(ev_, &tv);
}

void Timer::cancel() { evtimer_del(ev_); }

void Timer::onFire(int, short, void* self) { static_cast<Timer*>(self)->callback_(); }

StatusOr<std::unique_ptr<EventLoop>> EventLoop::create() {
  enableThreadSupportOnce();
  std::unique_ptr<EventLoop> loop(new EventLoop());
  loop->base_ = event_base_new();
  if (loop->base_ == nullptr) return internalError("libevent: event_base_new failed");
  loop->wakeup_ = event_new(loop->base_, -1, 0, &EventLoop::onPosted, loop.get());
  if (loop->wakeup_ == nullptr) return internalError("libevent: event_new failed");
  return loop;
}

EventLoop::~EventLoop() {
  for (auto& s : signals_) event_free(s->ev);
  if (wakeup_ != nullptr) event_free(wakeup_);
  if (base_ != nullptr) event_base_free(base_);
}

Status EventLoop::run() {
  // EVLOOP_NO_EXIT_ON_EMPTY: an idle sidecar waits for posts rather than return.
  if (event_base_loop(base_, EVLOOP_NO_EXIT_ON_EMPTY) < 0) {
    return internalError("libevent: event loop failed");
  }
  return Status::ok();
}

void EventLoop::stop() { event_base_loopbreak(base_); }

void EventLoop::post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    posted_.push_back(std::move(fn));
  }
  event_active(wakeup_, 0, 0);
}

void EventLoop::onPosted(int, short, void* self) {
  auto* loop = static_cast<EventLoop*>(self);
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard<std::mutex> lock(loop->mu_);
    batch.swap(loop->posted_);
  }
  for (auto& fn : batch) fn();
}

Status EventLoop::onSignal(int signo, std::function<void()> fn) {
  auto handler = std::make_unique<SignalHandler>();
  handler->fn = std::move(fn);
  handler->ev = evsignal_new(base_, signo, &EventLoop::onSignalEvent, handler.get());
  if (handler->ev == nullptr || evsignal_add(handler->ev, nullptr) != 0) {
    return internalError("libevent: cannot watch signal " + std::to_string(signo));
  }
  signals_.push_back(std::move(handler));
  return Status::ok();
}

void EventLoop::onSignalEvent(int, short, void* self) { static_cast<SignalHandler*>(self)->fn(); }

std::unique_ptr<Timer> EventLoop::createTimer(std::function<void()> callback) {
  return std::unique_ptr<Timer>(new Timer(*this, std::move(callback)));
}

}  // namespace tidemark::event
