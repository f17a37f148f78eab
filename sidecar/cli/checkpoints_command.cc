#include "sidecar/cli/checkpoints_command.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "sidecar/base/status.h"
#include "sidecar/cli/args.h"
#include "sidecar/cli/commands.h"
#include "sidecar/config/loader.h"
#include "sidecar/config/scalars.h"
#include "store/checkpoint_store.h"
#include "store/sqlite.h"
#include "store/sqlite_checkpoint_store.h"

namespace tidemark::cli {
namespace {

using json = nlohmann::json;
using store::Manifest;
using store::v1::PartitionOffset;
using store::v1::StateRef;

// ---------------------------------------------------------------- usage

constexpr const char* kHelp =
    R"(Usage: tidemark checkpoints <list|show|diff|export|import> [flags]

Inspects the checkpoints of a store, offline or through a running sidecar, and
moves one checkpoint between stores as a self-contained file.

  list                 the retained checkpoints, newest first
  show ID              one checkpoint's offsets and state keys
  diff ID1 ID2         what changed from ID1 to ID2
  export ID FILE       write a checkpoint and all its state to FILE
  import FILE          add an exported checkpoint to a stopped sidecar's store

Where the checkpoints come from (one of):
  --store PATH         the store file (the sidecar's store.path)
  --config FILE        a sidecar config file: its store.path
  --admin URL          a running sidecar's HTTP API, e.g. http://127.0.0.1:8770
                       (list, show and diff), with --token-file FILE for its token

ID is a checkpoint id as listed, or 'latest'. Exit codes: 0 ok, 1 runtime error
(store missing or corrupt, no such checkpoint, sidecar unreachable), 2 usage.
Run 'tidemark checkpoints <command> --help' for a command's flags.
)";

struct Verb {
  const char* name;
  const char* operands;
  size_t operand_count;
  size_t id_count;  // the operands before FILE are checkpoint ids
  bool online;      // may read a running sidecar (--admin) and print --json
  const char* about;
};

constexpr Verb kVerbs[] = {
    {"list", "", 0, 0, true,
     "Lists the retained checkpoints, newest first: id, creation time (UTC), trigger,\n"
     "partitions, state keys and state bytes. --json prints what GET /v1/checkpoints\n"
     "answers.\n"},
    {"show", "ID", 1, 1, true,
     "Shows one checkpoint (an id, or latest): its offsets (group, topic, partition,\n"
     "offset, leader epoch, metadata; '-' is no metadata) and state keys (size,\n"
     "SHA-256, content type). --json prints what GET /v1/checkpoints/{id} answers.\n"},
    {"diff", "ID1 ID2", 2, 2, true,
     "Shows what changed from checkpoint ID1 to ID2: the partitions whose offsets\n"
     "moved, with how far (the messages consumed in between, transaction markers\n"
     "included), and the state keys added, removed or changed (SHA-256 or content\n"
     "type).\n"},
    {"export", "ID FILE", 2, 1, false,
     "Writes checkpoint ID (or latest) and every state blob it references to FILE,\n"
     "one self-contained file (format: docs/operations.md), replaced only once\n"
     "complete. Reads the store without changing it: safe while the sidecar runs.\n"
     "Large state shows its progress on stderr.\n"},
    {"import", "FILE", 1, 0, false,
     "Verifies FILE (every blob against its SHA-256) and adds its checkpoint to the\n"
     "store as the newest one, with a new id and trigger 'import': the sidecar\n"
     "restores it when it next starts. Creates the store if it does not exist.\n"
     "Meant for a stopped sidecar: refused while another process has the store open.\n"},
};

std::string verbHelp(const Verb& v) {
  std::string out = std::string("Usage: tidemark checkpoints ") + v.name +
                    (*v.operands ? " " : "") + v.operands +
                    (v.online ? " (--store PATH | --config FILE | --admin URL) [--json]\n"
                              : " (--store PATH | --config FILE)\n");
  out += std::string("\n") + v.about + "\n";
  out +=
      "  --store PATH       the store file (the sidecar's store.path)\n"
      "  --config FILE      a sidecar config file: its store.path\n";
  if (v.online) {
    out +=
        "  --admin URL        a running sidecar's HTTP API instead, e.g. http://127.0.0.1:8770\n"
        "  --token-file FILE  the bearer token for --admin (the sidecar's http.token_file)\n"
        "  --json             print JSON instead of a table\n";
  }
  return out;
}

const Verb* findVerb(const std::string& name) {
  for (const Verb& v : kVerbs) {
    if (name == v.name) return &v;
  }
  return nullptr;
}

// Errors are one line: a multi-line cause (none is expected) is folded.
std::string oneLine(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

int usageError(const std::string& message, const Verb* verb) {
  std::fprintf(stderr, "tidemark: %s (see 'tidemark checkpoints%s%s --help')\n",
               oneLine(message).c_str(), verb ? " " : "", verb ? verb->name : "");
  return kExitUsage;
}

int runtimeError(const Status& s) {
  std::fprintf(stderr, "tidemark: %s\n", oneLine(s.message()).c_str());
  return kExitRuntime;
}

// nullopt is "latest".
StatusOr<std::optional<uint64_t>> parseId(const std::string& text) {
  if (text == "latest") return std::optional<uint64_t>();
  auto id = config::parseUint(text);
  if (!id.isOk() || text.empty() || text.find_first_not_of("0123456789") != std::string::npos) {
    return invalidArgument("'" + text + "' is not a checkpoint id (a decimal number, or latest)");
  }
  return std::optional<uint64_t>(*id);
}

// ---------------------------------------------------------------- formatting

std::string utcTime(int64_t ms) {
  const std::time_t secs = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", date, static_cast<int>(((ms % 1000) + 1000) % 1000));
  return out;
}

std::string humanBytes(uint64_t n) {
  if (n < 1024) return std::to_string(n) + " B";
  static const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int unit = -1;
  while (v >= 1024 && unit < 3) v /= 1024, ++unit;
  char out[32];
  std::snprintf(out, sizeof out, "%.1f %s", v, kUnits[unit]);
  return out;
}

std::string partitionText(const store::v1::PartitionKey& p) {
  return p.group() + "/" + p.topic() + "/" + std::to_string(p.partition());
}

// Columns padded to their widest cell; the columns in `right` right-aligned.
class Table {
 public:
  Table(std::vector<std::string> header, std::vector<size_t> right)
      : rows_{std::move(header)}, right_(std::move(right)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void print(size_t indent = 2) const {
    std::vector<size_t> width(rows_[0].size(), 0);
    for (const auto& row : rows_) {
      for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
    }
    for (const auto& row : rows_) {
      std::string line(indent, ' ');
      for (size_t i = 0; i < row.size(); ++i) {
        const std::string pad(width[i] - row[i].size(), ' ');
        const bool right = std::find(right_.begin(), right_.end(), i) != right_.end();
        line += right ? pad + row[i] : row[i] + (i + 1 < row.size() ? pad : "");
        if (i + 1 < row.size()) line += "  ";
      }
      std::printf("%s\n", line.c_str());
    }
  }

 private:
  std::vector<std::vector<std::string>> rows_;
  std::vector<size_t> right_;
};

// ---------------------------------------------------------------- the API's documents

// One row of GET /v1/checkpoints.
struct Summary {
  uint64_t id = 0;
  int64_t created_at_ms = 0;
  std::string trigger;
  int64_t partitions = 0;
  int64_t state_keys = 0;
  uint64_t state_bytes = 0;
};

Summary summaryOf(const Manifest& m) {
  Summary s{m.id(), m.created_at_ms(), m.trigger(), m.offsets_size(), m.state_size(), 0};
  for (const auto& ref : m.state()) s.state_bytes += ref.size();
  return s;
}

// The same documents as sidecar/checkpoint/http_api.cc, so that offline and
// online --json agree with each other and with the API.
json summaryJson(const Summary& s) {
  return {{"id", std::to_string(s.id)}, {"created_at_ms", s.created_at_ms},
          {"trigger", s.trigger},       {"partitions", s.partitions},
          {"state_keys", s.state_keys}, {"state_bytes", s.state_bytes}};
}

json partitionJson(const store::v1::PartitionKey& p) {
  return {{"group", p.group()}, {"topic", p.topic()}, {"partition", p.partition()}};
}

json offsetJson(const PartitionOffset& o) {
  json e = partitionJson(o.key());
  e["offset"] = o.offset();
  e["leader_epoch"] = o.leader_epoch();
  e["metadata"] = o.has_metadata() ? json(o.metadata()) : json(nullptr);
  return e;
}

json stateJson(const StateRef& s) {
  json e = {{"key", s.key()},
            {"size", s.size()},
            {"sha256", toHex(s.sha256())},
            {"content_type", s.content_type()}};
  if (s.has_partition()) e["partition"] = partitionJson(s.partition());
  return e;
}

json detailJson(const Manifest& m) {
  json j = summaryJson(summaryOf(m));
  j["job_id"] = m.job_id();
  j["offsets"] = json::array();
  for (const auto& o : m.offsets()) j["offsets"].push_back(offsetJson(o));
  j["state"] = json::array();
  for (const auto& s : m.state()) j["state"].push_back(stateJson(s));
  return j;
}

// Reading the sidecar's answers without exceptions: every field's type is
// checked before it is read.
Status malformed(const std::string& what) {
  return dataLoss("the sidecar's answer is not what this tidemark expects: " + what);
}

StatusOr<std::string> jsonString(const json& j, const char* name) {
  auto it = j.is_object() ? j.find(name) : j.end();
  if (it == j.end() || !it->is_string()) return malformed(std::string(name) + " is not a string");
  return it->get<std::string>();
}

StatusOr<int64_t> jsonInt(const json& j, const char* name) {
  auto it = j.is_object() ? j.find(name) : j.end();
  if (it == j.end() || !it->is_number_integer()) {
    return malformed(std::string(name) + " is not an integer");
  }
  return it->get<int64_t>();
}

StatusOr<uint64_t> jsonId(const json& j) {
  TM_ASSIGN_OR_RETURN(std::string text, jsonString(j, "id"));
  auto id = parseId(text);
  if (!id.isOk() || !*id) return malformed("id " + text);
  return **id;
}

StatusOr<Summary> summaryFromJson(const json& j) {
  Summary s;
  TM_ASSIGN_OR_RETURN(s.id, jsonId(j));
  TM_ASSIGN_OR_RETURN(s.created_at_ms, jsonInt(j, "created_at_ms"));
  TM_ASSIGN_OR_RETURN(s.trigger, jsonString(j, "trigger"));
  TM_ASSIGN_OR_RETURN(s.partitions, jsonInt(j, "partitions"));
  TM_ASSIGN_OR_RETURN(s.state_keys, jsonInt(j, "state_keys"));
  TM_ASSIGN_OR_RETURN(int64_t bytes, jsonInt(j, "state_bytes"));
  s.state_bytes = static_cast<uint64_t>(bytes);
  return s;
}

Status partitionFromJson(const json& j, store::v1::PartitionKey* p) {
  TM_ASSIGN_OR_RETURN(*p->mutable_group(), jsonString(j, "group"));
  TM_ASSIGN_OR_RETURN(*p->mutable_topic(), jsonString(j, "topic"));
  TM_ASSIGN_OR_RETURN(int64_t partition, jsonInt(j, "partition"));
  p->set_partition(static_cast<int32_t>(partition));
  return Status::ok();
}

StatusOr<std::string> fromHex(const std::string& hex) {
  if (hex.size() != 64 || hex.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return malformed("sha256 " + hex);
  }
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

StatusOr<Manifest> manifestFromJson(const json& j) {
  Manifest m;
  m.set_format_version(1);
  TM_ASSIGN_OR_RETURN(uint64_t id, jsonId(j));
  m.set_id(id);
  TM_ASSIGN_OR_RETURN(int64_t created, jsonInt(j, "created_at_ms"));
  m.set_created_at_ms(created);
  TM_ASSIGN_OR_RETURN(*m.mutable_trigger(), jsonString(j, "trigger"));
  TM_ASSIGN_OR_RETURN(*m.mutable_job_id(), jsonString(j, "job_id"));
  if (!j.contains("offsets") || !j["offsets"].is_array()) return malformed("offsets");
  for (const json& e : j["offsets"]) {
    PartitionOffset* o = m.add_offsets();
    TM_RETURN_IF_ERROR(partitionFromJson(e, o->mutable_key()));
    TM_ASSIGN_OR_RETURN(int64_t offset, jsonInt(e, "offset"));
    TM_ASSIGN_OR_RETURN(int64_t epoch, jsonInt(e, "leader_epoch"));
    o->set_offset(offset);
    o->set_leader_epoch(static_cast<int32_t>(epoch));
    if (e.contains("metadata") && e["metadata"].is_string()) {
      o->set_metadata(e["metadata"].get<std::string>());
    }
  }
  if (!j.contains("state") || !j["state"].is_array()) return malformed("state");
  for (const json& e : j["state"]) {
    StateRef* s = m.add_state();
    TM_ASSIGN_OR_RETURN(*s->mutable_key(), jsonString(e, "key"));
    TM_ASSIGN_OR_RETURN(int64_t size, jsonInt(e, "size"));
    s->set_size(static_cast<uint64_t>(size));
    TM_ASSIGN_OR_RETURN(std::string hex, jsonString(e, "sha256"));
    TM_ASSIGN_OR_RETURN(*s->mutable_sha256(), fromHex(hex));
    TM_ASSIGN_OR_RETURN(*s->mutable_content_type(), jsonString(e, "content_type"));
    if (e.contains("partition")) {
      TM_RETURN_IF_ERROR(partitionFromJson(e["partition"], s->mutable_partition()));
    }
  }
  return m;
}

// ---------------------------------------------------------------- sources

class Source {
 public:
  virtual ~Source() = default;
  // Retained checkpoints, newest first.
  virtual StatusOr<std::vector<Summary>> list() = 0;
  // NotFound when `id` is not retained.
  virtual StatusOr<Manifest> get(uint64_t id) = 0;
};

StatusOr<Manifest> resolve(Source& source, std::optional<uint64_t> id) {
  if (id) return source.get(*id);
  TM_ASSIGN_OR_RETURN(std::vector<Summary> all, source.list());
  if (all.empty()) return notFound("there are no checkpoints, so none is latest");
  return source.get(all.front().id);
}

// A store opened only to read: no migration and no integrity check (which
// reads the whole file), query_only. Everything is read in one read
// transaction: a running sidecar (SQLite's WAL lets it write meanwhile)
// prunes old checkpoints and their blobs, and an export must never see a
// manifest without its blobs.
class StoreReader {
 public:
  static StatusOr<std::unique_ptr<StoreReader>> open(const std::string& path);
  ~StoreReader() { (void)db_->exec("COMMIT"); }

  StatusOr<std::vector<Manifest>> list();
  StatusOr<std::optional<Manifest>> get(uint64_t id);
  StatusOr<std::string> readBlob(const std::string& sha256);
  const std::string& path() const { return db_->path(); }

 private:
  explicit StoreReader(std::unique_ptr<store::Database> db) : db_(std::move(db)) {}
  std::unique_ptr<store::Database> db_;
  // Stored blob -> its rowid, read once: format 3 has no index on sha256
  // (docs/store-format.md), and rowid is the key in formats 1 to 3 alike.
  std::optional<std::map<std::string, int64_t>> blob_rows_;
};

StatusOr<std::unique_ptr<StoreReader>> StoreReader::open(const std::string& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) return notFound("store " + path + " does not exist");
  // An empty file would be turned into an empty database by opening it.
  if (!std::filesystem::is_regular_file(status) || std::filesystem::file_size(path, ec) == 0) {
    return failedPrecondition(path + " is not a tidemark store");
  }
  auto db = store::Database::open(path, /*create=*/false);
  if (!db.isOk() && db.status().code() == StatusCode::kDataLoss) {
    return dataLoss("store " + path + " is corrupt or not an SQLite database");
  }
  if (!db.isOk()) return db.status().withPrefix("store");
  std::unique_ptr<StoreReader> reader(new StoreReader(std::move(db).value()));
  store::Database& d = *reader->db_;
  TM_RETURN_IF_ERROR(d.exec("PRAGMA query_only=ON"));
  TM_RETURN_IF_ERROR(d.exec("BEGIN"));
  TM_ASSIGN_OR_RETURN(store::Statement tables,
                      d.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name "
                                "IN ('meta', 'checkpoints', 'blobs')"));
  TM_ASSIGN_OR_RETURN(bool row, tables.step());
  if (!row || tables.columnInt(0) != 3)
    return failedPrecondition(path + " is not a tidemark store");
  TM_ASSIGN_OR_RETURN(store::Statement version,
                      d.prepare("SELECT value FROM meta WHERE key = 'format_version'"));
  TM_ASSIGN_OR_RETURN(bool found, version.step());
  const std::string v = found ? version.columnText(0) : "";
  // Formats 1 to 3 keep checkpoints and blobs alike (docs/store-format.md).
  if (v != "1" && v != "2" && v != "3") {
    return failedPrecondition(path + ": store format version '" + v +
                              "' is not one this tidemark reads (it reads 1, 2 and 3)");
  }
  return reader;
}

StatusOr<Manifest> parseManifest(const std::string& bytes, int64_t id) {
  Manifest m;
  if (!m.ParseFromString(bytes)) {
    return dataLoss("checkpoint " + std::to_string(id) + ": manifest does not parse");
  }
  return m;
}

StatusOr<std::vector<Manifest>> StoreReader::list() {
  TM_ASSIGN_OR_RETURN(store::Statement st,
                      db_->prepare("SELECT id, manifest FROM checkpoints ORDER BY id DESC"));
  std::vector<Manifest> out;
  while (true) {
    TM_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) return out;
    TM_ASSIGN_OR_RETURN(Manifest m, parseManifest(st.columnBlob(1), st.columnInt(0)));
    out.push_back(std::move(m));
  }
}

StatusOr<std::optional<Manifest>> StoreReader::get(uint64_t id) {
  TM_ASSIGN_OR_RETURN(store::Statement st,
                      db_->prepare("SELECT manifest FROM checkpoints WHERE id = ?"));
  TM_ASSIGN_OR_RETURN(bool row, st.bind(1, static_cast<int64_t>(id)).step());
  if (!row) return std::optional<Manifest>();
  TM_ASSIGN_OR_RETURN(Manifest m, parseManifest(st.columnBlob(0), static_cast<int64_t>(id)));
  return std::optional<Manifest>(std::move(m));
}

StatusOr<std::string> StoreReader::readBlob(const std::string& hash) {
  if (!blob_rows_) {
    TM_ASSIGN_OR_RETURN(store::Statement all, db_->prepare("SELECT rowid, sha256 FROM blobs"));
    blob_rows_.emplace();
    while (true) {
      TM_ASSIGN_OR_RETURN(bool row, all.step());
      if (!row) break;
      (*blob_rows_)[all.columnBlob(1)] = all.columnInt(0);
    }
  }
  const std::string missing =
      path() + ": no blob " + toHex(hash) + ", which a checkpoint references";
  auto found = blob_rows_->find(hash);
  if (found == blob_rows_->end()) return dataLoss(missing);
  TM_ASSIGN_OR_RETURN(store::Statement st, db_->prepare("SELECT data FROM blobs WHERE rowid = ?"));
  TM_ASSIGN_OR_RETURN(bool row, st.bind(1, found->second).step());
  if (!row) return dataLoss(missing);
  std::string data = st.columnBlob(0);
  if (sha256(data) != hash) return dataLoss(path() + ": blob " + toHex(hash) + " is corrupt");
  return data;
}

class StoreSource : public Source {
 public:
  explicit StoreSource(std::unique_ptr<StoreReader> reader) : reader_(std::move(reader)) {}
  StatusOr<std::vector<Summary>> list() override {
    TM_ASSIGN_OR_RETURN(std::vector<Manifest> all, reader_->list());
    std::vector<Summary> out;
    for (const Manifest& m : all) out.push_back(summaryOf(m));
    return out;
  }
  StatusOr<Manifest> get(uint64_t id) override {
    TM_ASSIGN_OR_RETURN(std::optional<Manifest> m, reader_->get(id));
    if (!m) return notFound("no checkpoint " + std::to_string(id) + " in " + reader_->path());
    return std::move(*m);
  }
  StoreReader& reader() { return *reader_; }

 private:
  std::unique_ptr<StoreReader> reader_;
};

// ---------------------------------------------------------------- --admin

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

constexpr int kConnectTimeoutMs = 5000;
constexpr int kAnswerTimeoutS = 30;

StatusOr<Fd> connectTo(const addrinfo& a) {
  Fd fd(::socket(a.ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) return unavailable(std::strerror(errno));
  if (::connect(fd.get(), a.ai_addr, a.ai_addrlen) != 0) {
    if (errno != EINPROGRESS) return unavailable(std::strerror(errno));
    pollfd p{fd.get(), POLLOUT, 0};
    if (::poll(&p, 1, kConnectTimeoutMs) <= 0) return unavailable("connection timed out");
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return unavailable(std::strerror(err));
  }
  // Blocking from here on, each read or write bounded by a timeout.
  ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) & ~O_NONBLOCK);
  timeval tv{kAnswerTimeoutS, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return fd;
}

struct HttpAnswer {
  int status = 0;
  std::string body;
};

// Splits a complete HTTP/1.1 answer head; the body length from Content-Length
// (the sidecar's server always sends one).
StatusOr<std::pair<int, size_t>> parseHead(std::string_view head) {
  if (head.substr(0, 5) != "HTTP/" || head.size() < 12) return malformed("not an HTTP answer");
  const int status = std::atoi(std::string(head.substr(9, 3)).c_str());
  size_t length = 0;
  size_t pos = head.find("\r\n");
  while (pos != std::string_view::npos && pos + 2 < head.size()) {
    const size_t end = head.find("\r\n", pos + 2);
    std::string line(head.substr(pos + 2, end - pos - 2));
    std::transform(line.begin(), line.end(), line.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (line.rfind("content-length:", 0) == 0)
      length = std::strtoull(line.c_str() + 15, nullptr, 10);
    if (line.rfind("transfer-encoding:", 0) == 0) return malformed("a chunked answer");
    pos = end;
  }
  return std::make_pair(status, length);
}

// One blocking GET: these commands run once and exit, so they need no event
// loop (sidecar/http/http_client.h is the loop's client, for the sidecar).
StatusOr<HttpAnswer> httpGet(const config::HttpUrl& base, const std::string& path,
                             const std::string& token) {
  const std::string where = "http://" + base.address.toString();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(base.address.port);
  if (int rc = ::getaddrinfo(base.address.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return unavailable("cannot reach the sidecar at " + where + ": " + ::gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, ::freeaddrinfo);
  std::optional<Fd> fd;
  std::string error = "no address";
  for (const addrinfo* a = found; a != nullptr && !fd; a = a->ai_next) {
    auto c = connectTo(*a);
    if (c.isOk()) fd.emplace(std::move(c).value());
    if (!c.isOk()) error = c.status().message();
  }
  if (!fd) return unavailable("cannot reach the sidecar at " + where + ": " + error);
  std::string request = "GET " + path + " HTTP/1.1\r\nHost: " + base.address.toString() +
                        "\r\nAccept: application/json\r\nConnection: close\r\n";
  if (!token.empty()) request += "Authorization: Bearer " + token + "\r\n";
  request += "\r\n";
  for (size_t sent = 0; sent < request.size();) {
    ssize_t n = ::send(fd->get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return unavailable(where + ": cannot send: " + std::strerror(errno));
    sent += static_cast<size_t>(n);
  }
  std::string in;
  std::optional<std::pair<int, size_t>> head;
  size_t head_end = 0;
  char buf[65536];
  while (!head || in.size() < head_end + head->second) {
    ssize_t n = ::recv(fd->get(), buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return deadlineExceeded(where + ": no answer within " + std::to_string(kAnswerTimeoutS) +
                              " s");
    }
    if (n < 0) return unavailable(where + ": " + std::strerror(errno));
    if (n == 0) return unavailable(where + ": the connection closed before the whole answer");
    in.append(buf, static_cast<size_t>(n));
    if (!head && (head_end = in.find("\r\n\r\n")) != std::string::npos) {
      TM_ASSIGN_OR_RETURN(auto parsed, parseHead(std::string_view(in).substr(0, head_end + 2)));
      head = parsed;
      head_end += 4;
    }
  }
  return HttpAnswer{head->first, in.substr(head_end, head->second)};
}

class AdminSource : public Source {
 public:
  AdminSource(config::HttpUrl url, std::string token)
      : url_(std::move(url)), token_(std::move(token)) {
    while (!url_.path.empty() && url_.path.back() == '/') url_.path.pop_back();
  }

  StatusOr<std::vector<Summary>> list() override {
    TM_ASSIGN_OR_RETURN(json j, getJson("/v1/checkpoints"));
    if (!j.contains("checkpoints") || !j["checkpoints"].is_array()) return malformed("checkpoints");
    std::vector<Summary> out;
    for (const json& e : j["checkpoints"]) {
      TM_ASSIGN_OR_RETURN(Summary s, summaryFromJson(e));
      out.push_back(std::move(s));
    }
    return out;
  }

  StatusOr<Manifest> get(uint64_t id) override {
    TM_ASSIGN_OR_RETURN(json j, getJson("/v1/checkpoints/" + std::to_string(id)));
    return manifestFromJson(j);
  }

 private:
  StatusOr<json> getJson(const std::string& path) {
    TM_ASSIGN_OR_RETURN(HttpAnswer a, httpGet(url_, url_.path + path, token_));
    json j = json::parse(a.body, nullptr, /*allow_exceptions=*/false);
    if (a.status == 200 && !j.is_discarded()) return j;
    // "sidecar at URL: <its message> (HTTP 404 not_found)"
    std::string message = "GET " + path + " answered";
    std::string code = "HTTP " + std::to_string(a.status);
    if (j.is_object() && j.contains("error") && j["error"].is_object()) {
      auto name = jsonString(j["error"], "code");
      auto text = jsonString(j["error"], "message");
      if (name.isOk() && text.isOk()) message = *text, code += " " + *name;
    }
    if (a.status == 401) code += "; see --token-file";
    message = "sidecar at http://" + url_.address.toString() + url_.path + ": " + message + " (" +
              code + ")";
    if (a.status == 404) return notFound(message);
    return a.status == 401 ? failedPrecondition(message) : unavailable(message);
  }

  config::HttpUrl url_;
  std::string token_;
};

// As the sidecar reads http.token_file: trailing newlines and spaces dropped.
StatusOr<std::string> readTokenFile(const std::string& path) {
  std::unique_ptr<FILE, decltype(&std::fclose)> f(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!f) return ioError("cannot read --token-file " + path + ": " + std::strerror(errno));
  std::string token;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, f.get())) > 0;) token.append(buf, n);
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
    token.pop_back();
  }
  if (token.empty()) return failedPrecondition("--token-file " + path + " is empty");
  return token;
}

// ---------------------------------------------------------------- list, show, diff

int runList(Source& source, bool as_json) {
  auto all = source.list();
  if (!all.isOk()) return runtimeError(all.status());
  if (as_json) {
    json list = json::array();
    for (const Summary& s : *all) list.push_back(summaryJson(s));
    std::printf("%s\n", json({{"checkpoints", list}}).dump(2).c_str());
    return kExitOk;
  }
  if (all->empty()) return std::printf("no checkpoints\n"), kExitOk;
  Table t({"ID", "CREATED (UTC)", "TRIGGER", "PARTITIONS", "STATE KEYS", "STATE BYTES"}, {3, 4, 5});
  for (const Summary& s : *all) {
    t.add({std::to_string(s.id), utcTime(s.created_at_ms), s.trigger, std::to_string(s.partitions),
           std::to_string(s.state_keys), humanBytes(s.state_bytes)});
  }
  t.print(0);
  return kExitOk;
}

bool anyScoped(const Manifest& m) {
  return std::any_of(m.state().begin(), m.state().end(),
                     [](const StateRef& s) { return s.has_partition(); });
}

std::string metadataText(const PartitionOffset& o) {
  return o.has_metadata() ? json(o.metadata()).dump() : "-";
}

void printShow(const Manifest& m) {
  const Summary s = summaryOf(m);
  std::printf("Checkpoint %llu\n  created  %s\n  trigger  %s\n  job      %s\n\n",
              static_cast<unsigned long long>(m.id()), utcTime(m.created_at_ms()).c_str(),
              m.trigger().c_str(), m.job_id().c_str());
  std::printf("Offsets: %d partition%s\n", m.offsets_size(), m.offsets_size() == 1 ? "" : "s");
  if (m.offsets_size() > 0) {
    Table t({"GROUP", "TOPIC", "PARTITION", "OFFSET", "LEADER EPOCH", "METADATA"}, {2, 3, 4});
    for (const auto& o : m.offsets()) {
      t.add({o.key().group(), o.key().topic(), std::to_string(o.key().partition()),
             std::to_string(o.offset()), std::to_string(o.leader_epoch()), metadataText(o)});
    }
    t.print();
  }
  std::printf("\nState: %d key%s, %s\n", m.state_size(), m.state_size() == 1 ? "" : "s",
              humanBytes(s.state_bytes).c_str());
  if (m.state_size() == 0) return;
  const bool scoped = anyScoped(m);
  Table t(scoped ? std::vector<std::string>{"PARTITION", "KEY", "SIZE", "SHA256", "CONTENT TYPE"}
                 : std::vector<std::string>{"KEY", "SIZE", "SHA256", "CONTENT TYPE"},
          {scoped ? size_t{2} : size_t{1}});
  for (const auto& ref : m.state()) {
    std::vector<std::string> row = {ref.key(), std::to_string(ref.size()), toHex(ref.sha256()),
                                    ref.content_type()};
    if (scoped) row.insert(row.begin(), ref.has_partition() ? partitionText(ref.partition()) : "-");
    t.add(std::move(row));
  }
  t.print();
}

int runShow(Source& source, std::optional<uint64_t> id, bool as_json) {
  auto m = resolve(source, id);
  if (!m.isOk()) return runtimeError(m.status());
  if (as_json) {
    std::printf("%s\n", detailJson(*m).dump(2).c_str());
  } else {
    printShow(*m);
  }
  return kExitOk;
}

// What differs between two checkpoints, keyed as the checkpoints key them:
// offsets by partition, state by (partition scope, key).
struct Diff {
  using PartitionId = std::tuple<std::string, std::string, int32_t>;
  using StateId = std::tuple<bool, std::string, std::string, int32_t, std::string>;
  std::map<PartitionId, std::pair<const PartitionOffset*, const PartitionOffset*>> offsets;
  std::map<StateId, std::pair<const StateRef*, const StateRef*>> state;
  int unchanged_offsets = 0;
  int unchanged_state = 0;
};

bool sameOffset(const PartitionOffset& a, const PartitionOffset& b) {
  return a.offset() == b.offset() && a.leader_epoch() == b.leader_epoch() &&
         a.has_metadata() == b.has_metadata() && a.metadata() == b.metadata();
}

bool sameState(const StateRef& a, const StateRef& b) {
  return a.sha256() == b.sha256() && a.content_type() == b.content_type();
}

// Leaves only what changed, added or removed; returns how many were equal.
template <typename Map, typename Same>
int dropUnchanged(Map& entries, Same same) {
  int unchanged = 0;
  std::erase_if(entries, [&](const auto& e) {
    const auto& [a, b] = e.second;
    const bool equal = a && b && same(*a, *b);
    unchanged += equal;
    return equal;
  });
  return unchanged;
}

Diff diffOf(const Manifest& from, const Manifest& to) {
  Diff d;
  auto pid = [](const PartitionOffset& o) {
    return Diff::PartitionId{o.key().group(), o.key().topic(), o.key().partition()};
  };
  auto sid = [](const StateRef& s) {
    return Diff::StateId{s.has_partition(), s.partition().group(), s.partition().topic(),
                         s.partition().partition(), s.key()};
  };
  for (const auto& o : from.offsets()) d.offsets[pid(o)].first = &o;
  for (const auto& o : to.offsets()) d.offsets[pid(o)].second = &o;
  for (const auto& s : from.state()) d.state[sid(s)].first = &s;
  for (const auto& s : to.state()) d.state[sid(s)].second = &s;
  d.unchanged_offsets = dropUnchanged(d.offsets, sameOffset);
  d.unchanged_state = dropUnchanged(d.state, sameState);
  return d;
}

json diffJson(const Manifest& from, const Manifest& to, const Diff& d) {
  json offsets = {{"changed", json::array()},
                  {"added", json::array()},
                  {"removed", json::array()},
                  {"unchanged", d.unchanged_offsets}};
  for (const auto& [id, change] : d.offsets) {
    const auto& [a, b] = change;
    if (!a) offsets["added"].push_back(offsetJson(*b));
    if (!b) offsets["removed"].push_back(offsetJson(*a));
    if (!a || !b) continue;
    json e = partitionJson(a->key());
    for (auto [name, o] : {std::pair{"from", a}, std::pair{"to", b}}) {
      e[name] = {{"offset", o->offset()}, {"leader_epoch", o->leader_epoch()}};
      e[name]["metadata"] = o->has_metadata() ? json(o->metadata()) : json(nullptr);
    }
    e["delta"] = b->offset() - a->offset();
    offsets["changed"].push_back(e);
  }
  json state = {{"changed", json::array()},
                {"added", json::array()},
                {"removed", json::array()},
                {"unchanged", d.unchanged_state}};
  for (const auto& [id, change] : d.state) {
    const auto& [a, b] = change;
    if (!a) state["added"].push_back(stateJson(*b));
    if (!b) state["removed"].push_back(stateJson(*a));
    if (!a || !b) continue;
    json e = {{"key", a->key()}};
    if (a->has_partition()) e["partition"] = partitionJson(a->partition());
    for (auto [name, s] : {std::pair{"from", a}, std::pair{"to", b}}) {
      e[name] = {
          {"size", s->size()}, {"sha256", toHex(s->sha256())}, {"content_type", s->content_type()}};
    }
    state["changed"].push_back(e);
  }
  return {{"from", summaryJson(summaryOf(from))},
          {"to", summaryJson(summaryOf(to))},
          {"offsets", offsets},
          {"state", state}};
}

std::string signedText(int64_t n) { return (n >= 0 ? "+" : "") + std::to_string(n); }

void printOffsetDiff(const Diff& d) {
  int changed = 0, added = 0, removed = 0;
  Table t({"GROUP", "TOPIC", "PARTITION", "FROM", "TO", "DELTA"}, {2, 3, 4});
  for (const auto& [id, change] : d.offsets) {
    const auto& [a, b] = change;
    const auto& key = (a ? a : b)->key();
    std::string delta;
    if (!a) {
      ++added;
      delta = "new";
    } else if (!b) {
      ++removed;
      delta = "gone";
    } else {
      ++changed;
      delta = signedText(b->offset() - a->offset());
      if (a->leader_epoch() != b->leader_epoch()) {
        delta += ", epoch " + std::to_string(a->leader_epoch()) + " -> " +
                 std::to_string(b->leader_epoch());
      }
      if (a->has_metadata() != b->has_metadata() || a->metadata() != b->metadata()) {
        delta += ", metadata " + metadataText(*a) + " -> " + metadataText(*b);
      }
    }
    t.add({key.group(), key.topic(), std::to_string(key.partition()),
           a ? std::to_string(a->offset()) : "-", b ? std::to_string(b->offset()) : "-", delta});
  }
  std::printf("Offsets: %d changed, %d added, %d removed, %d unchanged\n", changed, added, removed,
              d.unchanged_offsets);
  if (!d.offsets.empty()) t.print();
}

void printStateDiff(const Diff& d, bool scoped) {
  int changed = 0, added = 0, removed = 0;
  auto hash = [](const StateRef* s) { return toHex(s->sha256()).substr(0, 12); };
  Table t(scoped ? std::vector<std::string>{"CHANGE", "PARTITION", "KEY", "SIZE", "SHA256"}
                 : std::vector<std::string>{"CHANGE", "KEY", "SIZE", "SHA256"},
          {});
  for (const auto& [id, change] : d.state) {
    const auto& [a, b] = change;
    const StateRef& ref = a ? *a : *b;
    std::vector<std::string> row;
    if (!a) {
      ++added;
      row = {"added", ref.key(), humanBytes(b->size()), hash(b)};
    } else if (!b) {
      ++removed;
      row = {"removed", ref.key(), humanBytes(a->size()), hash(a)};
    } else {
      ++changed;
      row = {"changed", ref.key(), humanBytes(a->size()) + " -> " + humanBytes(b->size()),
             hash(a) + " -> " + hash(b)};
      if (a->content_type() != b->content_type()) {
        row[3] += " (content type " + a->content_type() + " -> " + b->content_type() + ")";
      }
    }
    if (scoped)
      row.insert(row.begin() + 1, ref.has_partition() ? partitionText(ref.partition()) : "-");
    t.add(std::move(row));
  }
  std::printf("State: %d added, %d removed, %d changed, %d unchanged\n", added, removed, changed,
              d.unchanged_state);
  if (!d.state.empty()) t.print();
}

int runDiff(Source& source, std::optional<uint64_t> id1, std::optional<uint64_t> id2,
            bool as_json) {
  auto from = resolve(source, id1);
  if (!from.isOk()) return runtimeError(from.status());
  auto to = resolve(source, id2);
  if (!to.isOk()) return runtimeError(to.status());
  const Diff d = diffOf(*from, *to);
  if (as_json) return std::printf("%s\n", diffJson(*from, *to, d).dump(2).c_str()), kExitOk;
  const double seconds = static_cast<double>(to->created_at_ms() - from->created_at_ms()) / 1000;
  std::printf("Checkpoint %llu -> %llu (%s -> %s, %+.3f s)\n\n",
              static_cast<unsigned long long>(from->id()),
              static_cast<unsigned long long>(to->id()), utcTime(from->created_at_ms()).c_str(),
              utcTime(to->created_at_ms()).c_str(), seconds);
  printOffsetDiff(d);
  std::printf("\n");
  printStateDiff(d, anyScoped(*from) || anyScoped(*to));
  return kExitOk;
}

// ---------------------------------------------------------------- export, import

// The checkpoint file (specified in docs/operations.md, "Checkpoint files"):
// magic, version, then records of kind (1 byte), length (8 bytes, big-endian)
// and payload: the manifest, each referenced blob once, and an end record
// that makes a truncated file detectable.
constexpr std::string_view kMagic = "\x89TMCKPT\n";
constexpr uint32_t kFileVersion = 1;
constexpr uint8_t kManifestRecord = 1, kBlobRecord = 2, kEndRecord = 3;
constexpr size_t kHashBytes = 32;
constexpr size_t kRecordHead = 9;

void putBigEndian(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t getBigEndian(std::string_view in) {
  uint64_t v = 0;
  for (unsigned char c : in) v = (v << 8) | c;
  return v;
}

std::string recordHead(uint8_t kind, uint64_t length) {
  std::string out(1, static_cast<char>(kind));
  putBigEndian(out, length, 8);
  return out;
}

// Reports bytes done of a large total on stderr at each quarter: a long
// export or import shows it is moving, in at most four lines.
class Progress {
 public:
  static constexpr uint64_t kMinBytes = 16ull << 20;
  Progress(const char* what, const char* verb, uint64_t total)
      : what_(what), verb_(verb), total_(total) {}
  void add(uint64_t n) {
    done_ += n;
    if (total_ < kMinBytes) return;
    for (; reported_ < 4 && done_ * 4 >= total_ * (reported_ + 1); ++reported_) {
      std::fprintf(stderr, "tidemark: %s: %s of %s %s (%d%%)\n", what_, humanBytes(done_).c_str(),
                   humanBytes(total_).c_str(), verb_, (reported_ + 1) * 25);
    }
  }

 private:
  const char* what_;
  const char* verb_;
  uint64_t total_;
  uint64_t done_ = 0;
  int reported_ = 0;
};

// The distinct blobs a manifest references, in its order: hash -> size.
StatusOr<std::vector<std::pair<std::string, uint64_t>>> blobsOf(const Manifest& m) {
  std::vector<std::pair<std::string, uint64_t>> out;
  std::map<std::string, uint64_t> seen;
  for (const auto& ref : m.state()) {
    auto [it, fresh] = seen.emplace(ref.sha256(), ref.size());
    if (!fresh && it->second != ref.size()) return dataLoss("blob sizes disagree for " + ref.key());
    if (fresh) out.emplace_back(ref.sha256(), ref.size());
  }
  return out;
}

// A file written under a temporary name and renamed into place once synced,
// so FILE is either the previous file or the complete new one.
class OutFile {
 public:
  static StatusOr<OutFile> create(const std::string& path) {
    std::string temp = path + ".partial";
    // Owner-only: the file holds the application's state.
    Fd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (fd.get() < 0) return ioError("cannot write " + temp + ": " + std::strerror(errno));
    return OutFile(path, std::move(temp), std::move(fd));
  }
  OutFile(OutFile&& other) noexcept
      : path_(std::move(other.path_)),
        temp_(std::move(other.temp_)),
        fd_(std::move(other.fd_)),
        written_(other.written_),
        done_(std::exchange(other.done_, true)) {}
  ~OutFile() {
    if (!done_) ::unlink(temp_.c_str());
  }
  Status write(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::write(fd_.get(), data.data(), data.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return ioError("cannot write " + temp_ + ": " + std::strerror(errno));
      data.remove_prefix(static_cast<size_t>(n));
      written_ += static_cast<uint64_t>(n);
    }
    return Status::ok();
  }
  Status commit() {
    if (::fsync(fd_.get()) != 0)
      return ioError("cannot sync " + temp_ + ": " + std::strerror(errno));
    fd_ = Fd();
    if (::rename(temp_.c_str(), path_.c_str()) != 0) {
      return ioError("cannot rename " + temp_ + " to " + path_ + ": " + std::strerror(errno));
    }
    done_ = true;
    return Status::ok();
  }
  uint64_t written() const { return written_; }

 private:
  OutFile(std::string path, std::string temp, Fd fd)
      : path_(std::move(path)), temp_(std::move(temp)), fd_(std::move(fd)) {}
  std::string path_, temp_;
  Fd fd_;
  uint64_t written_ = 0;
  bool done_ = false;
};

StatusOr<uint64_t> writeExport(StoreReader& reader, const Manifest& m, const std::string& path) {
  if (m.format_version() != 1) return failedPrecondition("unknown manifest format version");
  TM_ASSIGN_OR_RETURN(auto blobs, blobsOf(m));
  uint64_t total = 0;
  for (const auto& [hash, size] : blobs) total += size;
  TM_ASSIGN_OR_RETURN(OutFile out, OutFile::create(path));
  std::string manifest;
  if (!m.SerializeToString(&manifest)) return internalError("manifest does not serialize");
  std::string head(kMagic);
  putBigEndian(head, kFileVersion, 4);
  TM_RETURN_IF_ERROR(out.write(head + recordHead(kManifestRecord, manifest.size()) + manifest));
  Progress progress("export", "written", total);
  constexpr size_t kChunk = 1 << 20;
  for (const auto& [hash, size] : blobs) {
    TM_ASSIGN_OR_RETURN(std::string data, reader.readBlob(hash));
    if (data.size() != size) return dataLoss("blob " + toHex(hash) + " has an unexpected size");
    TM_RETURN_IF_ERROR(out.write(recordHead(kBlobRecord, kHashBytes + data.size()) + hash));
    for (size_t at = 0; at < data.size(); at += kChunk) {
      const std::string_view chunk = std::string_view(data).substr(at, kChunk);
      TM_RETURN_IF_ERROR(out.write(chunk));
      progress.add(chunk.size());
    }
  }
  std::string end = recordHead(kEndRecord, 16 + kHashBytes);
  putBigEndian(end, blobs.size(), 8);
  putBigEndian(end, total, 8);
  TM_RETURN_IF_ERROR(out.write(end + sha256(manifest)));
  TM_RETURN_IF_ERROR(out.commit());
  return out.written();
}

int runExport(StoreSource& source, std::optional<uint64_t> id, const std::string& file) {
  auto m = resolve(source, id);
  if (!m.isOk()) return runtimeError(m.status());
  auto written = writeExport(source.reader(), *m, file);
  if (!written.isOk()) return runtimeError(written.status().withPrefix("export to " + file));
  const Summary s = summaryOf(*m);
  std::printf(
      "exported checkpoint %llu (%lld partitions, %lld state keys, %s of state) to %s (%s)\n",
      static_cast<unsigned long long>(s.id), static_cast<long long>(s.partitions),
      static_cast<long long>(s.state_keys), humanBytes(s.state_bytes).c_str(), file.c_str(),
      humanBytes(*written).c_str());
  return kExitOk;
}

// Reads exactly what the file holds, refusing lengths beyond its end before
// allocating for them (a corrupt length must not ask for terabytes).
class InFile {
 public:
  static StatusOr<InFile> open(const std::string& path) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st {};
    if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0) {
      return ioError("cannot read " + path + ": " + std::strerror(errno));
    }
    return InFile(path, std::move(fd), static_cast<uint64_t>(st.st_size));
  }
  StatusOr<std::string> read(uint64_t n) {
    if (n > left_) return dataLoss(path_ + " is truncated or corrupt");
    std::string out(n, '\0');
    for (size_t at = 0; at < n;) {
      ssize_t got = ::read(fd_.get(), out.data() + at, n - at);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return ioError("cannot read " + path_ + ": " + std::strerror(errno));
      at += static_cast<size_t>(got);
    }
    left_ -= n;
    return out;
  }
  uint64_t left() const { return left_; }

 private:
  InFile(std::string path, Fd fd, uint64_t size)
      : path_(std::move(path)), fd_(std::move(fd)), left_(size) {}
  std::string path_;
  Fd fd_;
  uint64_t left_;
};

struct Exported {
  Manifest manifest;
  std::map<std::string, std::string> blobs;  // SHA-256 -> bytes, each verified
  uint64_t blob_bytes = 0;
};

// Verifies everything before anything is imported: the magic and version,
// every blob against its hash and the manifest's size, that the manifest's
// every blob is there, and the end record (nothing truncated or appended).
StatusOr<Exported> readExport(const std::string& path) {
  TM_ASSIGN_OR_RETURN(InFile in, InFile::open(path));
  auto magic = in.read(kMagic.size() + 4);
  if (!magic.isOk() || magic->substr(0, kMagic.size()) != kMagic) {
    return dataLoss(path + " is not a tidemark checkpoint file");
  }
  if (uint64_t v = getBigEndian(magic->substr(kMagic.size())); v != kFileVersion) {
    return failedPrecondition(path + ": checkpoint file version " + std::to_string(v) +
                              " is not one this tidemark reads (it reads 1)");
  }
  auto corrupt = [&](const std::string& what) { return dataLoss(path + ": " + what); };
  Exported out;
  std::vector<std::pair<std::string, uint64_t>> expected;
  std::map<std::string, uint64_t> sizes;
  uint64_t total = 0;
  std::optional<Progress> progress;
  std::string manifest_hash;
  while (true) {
    TM_ASSIGN_OR_RETURN(std::string head, in.read(kRecordHead));
    const uint8_t kind = static_cast<uint8_t>(head[0]);
    TM_ASSIGN_OR_RETURN(std::string payload, in.read(getBigEndian(head.substr(1))));
    if ((kind == kManifestRecord) != manifest_hash.empty()) return corrupt("records out of order");
    if (kind == kManifestRecord) {
      if (!out.manifest.ParseFromString(payload)) return corrupt("the manifest does not parse");
      if (out.manifest.format_version() != 1) return corrupt("unknown manifest format version");
      TM_ASSIGN_OR_RETURN(expected, blobsOf(out.manifest));
      for (const auto& [hash, size] : expected) sizes[hash] = size, total += size;
      manifest_hash = sha256(payload);
      progress.emplace("import", "verified", total);
    } else if (kind == kBlobRecord) {
      if (payload.size() < kHashBytes) return corrupt("a blob record is too short");
      const std::string hash = payload.substr(0, kHashBytes);
      std::string data = payload.substr(kHashBytes);
      auto it = sizes.find(hash);
      if (it == sizes.end() || out.blobs.count(hash))
        return corrupt("unexpected blob " + toHex(hash));
      if (data.size() != it->second || sha256(data) != hash) {
        return corrupt("blob " + toHex(hash) + " does not match its SHA-256");
      }
      progress->add(data.size());
      out.blob_bytes += data.size();
      out.blobs.emplace(hash, std::move(data));
    } else if (kind == kEndRecord) {
      if (payload.size() != 16 + kHashBytes || in.left() != 0 ||
          getBigEndian(payload.substr(0, 8)) != out.blobs.size() ||
          getBigEndian(payload.substr(8, 8)) != out.blob_bytes ||
          payload.substr(16) != manifest_hash) {
        return corrupt("the end record does not match the file");
      }
      break;
    } else {
      return corrupt("unknown record kind " + std::to_string(kind));
    }
  }
  for (const auto& [hash, size] : expected) {
    if (!out.blobs.count(hash)) return corrupt("blob " + toHex(hash) + " is missing");
  }
  return out;
}

// In WAL mode every open connection holds a shared lock on the database
// file, so an exclusive one is refused at once while a sidecar (or anyone)
// has the store open. Released before the import opens the store itself,
// which leaves a small window: the documented rule is a stopped sidecar.
Status checkNotInUse(const std::string& path) {
  auto db = store::Database::open(path, /*create=*/false);
  if (!db.isOk()) return db.status().withPrefix("store");
  TM_RETURN_IF_ERROR((*db)->exec("PRAGMA busy_timeout=0"));
  TM_RETURN_IF_ERROR((*db)->exec("PRAGMA locking_mode=EXCLUSIVE"));
  Status s = (*db)->exec("BEGIN EXCLUSIVE");
  if (s.code() == StatusCode::kUnavailable) {
    return failedPrecondition("store " + path +
                              " is open in another process (a running sidecar?): stop it, then "
                              "import");
  }
  TM_RETURN_IF_ERROR(s);
  return (*db)->exec("ROLLBACK");
}

int runImport(const std::string& store_path, const std::string& file) {
  auto exported = readExport(file);
  if (!exported.isOk()) return runtimeError(exported.status());
  std::error_code ec;
  if (std::filesystem::exists(store_path, ec)) {
    if (Status s = checkNotInUse(store_path); !s.isOk()) return runtimeError(s);
  }
  // Import never prunes (it does not compact): the sidecar's next
  // checkpoint applies checkpoint.retained.
  auto store = store::SqliteCheckpointStore::open(store_path, /*retained=*/1);
  if (!store.isOk()) return runtimeError(store.status().withPrefix("store " + store_path));
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  auto id = (*store)->nextId(now_ms);
  if (!id.isOk()) return runtimeError(id.status());
  Manifest m = exported->manifest;
  m.set_id(*id);
  m.set_created_at_ms(now_ms);
  m.set_trigger("import");
  const auto& blobs = exported->blobs;
  Status s = (*store)->commit(m, [&](const std::string& hash) -> std::optional<std::string_view> {
    auto it = blobs.find(hash);
    return it == blobs.end() ? std::nullopt : std::optional<std::string_view>(it->second);
  });
  if (!s.isOk()) return runtimeError(s.withPrefix("store " + store_path));
  std::printf(
      "imported checkpoint %llu of job %s as checkpoint %llu into %s (%d partitions, %d state "
      "keys, %s of state); the sidecar restores it when it next starts\n",
      static_cast<unsigned long long>(exported->manifest.id()), m.job_id().c_str(),
      static_cast<unsigned long long>(m.id()), store_path.c_str(), m.offsets_size(), m.state_size(),
      humanBytes(exported->blob_bytes).c_str());
  return kExitOk;
}

// ---------------------------------------------------------------- dispatch

// The flags and operands `v` takes; an error is a usage error.
Status checkUsage(const Args& args, const Verb& v, const std::vector<std::string>& operands) {
  const std::string name = std::string("checkpoints ") + v.name;
  if (operands.size() < v.operand_count) return invalidArgument(name + " needs " + v.operands);
  if (operands.size() > v.operand_count) {
    return invalidArgument("unexpected argument " + operands[v.operand_count]);
  }
  if (args.has("store") + args.has("config") + args.has("admin") != 1) {
    return invalidArgument(v.online ? "give one of --store, --config or --admin"
                                    : "give one of --store or --config");
  }
  if (!v.online && (args.has("admin") || args.has("json") || args.has("token-file"))) {
    return invalidArgument(name + " works on a store file: it takes --store or --config only");
  }
  if (args.has("token-file") && !args.has("admin")) {
    return invalidArgument("--token-file goes with --admin");
  }
  return Status::ok();
}

// --store, or store.path from --config; nullopt once a config error is printed.
std::optional<std::string> storePath(const Args& args) {
  if (!args.has("config")) return args.get("store");
  auto config = config::loadFile(args.get("config"));
  if (!config.isOk()) {
    std::fprintf(stderr, "tidemark: config error: %s\n",
                 oneLine(config.status().message()).c_str());
    return std::nullopt;
  }
  return config->store().path();
}

int runVerb(const Args& args, const Verb& verb, const std::vector<std::string>& operands,
            const std::vector<std::optional<uint64_t>>& ids) {
  std::unique_ptr<Source> source;
  if (args.has("admin")) {
    auto url = config::parseHttpUrl(args.get("admin"));
    if (!url.isOk()) return usageError("--admin: " + url.status().message(), &verb);
    std::string token;
    if (args.has("token-file")) {
      auto t = readTokenFile(args.get("token-file"));
      if (!t.isOk()) return runtimeError(t.status());
      token = *t;
    }
    source = std::make_unique<AdminSource>(*url, token);
  } else {
    std::optional<std::string> path = storePath(args);
    if (!path) return kExitUsage;
    if (verb.name == std::string_view("import")) return runImport(*path, operands[0]);
    auto reader = StoreReader::open(*path);
    if (!reader.isOk()) return runtimeError(reader.status());
    source = std::make_unique<StoreSource>(std::move(reader).value());
  }
  const std::string_view name = verb.name;
  const bool as_json = args.has("json");
  if (name == "list") return runList(*source, as_json);
  if (name == "show") return runShow(*source, ids[0], as_json);
  if (name == "diff") return runDiff(*source, ids[0], ids[1], as_json);
  // export: checkUsage admitted a store only.
  return runExport(static_cast<StoreSource&>(*source), ids[0], operands[1]);
}

}  // namespace

int runCheckpoints(const std::vector<std::string>& argv) {
  auto args = parseArgs(argv, {{"store"}, {"config"}, {"admin"}, {"token-file"}, {"json", false}});
  const Verb* verb = nullptr;
  if (args.isOk() && !args->positional.empty()) verb = findVerb(args->positional[0]);
  if (!args.isOk()) return usageError(args.status().message(), verb);
  if (args->has("help")) return std::printf("%s", verb ? verbHelp(*verb).c_str() : kHelp), kExitOk;
  if (args->positional.empty()) {
    return usageError("checkpoints needs a command: list, show, diff, export or import", nullptr);
  }
  if (!verb) {
    return usageError("unknown checkpoints command '" + args->positional[0] + "'", nullptr);
  }
  const std::vector<std::string> operands(args->positional.begin() + 1, args->positional.end());
  if (Status s = checkUsage(*args, *verb, operands); !s.isOk()) {
    return usageError(s.message(), verb);
  }
  std::vector<std::optional<uint64_t>> ids;
  for (size_t i = 0; i < verb->id_count; ++i) {
    auto id = parseId(operands[i]);
    if (!id.isOk()) return usageError(id.status().message(), verb);
    ids.push_back(*id);
  }
  return runVerb(*args, *verb, operands, ids);
}

}  // namespace tidemark::cli
