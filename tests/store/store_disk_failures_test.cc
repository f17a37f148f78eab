// The store on a real filesystem that fills up or turns read-only: a tmpfs of
// a few hundred KiB mounted for the test (needs root, as CI and the dev
// machine run; skipped with the reason otherwise). A failed commit must leave
// the previous checkpoint complete, be reported as the right kind of error,
// and succeed when retried once the disk has room or is writable again.

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>

#include "store/sqlite.h"
#include "store/sqlite_checkpoint_store.h"

namespace tidemark::store {
namespace {

namespace fs = std::filesystem;

class DiskFailureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("tidemark-disk-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    if (::mount("tmpfs", dir_.c_str(), "tmpfs", 0, "size=512k") != 0) {
      GTEST_SKIP() << "cannot mount a small tmpfs here (" << std::strerror(errno)
                   << "): disk-full and read-only paths need root";
    }
    mounted_ = true;
    path_ = (dir_ / "tidemark.db").string();
  }
  void TearDown() override {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
    fs::remove_all(dir_);
  }

  void remount(const char* options, unsigned long flags = 0) {
    ASSERT_EQ(::mount("tmpfs", dir_.c_str(), "tmpfs", MS_REMOUNT | flags, options), 0)
        << std::strerror(errno);
  }

  fs::path dir_;
  std::string path_;
  bool mounted_ = false;
};

struct Checkpoint {
  Manifest manifest;
  std::map<std::string, std::string> blobs;
  BlobSource source() const {
    return [this](const std::string& h) -> std::optional<std::string_view> {
      auto it = blobs.find(h);
      if (it == blobs.end()) return std::nullopt;
      return std::string_view(it->second);
    };
  }
};

Checkpoint checkpoint(uint64_t id, const std::string& blob) {
  Checkpoint c;
  c.manifest.set_format_version(1);
  c.manifest.set_id(id);
  c.manifest.set_created_at_ms(1000);
  c.manifest.set_trigger("interval");
  auto* o = c.manifest.add_offsets();
  o->mutable_key()->set_group("g");
  o->mutable_key()->set_topic("t");
  o->mutable_key()->set_partition(0);
  o->set_offset(static_cast<int64_t>(id));
  auto* ref = c.manifest.add_state();
  ref->set_key("model");
  ref->set_sha256(sha256(blob));
  ref->set_size(blob.size());
  c.blobs[ref->sha256()] = blob;
  return c;
}

std::string incompressible(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  for (auto& ch : s) {
    seed = seed * 1664525u + 1013904223u;
    ch = static_cast<char>(seed >> 24);
  }
  return s;
}

void expectIntactAt(const std::string& path, uint64_t id) {
  auto reopened = SqliteCheckpointStore::open(path, 10);  // runs integrity_check
  ASSERT_TRUE(reopened.isOk()) << reopened.status().toString();
  auto latest = (*reopened)->latest();
  ASSERT_TRUE(latest.isOk() && latest->has_value());
  EXPECT_EQ((*latest)->id(), id);
  EXPECT_TRUE(*(*reopened)->hasBlob((*latest)->state(0).sha256()));
}

TEST_F(DiskFailureTest,
       ShouldReportResourceExhaustedAndKeepThePreviousCheckpointWhenTheDiskIsFull) {
  auto store = SqliteCheckpointStore::open(path_, 10);
  ASSERT_TRUE(store.isOk()) << store.status().toString();
  const Checkpoint small = checkpoint(1, "small state");
  ASSERT_TRUE((*store)->commit(small.manifest, small.source()).isOk());

  const Checkpoint big = checkpoint(2, incompressible(1 << 20, 7));  // twice the disk
  Status s = (*store)->commit(big.manifest, big.source());
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s.toString();
  EXPECT_EQ((*(*store)->latest())->id(), 1u);

  remount("size=8m");  // room again: the same checkpoint is retried and lands
  s = (*store)->commit(big.manifest, big.source());
  ASSERT_TRUE(s.isOk()) << s.toString();
  store->reset();
  expectIntactAt(path_, 2);
}

TEST_F(DiskFailureTest, ShouldReportFailedPreconditionAndChangeNothingWhenTheDiskIsReadOnly) {
  {
    auto store = SqliteCheckpointStore::open(path_, 10);
    ASSERT_TRUE(store.isOk()) << store.status().toString();
    const Checkpoint first = checkpoint(1, "v1");
    ASSERT_TRUE((*store)->commit(first.manifest, first.source()).isOk());
  }
  // Linux refuses a read-only remount while files are open for writing, so
  // the disk turns read-only between runs (as a node's volume can).
  remount("size=512k", MS_RDONLY);
  const Checkpoint second = checkpoint(2, "v2");
  auto store = SqliteCheckpointStore::open(path_, 10);
  if (store.isOk()) {
    Status s = (*store)->commit(second.manifest, second.source());
    EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.toString();
    EXPECT_EQ((*(*store)->latest())->id(), 1u);
    store = failedPrecondition("closed");  // release the file before remounting
  } else {
    EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition) << store.status().toString();
  }

  remount("size=512k");  // writable again: the retry lands
  auto again = SqliteCheckpointStore::open(path_, 10);
  ASSERT_TRUE(again.isOk()) << again.status().toString();
  Status s = (*again)->commit(second.manifest, second.source());
  ASSERT_TRUE(s.isOk()) << s.toString();
  again = failedPrecondition("closed");
  expectIntactAt(path_, 2);
}

// SQLite would open it read-only, for good: refused, with the reason.
TEST_F(DiskFailureTest, ShouldRefuseToOpenAStoreOnAReadOnlyFileSystem) {
  {
    auto store = SqliteCheckpointStore::open(path_, 10);
    ASSERT_TRUE(store.isOk()) << store.status().toString();
    const Checkpoint c = checkpoint(1, "state");
    ASSERT_TRUE((*store)->commit(c.manifest, c.source()).isOk());
  }
  remount("size=512k", MS_RDONLY);
  auto store = SqliteCheckpointStore::open(path_, 10);
  ASSERT_FALSE(store.isOk());
  EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find("is read-only"), std::string::npos)
      << store.status().message();
  remount("size=512k");
  expectIntactAt(path_, 1);
}

}  // namespace
}  // namespace tidemark::store
