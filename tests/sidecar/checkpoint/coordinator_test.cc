#include "sidecar/checkpoint/coordinator.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>

#include "store/sqlite_checkpoint_store.h"

namespace tidemark::checkpoint {
namespace {

using namespace std::chrono_literals;

// The real SQLite store, with commits that can be held back: a disk that
// stalls (the only way to make a checkpoint outlast its timeout on purpose).
class StallingStore : public store::CheckpointStore {
 public:
  explicit StallingStore(std::unique_ptr<store::CheckpointStore> real) : real_(std::move(real)) {}

  void stallNextCommit() {
    std::lock_guard<std::mutex> l(mu_);
    stalled_ = true;
  }
  void release() {
    std::lock_guard<std::mutex> l(mu_);
    stalled_ = false;
    cv_.notify_all();
  }

  Status commit(const store::Manifest& m, const store::BlobSource& blobs) override {
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [this] { return !stalled_; });
    }
    return real_->commit(m, blobs);
  }
  Status compact() override { return real_->compact(); }
  store::CommitStats lastCommit() const override { return real_->lastCommit(); }
  StatusOr<std::optional<store::Manifest>> latest() override { return real_->latest(); }
  StatusOr<std::optional<store::Manifest>> get(uint64_t id) override { return real_->get(id); }
  StatusOr<std::vector<store::CheckpointSummary>> summaries() override {
    return real_->summaries();
  }
  StatusOr<std::string> readBlob(const std::string& h) override { return real_->readBlob(h); }
  StatusOr<bool> hasBlob(const std::string& h) override { return real_->hasBlob(h); }
  StatusOr<uint64_t> nextId(int64_t now_ms) override { return real_->nextId(now_ms); }
  void setReplicating(bool on) override { real_->setReplicating(on); }
  StatusOr<std::optional<store::Manifest>> newestUnreplicated() override {
    return real_->newestUnreplicated();
  }
  StatusOr<int64_t> outboxDepth() override { return real_->outboxDepth(); }
  StatusOr<std::vector<std::string>> blobsNotOnRemote(const store::Manifest& m) override {
    return real_->blobsNotOnRemote(m);
  }
  StatusOr<std::map<std::string, uint64_t>> markReplicated(
      const store::Manifest& m, const std::map<std::string, uint64_t>& pinned) override {
    return real_->markReplicated(m, pinned);
  }
  Status syncRemoteView(const std::map<std::string, uint64_t>& blobs, uint64_t id) override {
    return real_->syncRemoteView(blobs, id);
  }

 private:
  std::unique_ptr<store::CheckpointStore> real_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stalled_ = false;  // guarded by mu_
};

class CoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("tidemark-coordinator-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto loop = event::EventLoop::create();
    ASSERT_TRUE(loop.isOk());
    loop_ = std::move(*loop);
  }
  void TearDown() override {
    if (store_) store_->release();
    coordinator_.reset();
    std::filesystem::remove_all(dir_);
  }

  void start(CoordinatorOptions options, PrepareStep prepare = nullptr) {
    if (store_) store_->release();
    coordinator_.reset();  // a restart, when there was one: the same store file
    auto real = store::SqliteCheckpointStore::open((dir_ / "t.db").string(), 10);
    ASSERT_TRUE(real.isOk());
    auto store = std::make_unique<StallingStore>(std::move(real).value());
    store_ = store.get();
    coordinator_ = std::make_unique<Coordinator>(options, *loop_, std::move(store));
    if (prepare) coordinator_->setPrepareStep(std::move(prepare));
    ASSERT_TRUE(coordinator_->restore().isOk());
    coordinator_->start();
  }

  static CoordinatorOptions manual() {
    CoordinatorOptions o;
    o.interval = 24h;
    o.max_messages = 0;
    return o;
  }

  // Takes a checkpoint and waits until it is durable.
  void checkpointNow() {
    std::optional<StatusOr<uint64_t>> result;
    coordinator_->checkpoint("request", [&](StatusOr<uint64_t> id) { result = id; });
    runUntil([&] { return result.has_value(); });
    ASSERT_TRUE(result && result->isOk());
  }

  // readState's answer, waited for.
  StatusOr<StateEntry> read(const std::string& key) {
    std::optional<StatusOr<StateEntry>> answer;
    coordinator_->readState(key, View::kSealed, [&](StatusOr<StateEntry> e) { answer = e; });
    runUntil([&] { return answer.has_value(); });
    if (!answer) return internalError("no answer");
    return *answer;
  }

  void seal(int64_t offset) {
    coordinator_->book().seal({{PartitionId{"g", "t", 0}, CommittedOffset{offset, -1, {}}}});
  }

  // The newest retained checkpoint's manifest, read from the store.
  store::Manifest latestRetained() {
    std::optional<StatusOr<std::optional<store::Manifest>>> read;
    EXPECT_FALSE(coordinator_->retained().empty());
    if (coordinator_->retained().empty()) return {};
    coordinator_->readCheckpoint(coordinator_->retained().front().id,
                                 [&](StatusOr<std::optional<store::Manifest>> m) { read = m; });
    runUntil([&] { return read.has_value(); });
    EXPECT_TRUE(read && read->isOk() && read->value().has_value());
    return read && read->isOk() && read->value() ? *read->value() : store::Manifest();
  }

  // Runs the loop until `done` holds (or 10 s pass: a failure, not a hang).
  void runUntil(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    std::unique_ptr<event::Timer> poll;
    poll = loop_->createTimer([&] {
      if (done() || std::chrono::steady_clock::now() > deadline) return loop_->stop();
      poll->arm(1ms);
    });
    poll->arm(0ms);
    ASSERT_TRUE(loop_->run().isOk());
  }

  std::filesystem::path dir_;
  std::unique_ptr<event::EventLoop> loop_;
  StallingStore* store_ = nullptr;
  std::unique_ptr<Coordinator> coordinator_;
};

TEST_F(CoordinatorTest, ShouldMakeSealedOffsetsDurableWhenACheckpointIsRequested) {
  start(manual());
  seal(42);
  std::optional<StatusOr<uint64_t>> result;
  coordinator_->checkpoint("request", [&](StatusOr<uint64_t> id) { result = id; });
  runUntil([&] { return result.has_value(); });
  ASSERT_TRUE(result && result->isOk());
  EXPECT_EQ(coordinator_->stats().taken, 1u);
  EXPECT_EQ(coordinator_->durableSeal(), coordinator_->book().sealed().seal);
  EXPECT_EQ(latestRetained().offsets(0).offset(), 42);
}

// The loop snapshots the sealed view and goes on changing the book while the
// store worker writes the snapshot (SnapshotMap shares the entries): the
// checkpoint holds the view as it was, the next one what changed meanwhile.
TEST_F(CoordinatorTest, ShouldCheckpointTheViewAsItWasWhileTheBookChangesDuringTheCommit) {
  start(manual());
  StateBook& book = coordinator_->book();
  auto key = [](int i) { return "k/" + std::to_string(10000 + i); };
  for (int i = 0; i < 2000; ++i) {
    ASSERT_TRUE(book.put(key(i), "v" + std::to_string(i), "", std::nullopt).isOk());
  }
  seal(1);
  store_->stallNextCommit();
  std::optional<StatusOr<uint64_t>> result;
  coordinator_->checkpoint("request", [&](StatusOr<uint64_t> id) { result = id; });
  int turns = 0;
  runUntil([&] { return ++turns > 20; });  // the worker has the snapshot, held in commit()
  for (int i = 0; i < 2000; i += 7) {
    ASSERT_TRUE(book.put(key(i), "changed", "", std::nullopt).isOk());
  }
  for (int i = 3; i < 2000; i += 11) ASSERT_TRUE(book.remove(key(i), std::nullopt).isOk());
  ASSERT_TRUE(book.put("k/new", "new", "", std::nullopt).isOk());
  seal(2);
  store_->release();
  runUntil([&] { return result.has_value(); });
  ASSERT_TRUE(result && result->isOk());

  store::Manifest first = latestRetained();
  EXPECT_EQ(first.offsets(0).offset(), 1);
  ASSERT_EQ(first.state_size(), 2000);
  for (int i = 0; i < 2000; ++i) {
    EXPECT_EQ(first.state(i).key(), key(i));
    EXPECT_EQ(first.state(i).sha256(), store::sha256("v" + std::to_string(i))) << key(i);
  }

  checkpointNow();
  store::Manifest second = latestRetained();
  EXPECT_EQ(second.offsets(0).offset(), 2);
  EXPECT_EQ(second.state_size(), 2000 - 182 + 1);  // 182 of the keys 3, 14, ... removed
  auto changed = read(key(7));
  ASSERT_TRUE(changed.isOk());
  EXPECT_EQ(*changed->data, "changed");
  EXPECT_EQ(book.sealed().state.size(), static_cast<size_t>(second.state_size()));
}

TEST_F(CoordinatorTest, ShouldFailWaitersWhenTheStoreOutlastsTheTimeoutAndRecordALateSuccess) {
  CoordinatorOptions o = manual();
  o.timeout = 50ms;
  start(o);
  seal(7);
  store_->stallNextCommit();
  std::optional<StatusOr<uint64_t>> result;
  coordinator_->checkpoint("request", [&](StatusOr<uint64_t> id) { result = id; });
  runUntil([&] { return result.has_value(); });
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(coordinator_->stats().failed, 1u);
  EXPECT_EQ(coordinator_->stats().consecutive_failures, 1u);
  EXPECT_EQ(coordinator_->durableSeal(), 0u);

  // The stalled transaction completes after all: it is durable, so it counts.
  store_->release();
  runUntil([&] { return coordinator_->stats().taken == 1; });
  EXPECT_EQ(coordinator_->stats().consecutive_failures, 0u);
  EXPECT_EQ(coordinator_->durableSeal(), coordinator_->book().sealed().seal);
}

TEST_F(CoordinatorTest, ShouldSealWhatThePrepareStepAnswersBeforeSnapshotting) {
  int asked = 0;
  start(manual(), [&](const std::string& trigger, std::function<void(Status)> ready) {
    ++asked;
    EXPECT_EQ(trigger, "request");
    // The application answers later, with offsets of its own.
    loop_->post([this, ready] {
      seal(99);
      ready(Status::ok());
    });
  });
  std::optional<StatusOr<uint64_t>> result;
  coordinator_->checkpoint("request", [&](StatusOr<uint64_t> id) { result = id; });
  runUntil([&] { return result.has_value(); });
  ASSERT_TRUE(result && result->isOk());
  EXPECT_EQ(asked, 1);
  EXPECT_EQ(latestRetained().offsets(0).offset(), 99);
}

TEST_F(CoordinatorTest, ShouldCountAFailedPrepareStepAsAFailedCheckpoint) {
  start(manual(), [](const std::string&, std::function<void(Status)> ready) {
    ready(unavailable("application answered 500"));
  });
  seal(1);
  std::optional<StatusOr<uint64_t>> result;
  coordinator_->checkpoint("request", [&](StatusOr<uint64_t> id) { result = id; });
  runUntil([&] { return result.has_value(); });
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->status().code(), StatusCode::kUnavailable);
  EXPECT_NE(result->status().message().find("application answered 500"), std::string::npos);
  EXPECT_EQ(coordinator_->stats().consecutive_failures, 1u);
  EXPECT_EQ(coordinator_->stats().taken, 0u);
}

TEST_F(CoordinatorTest, ShouldTimeOutAPrepareStepThatNeverAnswers) {
  CoordinatorOptions o = manual();
  o.timeout = 30ms;
  std::function<void(Status)> first_ready;
  start(o, [&](const std::string&, std::function<void(Status)> ready) {
    if (!first_ready) {
      first_ready = ready;  // the application never answers this one
      return;
    }
    ready(Status::ok());
  });
  std::optional<StatusOr<uint64_t>> result;
  coordinator_->checkpoint("request", [&](StatusOr<uint64_t> id) { result = id; });
  runUntil([&] { return result.has_value(); });
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->status().code(), StatusCode::kDeadlineExceeded);

  // Its late answer is ignored; the next checkpoint runs and completes.
  first_ready(Status::ok());
  seal(5);
  result.reset();
  coordinator_->checkpoint("request", [&](StatusOr<uint64_t> id) { result = id; });
  runUntil([&] { return result.has_value(); });
  ASSERT_TRUE(result && result->isOk());
  EXPECT_EQ(latestRetained().offsets(0).offset(), 5);
}

TEST_F(CoordinatorTest, ShouldCoalesceTriggersThatArriveWhileOneIsInFlight) {
  start(manual());
  seal(1);
  store_->stallNextCommit();
  int answered = 0;
  coordinator_->checkpoint("request", [&](StatusOr<uint64_t>) { ++answered; });
  seal(2);
  coordinator_->checkpoint("request", [&](StatusOr<uint64_t>) { ++answered; });
  coordinator_->checkpoint("request", [&](StatusOr<uint64_t>) { ++answered; });
  EXPECT_EQ(coordinator_->stats().coalesced, 2u);
  store_->release();
  runUntil([&] { return answered == 3; });
  EXPECT_EQ(answered, 3);
  // The first checkpoint held seal 1; one more held seal 2 for the later waiters.
  EXPECT_EQ(coordinator_->stats().taken, 2u);
  EXPECT_EQ(latestRetained().offsets(0).offset(), 2);
}

TEST_F(CoordinatorTest, ShouldReadCheckpointedStateFromTheStoreWhenItIsOutsideTheCache) {
  CoordinatorOptions o = manual();
  o.seal_immediately = true;
  o.cache_bytes = 0;
  start(o);
  const std::string big(100000, 'x');
  ASSERT_TRUE(coordinator_->book().put("model", big, "text/plain", std::nullopt).isOk());
  auto before = read("model");  // not durable yet: from memory
  ASSERT_TRUE(before.isOk());
  checkpointNow();
  EXPECT_FALSE(coordinator_->book().get("model", View::kSealed)->resident());
  auto after = read("model");
  ASSERT_TRUE(after.isOk()) << after.status().toString();
  EXPECT_EQ(*after->data, big);
  EXPECT_EQ(StateBook::etag(*after), StateBook::etag(*before));
  EXPECT_EQ(after->content_type, "text/plain");
  EXPECT_EQ(read("absent").status().code(), StatusCode::kNotFound);

  // The next checkpoint references the bytes it no longer holds: the store has them.
  ASSERT_TRUE(coordinator_->book().put("other", "1", "", std::nullopt).isOk());
  checkpointNow();
  EXPECT_EQ(latestRetained().state_size(), 2);
}

TEST_F(CoordinatorTest, ShouldRestoreOnlyTheIndexAndCacheWhatIsRead) {
  CoordinatorOptions o = manual();
  o.seal_immediately = true;
  start(o);
  ASSERT_TRUE(coordinator_->book().put("a", "alpha", "", std::nullopt).isOk());
  ASSERT_TRUE(coordinator_->book().put("b", "beta", "", std::nullopt).isOk());
  checkpointNow();

  start(o);  // restarted on the same store
  EXPECT_FALSE(coordinator_->book().get("a", View::kSealed)->resident());
  EXPECT_EQ(coordinator_->book().get("b", View::kSealed)->size, 4u);
  EXPECT_EQ(coordinator_->book().cachedBytes(), 0u);
  auto a = read("a");
  ASSERT_TRUE(a.isOk()) << a.status().toString();
  EXPECT_EQ(*a->data, "alpha");
  EXPECT_TRUE(coordinator_->book().get("a", View::kSealed)->resident());  // cached now
  EXPECT_EQ(coordinator_->book().cachedBytes(), 5u);
}

}  // namespace
}  // namespace tidemark::checkpoint
