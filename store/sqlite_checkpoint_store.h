#pragma once

// CheckpointStore on a local SQLite database, format version 1
// (docs/store-format.md).

#include <memory>

#include "store/checkpoint_store.h"
#include "store/sqlite.h"

namespace tidemark::store {

class SqliteCheckpointStore : public CheckpointStore {
 public:
  static constexpr int kFormatVersion = 1;

  // Opens or creates the store at `path`, migrates an older format, and runs
  // PRAGMA integrity_check: a corrupt file is refused (DataLoss), never served.
  static StatusOr<std::unique_ptr<SqliteCheckpointStore>> open(const std::string& path,
                                                               uint32_t retained);

  Status commit(const Manifest& manifest, const BlobSource& blobs) override;
  StatusOr<std::optional<Manifest>> latest() override;
  StatusOr<std::optional<Manifest>> get(uint64_t id) override;
  StatusOr<std::vector<Manifest>> list() override;
  StatusOr<std::string> readBlob(const std::string& sha256) override;
  StatusOr<bool> hasBlob(const std::string& sha256) override;
  StatusOr<uint64_t> nextId(int64_t now_ms) override;

 private:
  SqliteCheckpointStore(std::unique_ptr<Database> db, uint32_t retained)
      : db_(std::move(db)), retained_(retained) {}
  Status migrate();
  Status prune();
  StatusOr<std::optional<Manifest>> queryOne(const std::string& sql, int64_t arg, bool bind);

  std::unique_ptr<Database> db_;
  uint32_t retained_;
};

}  // namespace tidemark::store
