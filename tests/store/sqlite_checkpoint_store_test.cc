#include "store/sqlite_checkpoint_store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>

namespace tidemark::store {
namespace {

namespace fs = std::filesystem;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("tidemark-store-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = (dir_ / "tidemark.db").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<SqliteCheckpointStore> open(uint32_t retained = 10) {
    auto s = SqliteCheckpointStore::open(path_, retained);
    EXPECT_TRUE(s.isOk()) << s.status().toString();
    return s.isOk() ? std::move(s).value() : nullptr;
  }

  fs::path dir_;
  std::string path_;
};

// A checkpoint of `state` (key -> bytes) and one offset, with a blob source over `state`.
struct Built {
  Manifest manifest;
  std::map<std::string, std::string> by_hash;
  int asked = 0;
  BlobSource source() {
    return [this](const std::string& h) -> std::optional<std::string_view> {
      ++asked;
      auto it = by_hash.find(h);
      if (it == by_hash.end()) return std::nullopt;
      return std::string_view(it->second);
    };
  }
};

Built build(uint64_t id, const std::map<std::string, std::string>& state, int64_t offset) {
  Built b;
  b.manifest.set_format_version(1);
  b.manifest.set_id(id);
  b.manifest.set_created_at_ms(1000);
  b.manifest.set_trigger("interval");
  auto* o = b.manifest.add_offsets();
  o->mutable_key()->set_group("g");
  o->mutable_key()->set_topic("orders.v1");
  o->mutable_key()->set_partition(3);
  o->set_offset(offset);
  o->set_leader_epoch(-1);
  for (const auto& [key, data] : state) {
    auto* ref = b.manifest.add_state();
    ref->set_key(key);
    ref->set_sha256(sha256(data));
    ref->set_size(data.size());
    b.by_hash[ref->sha256()] = data;
  }
  return b;
}

TEST_F(StoreTest, ShouldHaveNoCheckpointWhenNew) {
  auto store = open();
  auto latest = store->latest();
  ASSERT_TRUE(latest.isOk());
  EXPECT_FALSE(latest->has_value());
}

TEST_F(StoreTest, ShouldReadBackACommittedCheckpointAfterReopening) {
  {
    auto store = open();
    Built b = build(7, {{"counts", "a=1"}, {"empty", ""}}, 42);
    ASSERT_TRUE(store->commit(b.manifest, b.source()).isOk());
  }
  auto store = open();
  auto latest = store->latest();
  ASSERT_TRUE(latest.isOk() && latest->has_value());
  EXPECT_EQ((*latest)->id(), 7u);
  EXPECT_EQ((*latest)->offsets(0).key().topic(), "orders.v1");
  EXPECT_EQ((*latest)->offsets(0).offset(), 42);
  EXPECT_FALSE((*latest)->offsets(0).has_metadata());
  ASSERT_EQ((*latest)->state_size(), 2);
  EXPECT_EQ(*store->readBlob(sha256("a=1")), "a=1");
  EXPECT_EQ(*store->readBlob(sha256("")), "");
}

TEST_F(StoreTest, ShouldWriteAnUnchangedBlobOnlyOnce) {
  auto store = open();
  Built first = build(1, {{"big", std::string(1 << 16, 'x')}, {"small", "1"}}, 1);
  ASSERT_TRUE(store->commit(first.manifest, first.source()).isOk());
  EXPECT_EQ(first.asked, 2);
  Built second = build(2, {{"big", std::string(1 << 16, 'x')}, {"small", "2"}}, 2);
  ASSERT_TRUE(store->commit(second.manifest, second.source()).isOk());
  EXPECT_EQ(second.asked, 1);  // only the changed blob was needed
}

TEST_F(StoreTest, ShouldKeepTheRetainedCheckpointsAndCollectUnreferencedBlobsWhenPruned) {
  auto store = open(/*retained=*/2);
  for (uint64_t id = 1; id <= 4; ++id) {
    Built b = build(id, {{"k", "v" + std::to_string(id)}}, static_cast<int64_t>(id));
    ASSERT_TRUE(store->commit(b.manifest, b.source()).isOk());
    ASSERT_TRUE(store->compact().isOk());
  }
  auto all = store->summaries();
  ASSERT_TRUE(all.isOk());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id, 4u);
  EXPECT_EQ((*all)[1].id, 3u);
  EXPECT_FALSE(*store->hasBlob(sha256("v1")));
  EXPECT_FALSE(*store->hasBlob(sha256("v2")));
  EXPECT_TRUE(*store->hasBlob(sha256("v3")));
  EXPECT_FALSE(store->get(1)->has_value());
  EXPECT_TRUE(store->get(3)->has_value());
}

TEST_F(StoreTest, ShouldCollectABlobSharedByKeysOnlyWhenNoRetainedCheckpointReferencesIt) {
  {
    auto store = open(/*retained=*/1);
    Built one = build(1, {{"a", "shared"}}, 1);
    ASSERT_TRUE(store->commit(one.manifest, one.source()).isOk());
    Built two = build(2, {{"a", "shared"}, {"b", "shared"}}, 2);  // two keys, one blob
    ASSERT_TRUE(store->commit(two.manifest, two.source()).isOk());
    ASSERT_TRUE(store->compact().isOk());
    EXPECT_TRUE(*store->hasBlob(sha256("shared")));  // checkpoint 2 still holds it
  }
  auto store = open(/*retained=*/1);  // counted again from the manifests
  EXPECT_EQ(*store->readBlob(sha256("shared")), "shared");
  Built three = build(3, {{"c", "other"}}, 3);
  ASSERT_TRUE(store->commit(three.manifest, three.source()).isOk());
  ASSERT_TRUE(store->compact().isOk());
  EXPECT_FALSE(*store->hasBlob(sha256("shared")));
  EXPECT_TRUE(*store->hasBlob(sha256("other")));
  Built four = build(4, {{"a", "shared"}}, 4);  // back again: stored anew
  ASSERT_TRUE(store->commit(four.manifest, four.source()).isOk());
  EXPECT_EQ(four.asked, 1);
  EXPECT_EQ(*store->readBlob(sha256("shared")), "shared");
}
TEST_F(StoreTest, ShouldLeaveRetentionToPruneAndCatchUpOnEverythingMissed) {
  auto store = open(/*retained=*/2);
  for (uint64_t id = 1; id <= 4; ++id) {
    Built b = build(id, {{"k", "v" + std::to_string(id)}, {"same", "x"}}, 1);
    ASSERT_TRUE(store->commit(b.manifest, b.source()).isOk());
  }
  EXPECT_EQ(store->summaries()->size(), 4u);  // commit never deletes
  store.reset();
  store = open(/*retained=*/2);  // the references are rebuilt from the manifests
  ASSERT_TRUE(store->compact().isOk());
  ASSERT_EQ(store->summaries()->size(), 2u);
  EXPECT_FALSE(*store->hasBlob(sha256("v2")));
  EXPECT_TRUE(*store->hasBlob(sha256("v3")));
  EXPECT_TRUE(*store->hasBlob(sha256("x")));  // still referenced
  ASSERT_TRUE(store->compact().isOk());       // nothing more to do
  EXPECT_EQ(store->summaries()->size(), 2u);
}

TEST_F(StoreTest, ShouldLeaveNothingBehindWhenACommitFails) {
  auto store = open();
  Built good = build(1, {{"k", "v1"}}, 1);
  ASSERT_TRUE(store->commit(good.manifest, good.source()).isOk());
  Built bad = build(2, {{"k", "v2"}, {"missing", "never given"}}, 2);
  bad.by_hash.erase(sha256("never given"));
  Status s = store->commit(bad.manifest, bad.source());
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_EQ((*store->latest())->id(), 1u);
  EXPECT_FALSE(*store->hasBlob(sha256("v2")));  // rolled back with the rest
}

TEST_F(StoreTest, ShouldQueueEachCommitForTheRemoteAndUploadOnlyTheNewest) {
  auto store = open();
  store->setReplicating(true);
  Built one = build(1, {{"a", "alpha"}, {"b", "beta"}}, 1);
  Built two = build(2, {{"a", "alpha"}, {"b", "beta-2"}, {"empty", ""}}, 2);
  ASSERT_TRUE(store->commit(one.manifest, one.source()).isOk());
  ASSERT_TRUE(store->commit(two.manifest, two.source()).isOk());
  EXPECT_EQ(*store->outboxDepth(), 2);
  auto newest = store->newestUnreplicated();
  ASSERT_TRUE(newest.isOk() && newest->has_value());
  EXPECT_EQ((*newest)->id(), 2u);
  // Nothing is on the remote yet: every non-empty blob of the newest is sent.
  EXPECT_EQ(store->blobsNotOnRemote(**newest)->size(), 2u);
  auto gone = store->markReplicated(**newest, {});
  ASSERT_TRUE(gone.isOk());
  EXPECT_TRUE(gone->empty());
  EXPECT_EQ(*store->outboxDepth(), 0);  // the older one was superseded
  EXPECT_FALSE(store->newestUnreplicated()->has_value());

  Built three = build(3, {{"a", "alpha"}, {"b", "beta-3"}}, 3);
  ASSERT_TRUE(store->commit(three.manifest, three.source()).isOk());
  auto send = store->blobsNotOnRemote(three.manifest);
  ASSERT_EQ(send->size(), 1u);  // only what changed
  EXPECT_EQ((*send)[0], sha256("beta-3"));
  gone = store->markReplicated(three.manifest, {});
  ASSERT_EQ(gone->size(), 1u);  // beta-2 is referenced by nothing on the remote now
  EXPECT_EQ(gone->begin()->first, sha256("beta-2"));
  EXPECT_EQ(gone->begin()->second, 6u);
}

TEST_F(StoreTest, ShouldKeepPinnedBlobsOnTheRemoteWhenNoManifestReferencesThem) {
  auto store = open();
  store->setReplicating(true);
  Built one = build(1, {{"p0", "partition state"}}, 1);
  ASSERT_TRUE(store->commit(one.manifest, one.source()).isOk());
  ASSERT_TRUE(store->markReplicated(one.manifest, {}).isOk());
  Built two = build(2, {{"other", "instance state"}}, 2);  // the partition moved away
  ASSERT_TRUE(store->commit(two.manifest, two.source()).isOk());
  const std::map<std::string, uint64_t> pinned{{sha256("partition state"), 15}};
  auto gone = store->markReplicated(two.manifest, pinned);
  ASSERT_TRUE(gone.isOk());
  EXPECT_TRUE(gone->empty());  // its partition checkpoint still needs it
  Built three = build(3, {{"other", "instance state"}}, 3);
  ASSERT_TRUE(store->commit(three.manifest, three.source()).isOk());
  gone = store->markReplicated(three.manifest, {});  // unpinned: superseded elsewhere
  ASSERT_EQ(gone->size(), 1u);
  EXPECT_EQ(gone->begin()->first, sha256("partition state"));
}

TEST_F(StoreTest, ShouldTakeTheRemoteViewAtStartAndQueueANewerLocalCheckpoint) {
  auto store = open();
  Built local = build(5, {{"a", "alpha"}}, 5);
  ASSERT_TRUE(store->commit(local.manifest, local.source()).isOk());  // not replicating yet
  EXPECT_EQ(*store->outboxDepth(), 0);
  ASSERT_TRUE(store->syncRemoteView({{sha256("alpha"), 5}}, /*remote_latest_id=*/4).isOk());
  EXPECT_EQ((*store->newestUnreplicated())->id(), 5u);
  EXPECT_TRUE(store->blobsNotOnRemote(local.manifest)->empty());
  ASSERT_TRUE(store->syncRemoteView({}, /*remote_latest_id=*/5).isOk());
  EXPECT_EQ(*store->outboxDepth(), 0);
  EXPECT_EQ(store->blobsNotOnRemote(local.manifest)->size(), 1u);
}

TEST_F(StoreTest, ShouldHandOutIdsThatGrowAcrossRestarts) {
  {
    auto store = open();
    Built b = build(5'000'000'000'000'000ULL, {}, 1);
    ASSERT_TRUE(store->commit(b.manifest, b.source()).isOk());
  }
  auto store = open();
  EXPECT_EQ(*store->nextId(1), 5'000'000'000'000'001ULL);
  std::filesystem::remove(path_);
  auto fresh = open();
  EXPECT_EQ(*fresh->nextId(1'700'000'000'000), 1'700'000'000'000'000ULL);
}

// Where `needle` first occurs in the store file (closed: the WAL is merged).
size_t offsetInFile(const std::string& path, const std::string& needle) {
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t at = bytes.find(needle);
  EXPECT_NE(at, std::string::npos);
  return at;
}

void overwrite(const std::string& path, size_t offset, const std::string& bytes) {
  std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// The open checks every table but the blobs; a blob changed on disk is
// caught by its hash when read (a GET of that state, an upload, an export).
TEST_F(StoreTest, ShouldOpenButNeverServeABlobWhoseBytesChangedOnDisk) {
  const std::string good(64 << 10, 'G');
  {
    auto store = open();
    Built b = build(1, {{"model", good}, {"other", "fine"}}, 1);
    ASSERT_TRUE(store->commit(b.manifest, b.source()).isOk());
  }
  overwrite(path_, offsetInFile(path_, std::string(1000, 'G')) + 500, "X");  // within a page
  auto store = open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->readBlob(sha256(good)).status().code(), StatusCode::kDataLoss);
  EXPECT_NE(store->readBlob(sha256(good)).status().message().find(toHex(sha256(good))),
            std::string::npos);
  EXPECT_EQ(*store->readBlob(sha256("fine")), "fine");
}

TEST_F(StoreTest, ShouldRefuseAStoreWhoseCheckpointTableIsDamaged) {
  {
    auto store = open();
    Built b = build(1, {{"model", "m"}}, 1);
    b.manifest.set_trigger("a-trigger-name-to-find-in-the-file");
    ASSERT_TRUE(store->commit(b.manifest, b.source()).isOk());
  }
  const size_t at = offsetInFile(path_, "a-trigger-name-to-find-in-the-file");
  const size_t page = 4096;
  overwrite(path_, at / page * page, std::string(8, '\xff'));  // the leaf page's header
  auto store = SqliteCheckpointStore::open(path_, 10);
  ASSERT_FALSE(store.isOk());
  EXPECT_EQ(store.status().code(), StatusCode::kDataLoss) << store.status().toString();
}

// A crash leaves the WAL for SQLite to read whole at the next open, so a
// large checkpoint's WAL is truncated once copied into the database.
TEST_F(StoreTest, ShouldTruncateALargeWalOnceCopiedUnlessAReaderIsInIt) {
  const std::string big(70 << 20, 'w');  // more than kTruncateWalFrames pages
  const auto walSize = [&] { return fs::file_size(path_ + "-wal"); };
  auto store = open();
  Built first = build(1, {{"model", big}}, 1);
  ASSERT_TRUE(store->commit(first.manifest, first.source()).isOk());
  ASSERT_GT(walSize(), 64u << 20);
  ASSERT_TRUE(store->compact().isOk());
  EXPECT_EQ(walSize(), 0u);

  // A reader in the WAL (the CLI beside the sidecar): never waited for.
  auto reader = Database::open(path_, /*create=*/false);
  ASSERT_TRUE(reader.isOk());
  Built second = build(2, {{"model", big + "2"}}, 2);
  ASSERT_TRUE(store->commit(second.manifest, second.source()).isOk());
  ASSERT_TRUE((*reader)->exec("BEGIN").isOk());
  auto st = (*reader)->prepare("SELECT count(*) FROM checkpoints");
  ASSERT_TRUE(st.isOk() && *st->step());
  ASSERT_TRUE(store->compact().isOk());
  EXPECT_GT(walSize(), 64u << 20);
  st->reset();
  ASSERT_TRUE((*reader)->exec("COMMIT").isOk());
  EXPECT_EQ((*store->latest())->id(), 2u);
}

TEST_F(StoreTest, ShouldRefuseAFileThatIsNotADatabase) {
  std::ofstream(path_) << std::string(8192, 'z');
  auto store = SqliteCheckpointStore::open(path_, 10);
  ASSERT_FALSE(store.isOk());
  EXPECT_EQ(store.status().code(), StatusCode::kDataLoss) << store.status().toString();
}

TEST_F(StoreTest, ShouldRefuseAFormatVersionItDoesNotKnow) {
  { auto store = open(); }
  {
    auto db = Database::open(path_, false);
    ASSERT_TRUE(db.isOk());
    ASSERT_TRUE((*db)->exec("UPDATE meta SET value = '99' WHERE key = 'format_version'").isOk());
  }
  auto store = SqliteCheckpointStore::open(path_, 10);
  ASSERT_FALSE(store.isOk());
  EXPECT_NE(store.status().message().find("format version '99'"), std::string::npos);
}

// Format 1 as it was shipped (docs/store-format.md, "Format 1"): a file
// written by an older tidemark.
constexpr const char* kFormat1 = R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE blobs(sha256 BLOB PRIMARY KEY, size INTEGER NOT NULL, data BLOB NOT NULL);
CREATE TABLE checkpoints(id INTEGER PRIMARY KEY, created_at_ms INTEGER NOT NULL,
                         trigger TEXT NOT NULL, manifest BLOB NOT NULL);
CREATE TABLE checkpoint_blobs(
  checkpoint_id INTEGER NOT NULL REFERENCES checkpoints(id) ON DELETE CASCADE,
  sha256 BLOB NOT NULL REFERENCES blobs(sha256),
  PRIMARY KEY(checkpoint_id, sha256)) WITHOUT ROWID;
CREATE INDEX checkpoint_blobs_by_blob ON checkpoint_blobs(sha256);
INSERT INTO meta(key, value) VALUES('format_version', '1');
)sql";

void writeFormat1(Database& db, const Built& b) {
  auto cp = db.prepare("INSERT INTO checkpoints VALUES(?, 1000, 'interval', ?)");
  std::string encoded;
  ASSERT_TRUE(b.manifest.SerializeToString(&encoded));
  ASSERT_TRUE(cp->bind(1, static_cast<int64_t>(b.manifest.id())).bindBlob(2, encoded).run().isOk());
  for (const auto& [hash, data] : b.by_hash) {
    auto blob = db.prepare("INSERT OR IGNORE INTO blobs VALUES(?, ?, ?)");
    ASSERT_TRUE(blob->bindBlob(1, hash)
                    .bind(2, static_cast<int64_t>(data.size()))
                    .bindBlob(3, data)
                    .run()
                    .isOk());
    auto ref = db.prepare("INSERT INTO checkpoint_blobs VALUES(?, ?)");
    ASSERT_TRUE(ref->bind(1, static_cast<int64_t>(b.manifest.id())).bindBlob(2, hash).run().isOk());
  }
}

TEST_F(StoreTest, ShouldMigrateAFormat1StoreKeepingEveryCheckpointAndBlob) {
  const Built one = build(1, {{"a", "only in one"}, {"shared", "in both"}}, 10);
  const Built two = build(2, {{"shared", "in both"}}, 20);
  {
    auto db = Database::open(path_, true);
    ASSERT_TRUE(db.isOk());
    ASSERT_TRUE((*db)->exec(kFormat1).isOk());
    writeFormat1(**db, one);
    writeFormat1(**db, two);
  }
  auto store = open(/*retained=*/2);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->migratedFrom(), 1);
  EXPECT_EQ((*store->latest())->id(), 2u);
  EXPECT_EQ(store->summaries()->size(), 2u);
  EXPECT_EQ(*store->readBlob(sha256("only in one")), "only in one");

  // Retention still collects what only a dropped checkpoint referenced.
  Built three = build(3, {{"shared", "in both"}}, 30);
  ASSERT_TRUE(store->commit(three.manifest, three.source()).isOk());
  ASSERT_TRUE(store->compact().isOk());
  EXPECT_FALSE(*store->hasBlob(sha256("only in one")));
  EXPECT_TRUE(*store->hasBlob(sha256("in both")));
  store.reset();
  auto again = open();
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->migratedFrom(), 0);  // already the current format
  auto db = Database::open(path_, false);
  auto tables =
      (*db)->prepare("SELECT count(*) FROM sqlite_master WHERE name = 'checkpoint_blobs'");
  ASSERT_TRUE(*tables->step());
  EXPECT_EQ(tables->columnInt(0), 0);
}

// ---- manifests as changes (format 4)

// `count` keys "key-NNNN" with one value each, the ones in `changed` in their
// `version`-th value.
std::map<std::string, std::string> keys(int count, const std::map<int, int>& changed = {}) {
  std::map<std::string, std::string> state;
  for (int i = 0; i < count; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "key-%04d", i);
    auto it = changed.find(i);
    state[name] =
        "value " + std::to_string(i) + " v" + std::to_string(it == changed.end() ? 0 : it->second);
  }
  return state;
}

struct RowInfo {
  int64_t base_id = -1;
  int64_t retained = -1;
  int64_t bytes = -1;
};

RowInfo rowInfo(const std::string& path, uint64_t id) {
  auto db = Database::open(path, false);
  auto st =
      (*db)->prepare("SELECT base_id, retained, length(manifest) FROM checkpoints WHERE id = ?");
  RowInfo info;
  if (*st->bind(1, static_cast<int64_t>(id)).step()) {
    info = {st->columnInt(0), st->columnInt(1), st->columnInt(2)};
  }
  return info;
}

TEST_F(StoreTest, ShouldStoreOnlyTheChangedKeysWhenMostStateIsUnchanged) {
  auto store = open();
  Built one = build(1, keys(1000), 1);
  ASSERT_TRUE(store->commit(one.manifest, one.source()).isOk());
  Built two = build(2, keys(1000, {{17, 1}}), 2);
  ASSERT_TRUE(store->commit(two.manifest, two.source()).isOk());
  EXPECT_EQ(store->lastCommit().bytes_written, two.by_hash.at(sha256("value 17 v1")).size());

  const RowInfo whole = rowInfo(path_, 1), change = rowInfo(path_, 2);
  EXPECT_EQ(whole.base_id, 0);
  EXPECT_EQ(change.base_id, 1);
  EXPECT_LT(change.bytes * 100, whole.bytes) << "the change stored more than the changed key";
  EXPECT_EQ((*store->get(2))->SerializeAsString(), two.manifest.SerializeAsString());
  store.reset();
  auto again = open();
  EXPECT_EQ((*again->latest())->SerializeAsString(), two.manifest.SerializeAsString());
  EXPECT_EQ((*again->get(1))->SerializeAsString(), one.manifest.SerializeAsString());
}

TEST_F(StoreTest, ShouldStoreAWholeManifestOnceTheChangesAddUpToOne) {
  auto store = open();
  std::vector<int64_t> bases;
  for (uint64_t id = 1; id <= 12; ++id) {
    std::map<int, int> changed;
    for (int k = 0; k < 10; ++k) changed[static_cast<int>(id * 10) + k] = static_cast<int>(id);
    Built b = build(id, keys(200, changed), static_cast<int64_t>(id));  // 5% of keys each time
    ASSERT_TRUE(store->commit(b.manifest, b.source()).isOk());
    bases.push_back(rowInfo(path_, id).base_id);
  }
  // Whole, then changes until they add up to a whole manifest, then whole again.
  EXPECT_EQ(bases.front(), 0);
  const auto wholes = std::count(bases.begin(), bases.end(), 0);
  EXPECT_GE(wholes, 2);
  EXPECT_LE(wholes, 4);
  for (size_t i = 1; i < bases.size(); ++i) {
    if (bases[i] != 0) {
      EXPECT_EQ(bases[i], static_cast<int64_t>(i)) << "a change of the one before";
    }
  }
}

// A checkpoint's summary counts its keys and bytes as its whole manifest
// does, though it is read from changes that add, resize and remove keys.
TEST_F(StoreTest, ShouldSummarizeEachRetainedCheckpointAsItsWholeManifestWould) {
  std::vector<Manifest> committed;
  std::map<std::string, std::string> state;
  {
    auto store = open(/*retained=*/3);
    for (uint64_t id = 1; id <= 5; ++id) {
      for (int k = 0; k < 40; ++k) state["key-" + std::to_string(k)] = "v" + std::to_string(k);
      state["grown"] = std::string(id * 100, 'g');                  // resized every time
      state["added-" + std::to_string(id)] = "new";                 // one more key each time
      if (id >= 3) state.erase("added-" + std::to_string(id - 2));  // and one fewer
      Built b = build(id, state, static_cast<int64_t>(id));
      ASSERT_TRUE(store->commit(b.manifest, b.source()).isOk());
      ASSERT_TRUE(store->compact().isOk());
      committed.push_back(b.manifest);
    }
    EXPECT_NE(rowInfo(path_, 5).base_id, 0) << "the test wants change rows";
  }
  auto store = open(/*retained=*/3);
  auto all = store->summaries();
  ASSERT_TRUE(all.isOk()) << all.status().toString();
  ASSERT_EQ(all->size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    const CheckpointSummary want = summarize(committed[4 - i]);
    EXPECT_EQ((*all)[i].id, want.id);
    EXPECT_EQ((*all)[i].state_keys, want.state_keys) << "checkpoint " << want.id;
    EXPECT_EQ((*all)[i].state_bytes, want.state_bytes) << "checkpoint " << want.id;
    EXPECT_EQ((*all)[i].partitions, want.partitions);
  }
}

// The oldest retained checkpoint builds on rows that left retention: those
// stay as links, unlisted, until a newer whole manifest makes them unneeded.
TEST_F(StoreTest, ShouldReadEveryRetainedCheckpointWhenWhatItBuildsOnLeftRetention) {
  std::vector<Manifest> committed;
  {
    auto store = open(/*retained=*/2);
    for (uint64_t id = 1; id <= 6; ++id) {
      Built b = build(id, keys(500, {{0, static_cast<int>(id)}}), static_cast<int64_t>(id));
      ASSERT_TRUE(store->commit(b.manifest, b.source()).isOk());
      ASSERT_TRUE(store->compact().isOk());
      committed.push_back(b.manifest);
    }
    EXPECT_EQ(rowInfo(path_, 1).base_id, 0);
    EXPECT_EQ(rowInfo(path_, 1).retained, 0);  // a link
    EXPECT_EQ(rowInfo(path_, 4).retained, 0);
    EXPECT_EQ(rowInfo(path_, 5).retained, 1);
    EXPECT_FALSE(store->get(4)->has_value());
    // key-0000's first values left with the checkpoints that held them.
    EXPECT_FALSE(*store->hasBlob(sha256("value 0 v1")));
    EXPECT_FALSE(*store->hasBlob(sha256("value 0 v4")));
    EXPECT_TRUE(*store->hasBlob(sha256("value 0 v5")));
    EXPECT_TRUE(*store->hasBlob(sha256("value 1 v0")));  // unchanged since the first
  }
  auto store = open(/*retained=*/2);
  auto all = store->summaries();
  ASSERT_TRUE(all.isOk()) << all.status().toString();
  ASSERT_EQ(all->size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const Manifest& want = committed[5 - i];
    const CheckpointSummary s = (*all)[i];
    const CheckpointSummary whole = summarize(want);
    EXPECT_EQ(s.id, whole.id);
    EXPECT_EQ(s.state_keys, whole.state_keys);
    EXPECT_EQ(s.state_bytes, whole.state_bytes);
    EXPECT_EQ(s.partitions, whole.partitions);
    EXPECT_EQ(s.trigger, whole.trigger);
    auto read = store->get(s.id);
    ASSERT_TRUE(read.isOk() && read->has_value());
    EXPECT_EQ((*read)->SerializeAsString(), want.SerializeAsString());
  }

  // Every key changed: stored whole, and once it is the oldest retained,
  // every row before it goes.
  std::map<int, int> all_changed;
  for (int k = 0; k < 500; ++k) all_changed[k] = 7;
  for (uint64_t id = 7; id <= 8; ++id) {
    Built b = build(id, keys(500, all_changed), static_cast<int64_t>(id));
    ASSERT_TRUE(store->commit(b.manifest, b.source()).isOk());
    ASSERT_TRUE(store->compact().isOk());
  }
  EXPECT_EQ(rowInfo(path_, 7).base_id, 0);
  EXPECT_EQ(rowInfo(path_, 8).base_id, 7);
  EXPECT_EQ(rowInfo(path_, 6).base_id, -1) << "row 6 should be gone";
  EXPECT_EQ(rowInfo(path_, 1).base_id, -1) << "row 1 should be gone";
  EXPECT_FALSE(*store->hasBlob(sha256("value 1 v0")));
  EXPECT_TRUE(*store->hasBlob(sha256("value 1 v7")));
}

TEST_F(StoreTest, ShouldKeepABlobThatMovedToAnotherKeyInTheSameCheckpoint) {
  auto store = open(/*retained=*/1);
  auto state = keys(100);
  state["a"] = "moving";
  Built one = build(1, state, 1);
  ASSERT_TRUE(store->commit(one.manifest, one.source()).isOk());
  state.erase("a");
  state["b"] = "moving";
  Built two = build(2, state, 2);
  ASSERT_TRUE(store->commit(two.manifest, two.source()).isOk());
  ASSERT_EQ(rowInfo(path_, 2).base_id, 1);
  ASSERT_TRUE(store->compact().isOk());
  EXPECT_EQ(*store->readBlob(sha256("moving")), "moving");
  store.reset();
  auto again = open(/*retained=*/1);
  ASSERT_TRUE(again->compact().isOk());
  EXPECT_EQ(*again->readBlob(sha256("moving")), "moving");
}

TEST_F(StoreTest, ShouldRefuseAStoreMissingARowThatARetainedCheckpointBuildsOn) {
  {
    auto store = open();
    for (uint64_t id = 1; id <= 3; ++id) {
      Built b = build(id, keys(500, {{0, static_cast<int>(id)}}), static_cast<int64_t>(id));
      ASSERT_TRUE(store->commit(b.manifest, b.source()).isOk());
    }
    ASSERT_EQ(rowInfo(path_, 3).base_id, 2);
  }
  {
    auto db = Database::open(path_, false);
    ASSERT_TRUE((*db)->exec("DELETE FROM checkpoints WHERE id = 2").isOk());
  }
  auto store = SqliteCheckpointStore::open(path_, 10);
  ASSERT_FALSE(store.isOk());
  EXPECT_EQ(store.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(store.status().message().find("checkpoint 3 changes checkpoint 2"), std::string::npos)
      << store.status().message();
}

// A child process commits checkpoints as fast as it can and reports each id
// once commit() returned; the parent kills it with SIGKILL at a random moment,
// then opens the store: it must be intact, hold every reported checkpoint (or a
// newer one) and every blob the latest one references.
TEST_F(StoreTest, ShouldNeverLoseOrTearACheckpointWhenKilledAtRandomMoments) {
  constexpr int kIterations = 200;
  std::mt19937 rng(12345);
  uint64_t next_id = 1;
  uint64_t waited = 0;  // commits the parent saw complete before a kill
  for (int i = 0; i < kIterations; ++i) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      auto store = SqliteCheckpointStore::open(path_, 3);
      if (!store.isOk()) _exit(3);
      for (uint64_t id = next_id;; ++id) {
        std::string blob(1024 + (id % 7) * 4096, static_cast<char>('a' + id % 26));
        // Unchanging keys too ("z-..." sort last), so most rows are changes.
        std::map<std::string, std::string> state;
        for (const auto& [key, value] : keys(50)) state["z-" + key] = value;
        state["state"] = blob;
        state["id"] = std::to_string(id);
        Built b = build(id, state, static_cast<int64_t>(id));
        if (!(*store)->commit(b.manifest, b.source()).isOk()) _exit(4);
        if (write(fds[1], &id, sizeof(id)) != sizeof(id)) _exit(5);
        // As the coordinator does: compact after reporting, without an fsync
        // of its own, so kills land inside compaction too.
        if (!(*store)->compact().isOk()) _exit(6);
      }
    }
    close(fds[1]);
    // Let 0-2 commits complete first (so kills land both before and among
    // commits whatever the machine's speed), then kill at a random moment.
    uint64_t reported = 0, id = 0;
    const int wait_for = std::uniform_int_distribution<int>(0, 2)(rng);
    for (int k = 0; k < wait_for && read(fds[0], &id, sizeof(id)) == sizeof(id); ++k) {
      reported = id;
      ++waited;
    }
    usleep(std::uniform_int_distribution<int>(0, 5000)(rng));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited early with " << WEXITSTATUS(status);
    while (read(fds[0], &id, sizeof(id)) == sizeof(id)) reported = id;
    close(fds[0]);

    auto store = SqliteCheckpointStore::open(path_, 3);
    ASSERT_TRUE(store.isOk()) << "iteration " << i << ": " << store.status().toString();
    auto latest = (*store)->latest();
    ASSERT_TRUE(latest.isOk());
    if (!latest->has_value()) {
      ASSERT_EQ(reported, 0u) << "a reported checkpoint was lost";
      continue;
    }
    const Manifest& m = **latest;
    ASSERT_GE(m.id(), reported) << "iteration " << i << " lost checkpoint " << reported;
    for (const auto& ref : m.state()) {
      auto data = (*store)->readBlob(ref.sha256());
      ASSERT_TRUE(data.isOk()) << "iteration " << i << ": " << data.status().toString();
      ASSERT_EQ(data->size(), ref.size());
    }
    // Keys in sorted order: "id" is the first blob; it names its own checkpoint.
    ASSERT_EQ(m.state(0).key(), "id");
    ASSERT_EQ(*(*store)->readBlob(m.state(0).sha256()), std::to_string(m.id()));
    next_id = m.id() + 1;
  }
  // The kills landed among real commits, not only before the first.
  EXPECT_GT(waited, static_cast<uint64_t>(kIterations / 2));
  EXPECT_GT(next_id, waited);
}

}  // namespace
}  // namespace tidemark::store
