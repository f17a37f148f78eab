#pragma once

// Where `tidemark checkpoints` reads checkpoints from: a store file, opened
// read-only (--store, --config), or a running sidecar's HTTP API (--admin).

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sidecar/base/status.h"
#include "sidecar/cli/checkpoint_documents.h"
#include "sidecar/config/scalars.h"
#include "store/checkpoint_store.h"
#include "store/sqlite.h"

namespace tidemark::cli {

// The checkpoints one store holds, whether read from its file or asked of
// the sidecar that runs it.
//
// Contract: list() and get() return values the caller owns and may keep
// after the source is gone. Errors are values: NotFound when a checkpoint is
// not retained; DataLoss for a corrupt store or an answer that does not parse;
// Unavailable, DeadlineExceeded or FailedPrecondition when a sidecar cannot be
// reached, does not answer in time or refuses the token. Calls block (a
// sidecar source does network I/O, bounded by timeouts). A source is used by
// one thread at a time; a store source sees one consistent snapshot for its
// whole life (see StoreReader), a sidecar source asks anew at every call.
class Source {
 public:
  virtual ~Source() = default;
  // Retained checkpoints, newest first.
  virtual StatusOr<std::vector<Summary>> list() = 0;
  // NotFound when `id` is not retained.
  virtual StatusOr<store::Manifest> get(uint64_t id) = 0;
};

// Checkpoint `id` of `source`, or its newest when `id` is nullopt ("latest");
// NotFound when there is none.
StatusOr<store::Manifest> resolve(Source& source, std::optional<uint64_t> id);

// A store opened only to read: no migration and no integrity check (which
// reads the whole file), query_only. Everything is read in one read
// transaction: a running sidecar (SQLite's WAL lets it write meanwhile)
// prunes old checkpoints and their blobs, and an export must never see a
// manifest without its blobs. The transaction ends when the reader is
// destroyed, so keep readers short-lived. Not thread-safe.
class StoreReader {
 public:
  // NotFound when `path` does not exist; FailedPrecondition when it is not a
  // tidemark store of a format this tidemark reads (1 to 4); DataLoss when it
  // is not an SQLite database.
  static StatusOr<std::unique_ptr<StoreReader>> open(const std::string& path);
  ~StoreReader() { (void)db_->exec("COMMIT"); }

  // Every retained checkpoint's summary, newest first.
  StatusOr<std::vector<store::CheckpointSummary>> summaries();
  // nullopt when `id` is not retained.
  StatusOr<std::optional<store::Manifest>> get(uint64_t id);
  // The blob with this raw SHA-256, verified against it; DataLoss when it is
  // missing or corrupt.
  StatusOr<std::string> readBlob(const std::string& sha256);
  const std::string& path() const { return db_->path(); }

 private:
  explicit StoreReader(std::unique_ptr<store::Database> db) : db_(std::move(db)) {}
  std::unique_ptr<store::Database> db_;
  bool rows_are_changes_ = false;  // format 4 (store/checkpoint_rows.h)
  // Stored blob -> its rowid, read once: format 3 has no index on sha256
  // (docs/store-format.md), and rowid is the key in formats 1 to 4 alike.
  std::optional<std::map<std::string, int64_t>> blob_rows_;
};

// A Source over a store file. Owns its reader, which export borrows to read
// the blobs of the same snapshot the manifests came from.
class StoreSource : public Source {
 public:
  explicit StoreSource(std::unique_ptr<StoreReader> reader) : reader_(std::move(reader)) {}
  StatusOr<std::vector<Summary>> list() override;
  StatusOr<store::Manifest> get(uint64_t id) override;
  StoreReader& reader() { return *reader_; }

 private:
  std::unique_ptr<StoreReader> reader_;
};

// A Source over a running sidecar's HTTP API (GET /v1/checkpoints and
// GET /v1/checkpoints/{id}), one blocking request per call. `url` is the
// API's base (its path prefix is kept); `token`, when not empty, is sent as a
// bearer token.
class AdminSource : public Source {
 public:
  AdminSource(config::HttpUrl url, std::string token);
  StatusOr<std::vector<Summary>> list() override;
  StatusOr<store::Manifest> get(uint64_t id) override;

 private:
  StatusOr<nlohmann::json> getJson(const std::string& path);

  config::HttpUrl url_;
  std::string token_;
};

// The token in `path`, as the sidecar reads http.token_file: trailing
// newlines and spaces dropped. IoError when unreadable, FailedPrecondition
// when empty.
StatusOr<std::string> readTokenFile(const std::string& path);

namespace detail {

// Owns a file descriptor, closing it when destroyed. Shared by the HTTP
// client (checkpoint_sources.cc) and the checkpoint file (checkpoint_file.cc).
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  ~Fd();
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace detail
// FailedPrecondition when another process (a running sidecar) has the store
// at `path` open; `verb` says what the user wanted to do once it is stopped.
Status checkNotInUse(const std::string& path, const std::string& verb);

}  // namespace tidemark::cli
