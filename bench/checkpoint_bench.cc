// tidemark-checkpoint-bench: the local checkpoint store against a bare SQLite
// transaction writing the same bytes, for bench/checkpoint_bench.py. Each mode
// prints JSON on stdout; diagnostics go to stderr. Exit code 0 ok, 1 failure,
// 2 usage.
//
//   commit  [--dir D] [--iterations N] [--warmup W] [--partitions P] [--blobs K]
//           [--blob-size B] [--retained R]
//   changed [--dir D] [--iterations N] [--state-bytes S] [--blob-size B]
//           [--fractions 0,1,10,50,100] [--retained R]
//   bare    [--dir D] [--partitions P] [--blobs K] [--blob-size B] [--manifest-bytes M]
//
// commit: N iterations, each one bare transaction and one
//   SqliteCheckpointStore::commit, the order flipping every iteration so that
//   drift (other load, WAL checkpoints, the disk's cache) favours neither side.
//   Both write P partition offsets and K blobs of B bytes, all new content, to
//   their own database in the same directory with the store's pragmas.
// changed: a store holding S bytes of state in blobs of B bytes; per iteration
//   one checkpoint per fraction (order rotating), each changing that percentage
//   of the blobs. Shows that a checkpoint costs what changed (content-addressed
//   blobs), plus what it costs per key.
// bare: one bare transaction per line read on stdin, one JSON line per
//   transaction on stdout; the Python driver interleaves these with checkpoints
//   through a running sidecar, so the end-to-end figure has a baseline too.
//
// --dir defaults to a fresh directory beside this executable (the build
// directory, on the real disk rather than a tmpfs), removed afterwards.

#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "bench/latency_summary.h"
#include "store/sqlite.h"
#include "store/sqlite_checkpoint_store.h"

namespace {

namespace fs = std::filesystem;
using tidemark::Status;
using tidemark::StatusOr;
using tidemark::store::Database;
using tidemark::store::Manifest;
using tidemark::store::SqliteCheckpointStore;
using tidemark::store::Statement;
using tidemark::store::Transaction;
using Clock = std::chrono::steady_clock;

[[noreturn]] void usage(const std::string& message) {
  std::fprintf(stderr,
               "tidemark-checkpoint-bench: %s\n"
               "usage: tidemark-checkpoint-bench commit [--dir D] [--iterations N] [--warmup W]\n"
               "         [--partitions P] [--blobs K] [--blob-size B] [--retained R]\n"
               "       tidemark-checkpoint-bench changed [--dir D] [--iterations N]\n"
               "         [--state-bytes S] [--blob-size B] [--fractions 0,1,10,50,100]\n"
               "         [--retained R]\n"
               "       tidemark-checkpoint-bench bare [--dir D] [--partitions P] [--blobs K]\n"
               "         [--blob-size B] [--manifest-bytes M]\n",
               message.c_str());
  std::exit(2);
}

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "tidemark-checkpoint-bench: %s\n", message.c_str());
  std::exit(1);
}

void check(const Status& s, const std::string& what) {
  if (!s.isOk()) fail(what + ": " + s.toString());
}

template <typename T>
T check(StatusOr<T> s, const std::string& what) {
  if (!s.isOk()) fail(what + ": " + s.status().toString());
  return std::move(s).value();
}

// ------------------------------------------------------------------ options

struct Options {
  std::string mode;
  std::map<std::string, std::string> flags;

  std::string str(const std::string& name, const std::string& fallback) const {
    auto it = flags.find(name);
    return it == flags.end() ? fallback : it->second;
  }
  int64_t num(const std::string& name, int64_t fallback) const {
    auto it = flags.find(name);
    if (it == flags.end()) return fallback;
    char* end = nullptr;
    long long v = std::strtoll(it->second.c_str(), &end, 10);
    if (it->second.empty() || *end != '\0' || v < 0) usage("--" + name + ": expected a count");
    return v;
  }
};

Options parse(int argc, char** argv) {
  static const std::set<std::string> kKnown = {
      "dir",       "iterations",  "warmup",    "partitions",     "blobs",
      "blob-size", "state-bytes", "fractions", "manifest-bytes", "retained"};
  if (argc < 2) usage("missing mode");
  Options o;
  o.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) usage("unexpected argument " + arg);
    std::string name = arg.substr(2), value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else {
      if (i + 1 >= argc) usage("--" + name + " needs a value");
      value = argv[++i];
    }
    if (!kKnown.count(name)) usage("unknown flag --" + name);
    o.flags[name] = value;
  }
  return o;
}

std::vector<int> parseFractions(const std::string& list) {
  std::vector<int> out;
  std::stringstream in(list);
  std::string item;
  while (std::getline(in, item, ',')) {
    char* end = nullptr;
    long v = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || v < 0 || v > 100) usage("--fractions: percentages 0-100");
    out.push_back(static_cast<int>(v));
  }
  if (out.empty()) usage("--fractions: at least one percentage");
  return out;
}

// ------------------------------------------------------------------ measuring

double microsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}

// Bytes this process handed to write(2) and friends so far (/proc/self/io
// wchar). The benchmark does no other I/O while measuring, so the difference
// around a commit is what SQLite wrote: WAL frames plus, when the WAL is
// checkpointed into the database, those pages again.
uint64_t bytesWritten() {
  std::ifstream io("/proc/self/io");
  std::string name;
  uint64_t value = 0;
  while (io >> name >> value) {
    if (name == "wchar:") return value;
  }
  return 0;
}

using Summary = tidemark::bench::LatencySummary;
using tidemark::bench::summarize;

std::string json(const Summary& s) {
  char buf[160];
  std::snprintf(buf, sizeof buf,
                "{\"p50_us\": %.1f, \"p99_us\": %.1f, \"mean_us\": %.1f, "
                "\"max_us\": %.1f}",
                s.p50, s.p99, s.mean, s.max);
  return buf;
}

std::string jsonEscape(const fs::path& path) {
  std::string out;
  for (char c : path.string()) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

// The filesystem the databases live on, by statfs(2) magic: the numbers only
// mean something on a real disk (a tmpfs makes fsync free).
std::string filesystemOf(const fs::path& dir) {
  struct statfs st {};
  if (statfs(dir.c_str(), &st) != 0) return "unknown";
  switch (static_cast<uint64_t>(st.f_type)) {
    case 0xEF53:
      return "ext4";
    case 0x58465342:
      return "xfs";
    case 0x9123683E:
      return "btrfs";
    case 0x01021994:
      return "tmpfs";
    case 0x794C7630:
      return "overlayfs";
    case 0x2FC12FC1:
      return "zfs";
    case 0x6969:
      return "nfs";
    default: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "0x%" PRIx64, static_cast<uint64_t>(st.f_type));
      return buf;
    }
  }
}

// The directory the databases go in: --dir, or a fresh one beside the
// executable (the build directory) that is removed on exit.
class BenchDir {
 public:
  explicit BenchDir(const Options& o) {
    std::string dir = o.str("dir", "");
    if (!dir.empty()) {
      path_ = dir;
      fs::create_directories(path_);
      return;
    }
    std::string pattern =
        (fs::read_symlink("/proc/self/exe").parent_path() / "checkpoint-bench-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) fail("mkdtemp " + pattern + " failed");
    path_ = pattern;
    owned_ = true;
  }
  ~BenchDir() {
    std::error_code ignored;
    if (owned_) fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }

  // A database path that does not exist yet (with its -wal and -shm).
  fs::path freshFile(const std::string& name) const {
    fs::path p = path_ / name;
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(p.string() + suffix);
    return p;
  }

 private:
  fs::path path_;
  bool owned_ = false;
};

// ------------------------------------------------------------------ content

// Blob contents that never repeat: pseudo-random bytes (SQLite does not
// compress, but a page of zeros is still a poor stand-in for state) stamped
// with (blob index, generation), so every rewrite is new content the store
// cannot deduplicate.
class Blobs {
 public:
  Blobs(size_t count, size_t size) : data_(count, std::string(size, '\0')), hashes_(count) {
    if (size < 16) usage("--blob-size must be at least 16");
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (auto& blob : data_) {
      for (char& c : blob) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;  // xorshift64
        c = static_cast<char>(x);
      }
    }
    for (size_t i = 0; i < count; ++i) rewrite(i);
  }

  // New content for blob i; hashed here, because the sidecar hashes at PUT time,
  // not during the checkpoint.
  void rewrite(size_t i) {
    const uint64_t stamp[2] = {i, ++generation_};
    std::memcpy(data_[i].data(), stamp, sizeof stamp);
    hashes_[i] = tidemark::store::sha256(data_[i]);
  }

  size_t count() const { return data_.size(); }
  const std::string& data(size_t i) const { return data_[i]; }
  const std::string& hash(size_t i) const { return hashes_[i]; }

  // The store's BlobSource: blob bytes by hash.
  tidemark::store::BlobSource source() const {
    auto by_hash = std::make_shared<std::map<std::string, size_t>>();
    for (size_t i = 0; i < hashes_.size(); ++i) (*by_hash)[hashes_[i]] = i;
    return [this, by_hash](const std::string& h) -> std::optional<std::string_view> {
      auto it = by_hash->find(h);
      if (it == by_hash->end()) return std::nullopt;
      return std::string_view(data_[it->second]);
    };
  }

 private:
  std::vector<std::string> data_;
  std::vector<std::string> hashes_;
  uint64_t generation_ = 0;
};

// A manifest as the coordinator builds it: one offset per partition of one
// group and topic, one state reference per blob.
Manifest buildManifest(const Blobs& blobs, int partitions, int64_t offset) {
  Manifest m;
  m.set_format_version(1);
  m.set_created_at_ms(0);
  m.set_trigger("request");
  m.set_job_id("bench");
  for (int p = 0; p < partitions; ++p) {
    auto* o = m.add_offsets();
    o->mutable_key()->set_group("bench-group");
    o->mutable_key()->set_topic("bench-topic");
    o->mutable_key()->set_partition(p);
    o->set_offset(offset);
    o->set_leader_epoch(-1);
  }
  for (size_t i = 0; i < blobs.count(); ++i) {
    auto* ref = m.add_state();
    char key[32];
    std::snprintf(key, sizeof key, "state/%06zu", i);
    ref->set_key(key);
    ref->set_sha256(blobs.hash(i));
    ref->set_size(blobs.data(i).size());
    ref->set_content_type("application/octet-stream");
  }
  return m;
}

void refreshHashes(Manifest& m, const Blobs& blobs, int64_t offset) {
  for (auto& o : *m.mutable_offsets()) o.set_offset(offset);
  for (size_t i = 0; i < blobs.count(); ++i)
    m.mutable_state(static_cast<int>(i))->set_sha256(blobs.hash(i));
}

// ------------------------------------------------------------------ the two sides

// The baseline: what writing these bytes durably costs at the least. Same
// open path and pragmas as the store (Database::open: WAL, synchronous=FULL),
// same BEGIN IMMEDIATE ... COMMIT, but statements prepared once and rows
// overwritten in place: one per partition offset, one per blob, one
// manifest-sized row.
class BareWriter {
 public:
  explicit BareWriter(const fs::path& path)
      : db_(check(Database::open(path.string(), /*create=*/true), "open " + path.string())) {
    check(db_->exec("CREATE TABLE IF NOT EXISTS offsets(partition INTEGER PRIMARY KEY, "
                    "next_offset INTEGER NOT NULL);"
                    "CREATE TABLE IF NOT EXISTS state(id INTEGER PRIMARY KEY, data BLOB NOT NULL);"
                    "CREATE TABLE IF NOT EXISTS manifest(id INTEGER PRIMARY KEY, "
                    "data BLOB NOT NULL);"),
          "bare schema");
    offset_.emplace(prepare("INSERT OR REPLACE INTO offsets(partition, next_offset) VALUES(?, ?)"));
    state_.emplace(prepare("INSERT OR REPLACE INTO state(id, data) VALUES(?, ?)"));
    manifest_.emplace(prepare("INSERT OR REPLACE INTO manifest(id, data) VALUES(1, ?)"));
  }

  void write(int partitions, int64_t offset, const Blobs& blobs, std::string_view manifest) {
    Transaction tx = check(Transaction::begin(*db_), "bare BEGIN");
    for (int p = 0; p < partitions; ++p) {
      offset_->reset();
      check(offset_->bind(1, p).bind(2, offset).run(), "bare offset");
    }
    for (size_t i = 0; i < blobs.count(); ++i) {
      state_->reset();
      check(state_->bind(1, static_cast<int64_t>(i)).bindBlob(2, blobs.data(i)).run(),
            "bare state");
    }
    manifest_->reset();
    check(manifest_->bindBlob(1, manifest).run(), "bare manifest");
    check(tx.commit(), "bare COMMIT");
  }

 private:
  Statement prepare(const std::string& sql) { return check(db_->prepare(sql), sql); }

  // Declared before the statements, so it is closed after them.
  std::unique_ptr<Database> db_;
  std::optional<Statement> offset_, state_, manifest_;
};

class StoreWriter {
 public:
  StoreWriter(const fs::path& path, uint32_t retained)
      : store_(check(SqliteCheckpointStore::open(path.string(), retained), "open store")) {}

  // Commits `m` under a fresh id, then compacts, as the coordinator does (its
  // answer goes out between the two); returns the microseconds commit() took
  // and sets `compact_us` to compact()'s. The id is drawn outside the clock: the
  // coordinator does it before commit too, and it is a read.
  double commit(Manifest& m, const tidemark::store::BlobSource& source,
                double* compact_us = nullptr) {
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    m.set_id(check(store_->nextId(now_ms), "nextId"));
    m.set_created_at_ms(now_ms);
    const auto t0 = Clock::now();
    check(store_->commit(m, source), "store commit");
    const double us = microsSince(t0);
    const auto t1 = Clock::now();
    check(store_->compact(), "store compact");
    if (compact_us != nullptr) *compact_us = microsSince(t1);
    return us;
  }

 private:
  std::unique_ptr<SqliteCheckpointStore> store_;
};

// ------------------------------------------------------------------ modes

// Latencies and bytes written of one kind of measured operation.
struct Timed {
  std::vector<double> us;
  uint64_t bytes = 0;

  void add(double micros, uint64_t written_before) {
    us.push_back(micros);
    bytes += bytesWritten() - written_before;
  }
  double bytesPerOp() const {
    return us.empty() ? 0 : static_cast<double>(bytes) / static_cast<double>(us.size());
  }
};

int runCommit(const Options& o) {
  const BenchDir dir(o);
  const int iterations = static_cast<int>(o.num("iterations", 1000));
  const int warmup = static_cast<int>(o.num("warmup", 20));
  const int partitions = static_cast<int>(o.num("partitions", 64));
  const auto retained = static_cast<uint32_t>(o.num("retained", 10));
  Blobs blobs(static_cast<size_t>(o.num("blobs", 64)),
              static_cast<size_t>(o.num("blob-size", 1024)));

  BareWriter bare(dir.freshFile("bare.db"));
  StoreWriter store(dir.freshFile("store.db"), retained);
  Manifest manifest = buildManifest(blobs, partitions, 0);
  std::string manifest_bytes;
  Timed bare_t, store_t;
  std::vector<double> compact_us;

  // Warm-up (untimed) fills the store to `retained` checkpoints, so every
  // measured commit is followed by a compaction, as in steady state.
  for (int it = -warmup; it < iterations; ++it) {
    for (size_t i = 0; i < blobs.count(); ++i) blobs.rewrite(i);
    refreshHashes(manifest, blobs, it + warmup + 1);
    const auto source = blobs.source();
    manifest_bytes = manifest.SerializeAsString();  // the bare side writes as many bytes
    auto runBare = [&] {
      const uint64_t b0 = bytesWritten();
      const auto t0 = Clock::now();
      bare.write(partitions, it + warmup + 1, blobs, manifest_bytes);
      const double us = microsSince(t0);
      if (it >= 0) bare_t.add(us, b0);
    };
    auto runStore = [&] {
      const uint64_t b0 = bytesWritten();
      double compacted = 0;
      const double us = store.commit(manifest, source, &compacted);
      if (it >= 0) {
        store_t.add(us, b0);  // bytes: the commit's and the compaction's
        compact_us.push_back(compacted);
      }
    };
    if (it % 2 == 0) {
      runBare();
      runStore();
    } else {
      runStore();
      runBare();
    }
  }

  const Summary b = summarize(bare_t.us), s = summarize(store_t.us);
  std::printf(
      "{\"mode\": \"commit\", \"dir\": \"%s\", \"filesystem\": \"%s\", \"iterations\": %d, "
      "\"warmup\": %d, \"partitions\": %d, \"blobs\": %zu, \"blob_size\": %zu, "
      "\"manifest_bytes\": %zu, \"retained\": %u,\n"
      " \"bare\": %s, \"bare_bytes_written\": %.0f,\n"
      " \"store\": %s, \"store_bytes_written\": %.0f,\n"
      " \"compact\": %s,\n"
      " \"ratio_p50\": %.3f, \"ratio_p99\": %.3f, \"ratio_mean\": %.3f}\n",
      jsonEscape(dir.path()).c_str(), filesystemOf(dir.path()).c_str(), iterations, warmup,
      partitions, blobs.count(), blobs.data(0).size(), manifest_bytes.size(), retained,
      json(b).c_str(), bare_t.bytesPerOp(), json(s).c_str(), store_t.bytesPerOp(),
      json(summarize(compact_us)).c_str(), s.p50 / b.p50, s.p99 / b.p99, s.mean / b.mean);
  return 0;
}

// One changed-fraction series: its own store and state. A checkpoint also
// prunes the oldest retained one, deleting the blobs that the checkpoint after
// it replaced; with one store per fraction that is the same fraction, so each
// series is in its own steady state (a shared store would charge a 0% checkpoint
// for deleting what a 100% one wrote ten checkpoints earlier).
class ChangedSeries {
 public:
  ChangedSeries(int percent, size_t count, size_t blob_size, const fs::path& db, uint32_t retained)
      : percent_(percent),
        changed_(static_cast<size_t>(std::llround(static_cast<double>(count) * percent / 100.0))),
        blobs_(count, blob_size),
        store_(db, retained),
        manifest_(buildManifest(blobs_, kPartitions, 0)) {}

  // Rewrites the next `changed` blobs (a rotating window, so all of them age
  // alike) and commits a checkpoint referencing every blob.
  void checkpoint(bool timed) {
    for (size_t k = 0; k < changed_; ++k) blobs_.rewrite((cursor_ + k) % blobs_.count());
    cursor_ = (cursor_ + changed_) % blobs_.count();
    refreshHashes(manifest_, blobs_, ++offset_);
    const auto source = blobs_.source();
    const uint64_t b0 = bytesWritten();
    const double us = store_.commit(manifest_, source);
    if (timed) timed_.add(us, b0);
  }

  std::string json(size_t blob_size) const {
    char buf[160];
    std::snprintf(buf, sizeof buf,
                  "{\"percent\": %d, \"changed_blobs\": %zu, \"changed_bytes\": %zu, ", percent_,
                  changed_, changed_ * blob_size);
    char tail[64];
    std::snprintf(tail, sizeof tail, ", \"bytes_written\": %.0f}", timed_.bytesPerOp());
    return buf + std::string("\"latency\": ") + ::json(summarize(timed_.us)) + tail;
  }
  size_t manifestBytes() const { return manifest_.ByteSizeLong(); }

  static constexpr int kPartitions = 64;

 private:
  int percent_;
  size_t changed_;
  Blobs blobs_;
  StoreWriter store_;
  Manifest manifest_;
  Timed timed_;
  size_t cursor_ = 0;
  int64_t offset_ = 0;
};

int runChanged(const Options& o) {
  const BenchDir dir(o);
  const int iterations = static_cast<int>(o.num("iterations", 20));
  const auto retained = static_cast<uint32_t>(o.num("retained", 10));
  const size_t blob_size = static_cast<size_t>(o.num("blob-size", 1024));
  const size_t state_bytes = static_cast<size_t>(o.num("state-bytes", 16 << 20));
  const std::vector<int> fractions = parseFractions(o.str("fractions", "0,1,10,50,100"));
  const size_t count = std::max<size_t>(state_bytes / blob_size, 1);

  std::vector<std::unique_ptr<ChangedSeries>> series;
  for (int percent : fractions) {
    series.push_back(std::make_unique<ChangedSeries>(
        percent, count, blob_size, dir.freshFile("changed-" + std::to_string(percent) + ".db"),
        retained));
  }
  // The first checkpoint of each store writes everything; `retained` more,
  // untimed, reach steady state (every later commit prunes the oldest).
  for (auto& s : series) {
    for (uint32_t w = 0; w <= retained; ++w) s->checkpoint(false);
  }
  // One checkpoint per fraction per iteration, the order rotating, so that
  // drift favours no fraction.
  for (int it = 0; it < iterations; ++it) {
    for (size_t k = 0; k < series.size(); ++k) {
      series[(k + static_cast<size_t>(it)) % series.size()]->checkpoint(true);
    }
  }

  std::printf(
      "{\"mode\": \"changed\", \"dir\": \"%s\", \"filesystem\": \"%s\", \"iterations\": %d, "
      "\"state_bytes\": %zu, \"blob_size\": %zu, \"blobs\": %zu, \"partitions\": %d, "
      "\"manifest_bytes\": %zu, \"retained\": %u, \"rows\": [",
      jsonEscape(dir.path()).c_str(), filesystemOf(dir.path()).c_str(), iterations,
      count * blob_size, blob_size, count, ChangedSeries::kPartitions,
      series.front()->manifestBytes(), retained);
  const char* sep = "";
  for (const auto& s : series) {
    std::printf("%s\n  %s", sep, s->json(blob_size).c_str());
    sep = ",";
  }
  std::printf("]}\n");
  return 0;
}

int runBare(const Options& o) {
  const BenchDir dir(o);
  const int partitions = static_cast<int>(o.num("partitions", 64));
  Blobs blobs(static_cast<size_t>(o.num("blobs", 64)),
              static_cast<size_t>(o.num("blob-size", 1024)));
  const std::string manifest(static_cast<size_t>(o.num("manifest-bytes", 8192)), 'm');
  BareWriter bare(dir.freshFile("bare-e2e.db"));
  std::printf("{\"ready\": true, \"dir\": \"%s\", \"filesystem\": \"%s\"}\n",
              jsonEscape(dir.path()).c_str(), filesystemOf(dir.path()).c_str());
  std::fflush(stdout);
  std::string line;
  for (int64_t it = 1; std::getline(std::cin, line); ++it) {
    for (size_t i = 0; i < blobs.count(); ++i) blobs.rewrite(i);
    const auto t0 = Clock::now();
    bare.write(partitions, it, blobs, manifest);
    std::printf("{\"us\": %.1f}\n", microsSince(t0));
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  if (o.mode == "commit") return runCommit(o);
  if (o.mode == "changed") return runChanged(o);
  if (o.mode == "bare") return runBare(o);
  usage("unknown mode " + o.mode);
}
