#pragma once

// The one seam over SQLite: the only file that holds sqlite3 pointers. Errors
// come back as Status with SQLite's condition mapped to a code callers can act
// on: disk full → ResourceExhausted, read-only → FailedPrecondition, busy or
// locked → Unavailable, corrupt or not a database → DataLoss.
//
// Not thread-safe: a Database and its Statements belong to one thread.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sidecar/base/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace tidemark::store {

class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  ~Statement();

  Statement& bind(int index, int64_t value);
  Statement& bindText(int index, std::string_view value);
  Statement& bindBlob(int index, std::string_view value);
  Statement& bindNull(int index);

  // Advances: true when a row is available, false when done.
  StatusOr<bool> step();
  // Steps to completion (for statements without results).
  Status run();
  void reset();

  int64_t columnInt(int index) const;
  std::string columnText(int index) const;
  std::string columnBlob(int index) const;
  bool columnIsNull(int index) const;

 private:
  friend class Database;
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  Status bind_error_;
};

// One SQLite connection. Its errors say what failed, never which file: the
// caller, which chose the file, names it once (the sidecar "store.path P: …",
// the CLI "store P: …").
class Database {
 public:
  // Opens (creating if `create`) with WAL and synchronous=FULL. With
  // `create` (a writer), a file SQLite could only open read-only is refused
  // (FailedPrecondition).
  static StatusOr<std::unique_ptr<Database>> open(const std::string& path, bool create);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  Status exec(const std::string& sql);
  StatusOr<Statement> prepare(const std::string& sql);
  // "ok", or what PRAGMA integrity_check found in `tables` and their indexes.
  StatusOr<std::string> integrityCheck(const std::vector<std::string>& tables);
  const std::string& path() const { return path_; }
  // The rowid the last INSERT on this connection gave.
  int64_t lastInsertRowid() const;

  // Stops SQLite's automatic WAL checkpoints, which otherwise run inside
  // whichever commit crosses the threshold (copying pages into the database
  // and fsyncing it while the caller waits); counts the WAL's frames instead
  // so the owner can checkpoint when nobody waits (checkpointWal).
  void takeOverWalCheckpoints();
  // Frames in the WAL after the last commit (with takeOverWalCheckpoints).
  int walFrames() const { return wal_frames_; }
  // Copies the WAL's frames into the database (PASSIVE: never waits for
  // readers), so the next writer can start the WAL over. When that copied a
  // WAL of more than kTruncateWalFrames, the WAL file is also truncated, if
  // no reader is in it (never waiting): after a crash, SQLite reads the whole
  // WAL at open to recover it, so a large checkpoint's WAL left in place
  // would slow every restart until it is overwritten.
  Status checkpointWal();
  static constexpr int kTruncateWalFrames = 16384;  // 64 MiB of 4 KiB pages

 private:
  Database(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
  int wal_frames_ = 0;
};

// Bytes SQLite holds on the heap in this process, every connection's page
// cache included (each connection's cache is bounded by its cache_size).
// Thread-safe.
int64_t memoryInUse();

// BEGIN IMMEDIATE ... COMMIT; rolls back if destroyed before commit().
class Transaction {
 public:
  static StatusOr<Transaction> begin(Database& db);
  Transaction(Transaction&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  ~Transaction();
  Status commit();

 private:
  explicit Transaction(Database* db) : db_(db) {}
  Database* db_;
};

// Maps an SQLite result code (and its message) to a Status.
Status sqliteStatus(int code, const std::string& what);

}  // namespace tidemark::store
