#include "sidecar/event/event_loop.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace tidemark::event {
namespace {

TEST(EventLoopTest, ShouldRunPostedWorkOnTheLoopThreadInOrder) {
  auto loop = EventLoop::create();
  ASSERT_TRUE(loop.isOk());
  std::vector<int> seen;
  std::thread::id loop_thread = std::this_thread::get_id();
  std::atomic<bool> wrong_thread{false};
  std::thread poster([&] {
    for (int i = 0; i < 100; ++i) {
      (*loop)->post([&, i] {
        wrong_thread = wrong_thread || std::this_thread::get_id() != loop_thread;
        seen.push_back(i);
        if (i == 99) (*loop)->stop();
      });
    }
  });
  ASSERT_TRUE((*loop)->run().isOk());
  poster.join();
  ASSERT_EQ(seen.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(seen[i], i);
  EXPECT_FALSE(wrong_thread);
}

TEST(EventLoopTest, ShouldFireATimerOnceWhenArmed) {
  auto loop = EventLoop::create();
  ASSERT_TRUE(loop.isOk());
  int fired = 0;
  auto timer = (*loop)->createTimer([&] {
    ++fired;
    (*loop)->stop();
  });
  timer->arm(std::chrono::milliseconds(1));
  ASSERT_TRUE((*loop)->run().isOk());
  EXPECT_EQ(fired, 1);
}

TEST(EventLoopTest, ShouldNotFireACancelledTimer) {
  auto loop = EventLoop::create();
  ASSERT_TRUE(loop.isOk());
  bool cancelled_fired = false;
  auto cancelled = (*loop)->createTimer([&] { cancelled_fired = true; });
  auto stopper = (*loop)->createTimer([&] { (*loop)->stop(); });
  cancelled->arm(std::chrono::milliseconds(1));
  cancelled->cancel();
  stopper->arm(std::chrono::milliseconds(20));
  ASSERT_TRUE((*loop)->run().isOk());
  EXPECT_FALSE(cancelled_fired);
}

}  // namespace
}  // namespace tidemark::event
