#include "store/sqlite.h"

#include <sqlite3.h>

#include <string>
#include <string_view>

namespace tidemark::store {
namespace {
// How long a statement waits for another connection's lock (the CLI's readers).
constexpr int kBusyTimeoutMs = 5000;
}  // namespace

Status sqliteStatus(int code, const std::string& what) {
  // sqlite3_errmsg is often sqlite3_errstr itself: say it once.
  const std::string_view reason = sqlite3_errstr(code);
  const std::string message = what.ends_with(reason) ? what : what + ": " + std::string(reason);
  switch (code & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
      return Status::ok();
    case SQLITE_FULL:
      return resourceExhausted(message);
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CANTOPEN:
      return failedPrecondition(message);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return unavailable(message);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return dataLoss(message);
    case SQLITE_IOERR:
      return ioError(message);
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
      return internalError(message);
    default:
      return ioError(message);
  }
}

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_), stmt_(other.stmt_), bind_error_(std::move(other.bind_error_)) {
  other.stmt_ = nullptr;
}

Statement::~Statement() {
  if (stmt_ != nullptr) sqlite3_finalize(stmt_);
}

namespace {
void noteBind(Status& sticky, int rc, sqlite3* db) {
  if (rc != SQLITE_OK && sticky.isOk()) sticky = sqliteStatus(rc, sqlite3_errmsg(db));
}
}  // namespace

Statement& Statement::bind(int index, int64_t value) {
  noteBind(bind_error_, sqlite3_bind_int64(stmt_, index, value), db_);
  return *this;
}

Statement& Statement::bindText(int index, std::string_view value) {
  noteBind(
      bind_error_,
      sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
      db_);
  return *this;
}

Statement& Statement::bindBlob(int index, std::string_view value) {
  // A zero-length blob must still be a blob, not NULL: give SQLite a valid pointer.
  static const char kEmpty = 0;
  noteBind(bind_error_,
           sqlite3_bind_blob64(stmt_, index, value.empty() ? &kEmpty : value.data(), value.size(),
                               SQLITE_STATIC),
           db_);
  return *this;
}

Statement& Statement::bindNull(int index) {
  noteBind(bind_error_, sqlite3_bind_null(stmt_, index), db_);
  return *this;
}

StatusOr<bool> Statement::step() {
  if (!bind_error_.isOk()) return bind_error_;
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return sqliteStatus(rc, sqlite3_errmsg(db_));
}

Status Statement::run() {
  while (true) {
    TM_ASSIGN_OR_RETURN(bool row, step());
    if (!row) return Status::ok();
  }
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_error_ = Status::ok();
}

int64_t Statement::columnInt(int index) const { return sqlite3_column_int64(stmt_, index); }

std::string Statement::columnText(int index) const {
  const unsigned char* p = sqlite3_column_text(stmt_, index);
  return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(stmt_, index))
           : std::string();
}

std::string Statement::columnBlob(int index) const {
  const void* p = sqlite3_column_blob(stmt_, index);
  return p ? std::string(static_cast<const char*>(p), sqlite3_column_bytes(stmt_, index))
           : std::string();
}

bool Statement::columnIsNull(int index) const {
  return sqlite3_column_type(stmt_, index) == SQLITE_NULL;
}

int64_t memoryInUse() { return sqlite3_memory_used(); }

StatusOr<std::unique_ptr<Database>> Database::open(const std::string& path, bool create) {
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Status s = sqliteStatus(rc, "cannot open it");
    sqlite3_close(db);
    return s;
  }
  // SQLite quietly opens a file it cannot write read-only, and the
  // connection stays so even once the file system is writable again: a
  // writer refuses at once (the orchestrator restarts the sidecar until it is).
  if (create && sqlite3_db_readonly(db, "main") == 1) {
    sqlite3_close(db);
    return failedPrecondition(
        "the file is read-only (or its file system); the store must be writable");
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  std::unique_ptr<Database> out(new Database(db, path));
  // WAL + FULL: a committed transaction survives power loss; readers never
  // see a partial one.
  TM_RETURN_IF_ERROR(out->exec("PRAGMA journal_mode=WAL"));
  TM_RETURN_IF_ERROR(out->exec("PRAGMA synchronous=FULL"));
  TM_RETURN_IF_ERROR(out->exec("PRAGMA foreign_keys=ON"));
  // Statement journals and sorts in memory, not as temp files beside /var/tmp;
  // a page cache large enough that a big checkpoint does not spill and write
  // its WAL frames twice (a ceiling, allocated only as used); freed pages are
  // not zero-filled (Debian builds SQLite with secure_delete on: ~15% more
  // pages written per checkpoint, for data the live file holds anyway).
  TM_RETURN_IF_ERROR(out->exec("PRAGMA temp_store=MEMORY"));
  TM_RETURN_IF_ERROR(out->exec("PRAGMA cache_size=-32768"));
  TM_RETURN_IF_ERROR(out->exec("PRAGMA secure_delete=OFF"));
  return out;
}

Database::~Database() { sqlite3_close(db_); }

int64_t Database::lastInsertRowid() const { return sqlite3_last_insert_rowid(db_); }

void Database::takeOverWalCheckpoints() {
  sqlite3_wal_hook(
      db_,
      [](void* self, sqlite3*, const char*, int frames) {
        static_cast<Database*>(self)->wal_frames_ = frames;
        return SQLITE_OK;
      },
      this);
}

Status Database::checkpointWal() {
  int log = 0, done = 0;
  int rc = sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
  if (rc != SQLITE_OK) {
    return sqliteStatus(rc, std::string("WAL checkpoint: ") + sqlite3_errmsg(db_));
  }
  wal_frames_ = log - done;
  if (log > kTruncateWalFrames && done == log) {
    sqlite3_busy_timeout(db_, 0);
    rc = sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, &log, &done);
    sqlite3_busy_timeout(db_, kBusyTimeoutMs);
    // Busy: a reader is in the WAL (the CLI beside the sidecar); next time.
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
      return sqliteStatus(rc, std::string("WAL truncate: ") + sqlite3_errmsg(db_));
    }
  }
  return Status::ok();
}

Status Database::exec(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  std::string message = err ? err : sqlite3_errmsg(db_);
  sqlite3_free(err);
  if (rc != SQLITE_OK) return sqliteStatus(rc, message);
  return Status::ok();
}

StatusOr<Statement> Database::prepare(const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) return sqliteStatus(rc, sqlite3_errmsg(db_));
  return Statement(db_, stmt);
}

StatusOr<std::string> Database::integrityCheck(const std::vector<std::string>& tables) {
  std::string out;
  const auto check = [&](const std::string& pragma) -> Status {
    TM_ASSIGN_OR_RETURN(Statement st, prepare(pragma));
    while (true) {
      TM_ASSIGN_OR_RETURN(bool row, st.step());
      if (!row) return Status::ok();
      const std::string line = st.columnText(0);
      if (line == "ok") continue;
      if (!out.empty()) out += "; ";
      out += line;
    }
  };
  for (const std::string& table : tables) {
    std::string quoted = "\"";
    for (char c : table) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
    TM_RETURN_IF_ERROR(check("PRAGMA integrity_check(" + quoted + "\")"));
  }
  return out.empty() ? std::string("ok") : out;
}

StatusOr<Transaction> Transaction::begin(Database& db) {
  TM_RETURN_IF_ERROR(db.exec("BEGIN IMMEDIATE"));
  return Transaction(&db);
}

Transaction::~Transaction() {
  if (db_ != nullptr) (void)db_->exec("ROLLBACK");
}

Status Transaction::commit() {
  Database* db = db_;
  db_ = nullptr;
  Status s = db->exec("COMMIT");
  if (!s.isOk()) (void)db->exec("ROLLBACK");
  return s;
}

}  // namespace tidemark::store
