#include "sidecar/cli/checkpoint_sources.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string_view>

#include "sidecar/base/digest.h"
#include "store/checkpoint_rows.h"

namespace tidemark::cli {

using json = nlohmann::json;
using detail::Fd;
using store::Manifest;

namespace {

// ---------------------------------------------------------------- the --admin HTTP client

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

}  // namespace

namespace detail {

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace detail

StatusOr<Manifest> resolve(Source& source, std::optional<uint64_t> id) {
  if (id) return source.get(*id);
  TM_ASSIGN_OR_RETURN(std::vector<Summary> all, source.list());
  if (all.empty()) return notFound("there are no checkpoints, so none is latest");
  return source.get(all.front().id);
}

// ---------------------------------------------------------------- the store

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
  if (!db.isOk()) return db.status().withPrefix("store " + path);
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
  // Formats 1 to 3 keep a whole manifest per row; format 4 keeps most as the
  // change from the row before (docs/store-format.md).
  if (v != "1" && v != "2" && v != "3" && v != "4") {
    return failedPrecondition(path + ": store format version '" + v +
                              "' is not one this tidemark reads (it reads 1 to 4)");
  }
  reader->rows_are_changes_ = v == "4";
  return reader;
}

StatusOr<std::vector<store::CheckpointSummary>> StoreReader::summaries() {
  if (rows_are_changes_) return store::readRetainedSummaries(*db_);
  TM_ASSIGN_OR_RETURN(store::Statement st,
                      db_->prepare("SELECT id, manifest FROM checkpoints ORDER BY id DESC"));
  std::vector<store::CheckpointSummary> out;
  while (true) {
    TM_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) return out;
    TM_ASSIGN_OR_RETURN(
        Manifest m, store::parseWholeRow(st.columnBlob(1), static_cast<uint64_t>(st.columnInt(0))));
    out.push_back(store::summarize(m));
  }
}

StatusOr<std::optional<Manifest>> StoreReader::get(uint64_t id) {
  if (rows_are_changes_) return store::readRetainedCheckpoint(*db_, id);
  TM_ASSIGN_OR_RETURN(store::Statement st,
                      db_->prepare("SELECT manifest FROM checkpoints WHERE id = ?"));
  TM_ASSIGN_OR_RETURN(bool row, st.bind(1, static_cast<int64_t>(id)).step());
  if (!row) return std::optional<Manifest>();
  TM_ASSIGN_OR_RETURN(Manifest m, store::parseWholeRow(st.columnBlob(0), id));
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

StatusOr<std::vector<Summary>> StoreSource::list() { return reader_->summaries(); }

StatusOr<Manifest> StoreSource::get(uint64_t id) {
  TM_ASSIGN_OR_RETURN(std::optional<Manifest> m, reader_->get(id));
  if (!m) return notFound("no checkpoint " + std::to_string(id) + " in " + reader_->path());
  return std::move(*m);
}

// ---------------------------------------------------------------- a running sidecar

AdminSource::AdminSource(config::HttpUrl url, std::string token)
    : url_(std::move(url)), token_(std::move(token)) {
  while (!url_.path.empty() && url_.path.back() == '/') url_.path.pop_back();
}

StatusOr<std::vector<Summary>> AdminSource::list() {
  TM_ASSIGN_OR_RETURN(json j, getJson("/v1/checkpoints"));
  if (!j.contains("checkpoints") || !j["checkpoints"].is_array()) return malformed("checkpoints");
  std::vector<Summary> out;
  for (const json& e : j["checkpoints"]) {
    TM_ASSIGN_OR_RETURN(Summary s, summaryFromJson(e));
    out.push_back(std::move(s));
  }
  return out;
}

StatusOr<Manifest> AdminSource::get(uint64_t id) {
  TM_ASSIGN_OR_RETURN(json j, getJson("/v1/checkpoints/" + std::to_string(id)));
  return manifestFromJson(j);
}

StatusOr<json> AdminSource::getJson(const std::string& path) {
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

Status checkNotInUse(const std::string& path, const std::string& verb) {
  auto db = store::Database::open(path, /*create=*/false);
  if (!db.isOk()) return db.status().withPrefix("store " + path);
  Status s = (*db)->exec("PRAGMA busy_timeout=0");
  if (s.isOk()) s = (*db)->exec("PRAGMA locking_mode=EXCLUSIVE");
  if (s.isOk()) s = (*db)->exec("BEGIN EXCLUSIVE");
  if (s.code() == StatusCode::kUnavailable) {
    return failedPrecondition("store " + path +
                              " is open in another process (a running sidecar?): stop it, then " +
                              verb);
  }
  if (s.isOk()) s = (*db)->exec("ROLLBACK");
  return s.withPrefix("store " + path);
}

}  // namespace tidemark::cli
