#include "store/sqlite_checkpoint_store.h"

#include <openssl/evp.h>

#include <algorithm>
#include <vector>

namespace tidemark::store {
namespace {

// Version 1 of the on-disk format. Specified in docs/store-format.md; any
// change is a new version with a migration in migrate().
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE meta(
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE blobs(
  sha256 BLOB PRIMARY KEY,
  size INTEGER NOT NULL,
  data BLOB NOT NULL
);
CREATE TABLE checkpoints(
  id INTEGER PRIMARY KEY,
  created_at_ms INTEGER NOT NULL,
  trigger TEXT NOT NULL,
  manifest BLOB NOT NULL
);
CREATE TABLE checkpoint_blobs(
  checkpoint_id INTEGER NOT NULL REFERENCES checkpoints(id) ON DELETE CASCADE,
  sha256 BLOB NOT NULL REFERENCES blobs(sha256),
  PRIMARY KEY(checkpoint_id, sha256)
) WITHOUT ROWID;
CREATE INDEX checkpoint_blobs_by_blob ON checkpoint_blobs(sha256);
INSERT INTO meta(key, value) VALUES('format_version', '1');
)sql";

StatusOr<Manifest> parseManifest(const std::string& bytes, int64_t id) {
  Manifest m;
  if (!m.ParseFromString(bytes)) {
    return dataLoss("checkpoint " + std::to_string(id) + ": manifest does not parse");
  }
  return m;
}

}  // namespace

std::string sha256(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out, &len, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string toHex(std::string_view bytes) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xf]);
  }
  return out;
}

StatusOr<std::unique_ptr<SqliteCheckpointStore>> SqliteCheckpointStore::open(
    const std::string& path, uint32_t retained) {
  TM_ASSIGN_OR_RETURN(auto db, Database::open(path, /*create=*/true));
  TM_ASSIGN_OR_RETURN(std::string integrity, db->integrityCheck());
  if (integrity != "ok") return dataLoss(path + ": integrity check failed: " + integrity);
  std::unique_ptr<SqliteCheckpointStore> store(
      new SqliteCheckpointStore(std::move(db), std::max<uint32_t>(retained, 1)));
  TM_RETURN_IF_ERROR(store->migrate());
  return store;
}

Status SqliteCheckpointStore::migrate() {
  TM_ASSIGN_OR_RETURN(Statement has_meta,
                      db_->prepare("SELECT count(*) FROM sqlite_master WHERE name = 'meta'"));
  TM_ASSIGN_OR_RETURN(bool row, has_meta.step());
  if (!row || has_meta.columnInt(0) == 0) {
    TM_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(*db_));
    TM_RETURN_IF_ERROR(db_->exec(kSchemaV1));
    return tx.commit();
  }
  TM_ASSIGN_OR_RETURN(Statement version,
                      db_->prepare("SELECT value FROM meta WHERE key = 'format_version'"));
  TM_ASSIGN_OR_RETURN(bool found, version.step());
  const std::string v = found ? version.columnText(0) : "";
  if (v == std::to_string(kFormatVersion)) return Status::ok();
  // Future versions add `if (v == "1") { ...upgrade to 2... }` here, in one transaction.
  return failedPrecondition(db_->path() + ": store format version '" + v +
                            "' is not one this tidemark reads (it reads 1)");
}

Status SqliteCheckpointStore::commit(const Manifest& manifest, const BlobSource& blobs) {
  std::string encoded;
  if (!manifest.SerializeToString(&encoded)) return internalError("manifest does not serialize");
  TM_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(*db_));
  TM_ASSIGN_OR_RETURN(Statement has, db_->prepare("SELECT 1 FROM blobs WHERE sha256 = ?"));
  TM_ASSIGN_OR_RETURN(Statement put,
                      db_->prepare("INSERT INTO blobs(sha256, size, data) VALUES(?, ?, ?)"));
  TM_ASSIGN_OR_RETURN(
      Statement ref,
      db_->prepare("INSERT OR IGNORE INTO checkpoint_blobs(checkpoint_id, sha256) VALUES(?, ?)"));
  TM_ASSIGN_OR_RETURN(Statement cp, db_->prepare("INSERT INTO checkpoints(id, created_at_ms, "
                                                 "trigger, manifest) VALUES(?, ?, ?, ?)"));
  const int64_t id = static_cast<int64_t>(manifest.id());
  TM_RETURN_IF_ERROR(cp.bind(1, id)
                         .bind(2, manifest.created_at_ms())
                         .bindText(3, manifest.trigger())
                         .bindBlob(4, encoded)
                         .run());
  for (const auto& state : manifest.state()) {
    has.reset();
    TM_ASSIGN_OR_RETURN(bool exists, has.bindBlob(1, state.sha256()).step());
    if (!exists) {
      auto data = blobs(state.sha256());
      if (!data) return internalError("no data for state blob " + state.key());
      put.reset();
      TM_RETURN_IF_ERROR(put.bindBlob(1, state.sha256())
                             .bind(2, static_cast<int64_t>(data->size()))
                             .bindBlob(3, *data)
                             .run());
    }
    ref.reset();
    TM_RETURN_IF_ERROR(ref.bind(1, id).bindBlob(2, state.sha256()).run());
  }
  TM_RETURN_IF_ERROR(prune());
  return tx.commit();
}

// Keeps the newest `retained_` checkpoints and the blobs they reference. Only
// blobs the dropped checkpoints referenced can become unreferenced, so only
// those are checked: the cost follows what is dropped, not the whole store.
Status SqliteCheckpointStore::prune() {
  TM_ASSIGN_OR_RETURN(
      Statement cutoff,
      db_->prepare("SELECT id FROM checkpoints ORDER BY id DESC LIMIT 1 OFFSET ?"));
  TM_ASSIGN_OR_RETURN(bool beyond, cutoff.bind(1, static_cast<int64_t>(std::max<uint32_t>(retained_, 1) - 1)).step());
  if (!beyond) return Status::ok();
  const int64_t oldest_kept = cutoff.columnInt(0);
  std::vector<std::string> candidates;
  {
    TM_ASSIGN_OR_RETURN(
        Statement refs,
        db_->prepare("SELECT DISTINCT sha256 FROM checkpoint_blobs WHERE checkpoint_id < ?"));
    refs.bind(1, oldest_kept);
    while (true) {
      TM_ASSIGN_OR_RETURN(bool row, refs.step());
      if (!row) break;
      candidates.push_back(refs.columnBlob(0));
    }
  }
  TM_ASSIGN_OR_RETURN(Statement drop, db_->prepare("DELETE FROM checkpoints WHERE id < ?"));
  TM_RETURN_IF_ERROR(drop.bind(1, oldest_kept).run());  // cascades to their references
  TM_ASSIGN_OR_RETURN(
      Statement unreferenced,
      db_->prepare("DELETE FROM blobs WHERE sha256 = ?1 AND NOT EXISTS "
                   "(SELECT 1 FROM checkpoint_blobs WHERE sha256 = ?1)"));
  for (const std::string& sha : candidates) {
    unreferenced.reset();
    TM_RETURN_IF_ERROR(unreferenced.bindBlob(1, sha).run());
  }
  return Status::ok();
}

StatusOr<std::optional<Manifest>> SqliteCheckpointStore::queryOne(const std::string& sql,
                                                                  int64_t arg, bool bind) {
  TM_ASSIGN_OR_RETURN(Statement st, db_->prepare(sql));
  if (bind) st.bind(1, arg);
  TM_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return std::optional<Manifest>();
  TM_ASSIGN_OR_RETURN(Manifest m, parseManifest(st.columnBlob(1), st.columnInt(0)));
  return std::optional<Manifest>(std::move(m));
}

StatusOr<std::optional<Manifest>> SqliteCheckpointStore::latest() {
  return queryOne("SELECT id, manifest FROM checkpoints ORDER BY id DESC LIMIT 1", 0, false);
}

StatusOr<std::optional<Manifest>> SqliteCheckpointStore::get(uint64_t id) {
  return queryOne("SELECT id, manifest FROM checkpoints WHERE id = ?", static_cast<int64_t>(id),
                  true);
}

StatusOr<std::vector<Manifest>> SqliteCheckpointStore::list() {
  TM_ASSIGN_OR_RETURN(Statement st,
                      db_->prepare("SELECT id, manifest FROM checkpoints ORDER BY id DESC"));
  std::vector<Manifest> out;
  while (true) {
    TM_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    TM_ASSIGN_OR_RETURN(Manifest m, parseManifest(st.columnBlob(1), st.columnInt(0)));
    out.push_back(std::move(m));
  }
  return out;
}

StatusOr<std::string> SqliteCheckpointStore::readBlob(const std::string& hash) {
  TM_ASSIGN_OR_RETURN(Statement st, db_->prepare("SELECT data FROM blobs WHERE sha256 = ?"));
  TM_ASSIGN_OR_RETURN(bool row, st.bindBlob(1, hash).step());
  if (!row) return notFound("no blob " + toHex(hash));
  std::string data = st.columnBlob(0);
  if (sha256(data) != hash) return dataLoss("blob " + toHex(hash) + " does not match its hash");
  return data;
}

StatusOr<bool> SqliteCheckpointStore::hasBlob(const std::string& hash) {
  TM_ASSIGN_OR_RETURN(Statement st, db_->prepare("SELECT 1 FROM blobs WHERE sha256 = ?"));
  return st.bindBlob(1, hash).step();
}

StatusOr<uint64_t> SqliteCheckpointStore::nextId(int64_t now_ms) {
  TM_ASSIGN_OR_RETURN(Statement st, db_->prepare("SELECT max(id) FROM checkpoints"));
  TM_ASSIGN_OR_RETURN(bool row, st.step());
  const uint64_t last = row && !st.columnIsNull(0) ? static_cast<uint64_t>(st.columnInt(0)) : 0;
  return std::max(last + 1, static_cast<uint64_t>(std::max<int64_t>(now_ms, 0)) * 1000);
}

}  // namespace tidemark::store
