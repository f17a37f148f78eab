#pragma once

// The C++ client of a Tidemark sidecar's local HTTP API: state, offsets and
// checkpoints (docs/api/openapi.yaml). One vocabulary with the other clients
// (tests/conformance/README.md); tests/conformance/cases.json is its contract.
//
// Contract:
// - Synchronous. Every call sends one request over one keep-alive HTTP/1.1
//   connection (plain TCP: the sidecar listens on loopback) and returns once
//   the answer is read. A Client serialises concurrent calls on a mutex; give
//   each worker thread its own Client for parallel requests.
// - Values are bytes both ways (std::string holds any bytes, NUL included).
// - Errors are exceptions, in two families that never mix:
//     tidemark::Error (and its subclasses): the sidecar answered with an error
//       status; status() and code() are the HTTP status and the API's
//       `error.code` ("precondition_failed", ...). The request was refused.
//     tidemark::TransportError: no complete answer came (connection refused or
//       dropped, timeout, malformed HTTP or JSON). The request may or may not
//       have been applied.
//   Invalid arguments throw std::invalid_argument: options the constructor
//   cannot use, header values with CR/LF/NUL, strings JSON cannot carry
//   (not UTF-8).
// - An idle connection the sidecar closed (it does after 60s) is found and
//   replaced before a request is sent. When the close races a request (no
//   byte of an answer came), the request is sent again once on a new
//   connection, but only when idempotent (GET, PUT, DELETE): a POST that may
//   have reached the sidecar is never sent twice.
// - Every call waits at most ClientOptions::timeout (checkpoint(timeout): its own).
//
// This header needs C++17 and nothing beyond the standard library.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tidemark {

inline constexpr const char* kDefaultBaseUrl = "http://127.0.0.1:8770";

// Input structs give every member an initializer, so brace-initializing a
// prefix of them ({"text/plain"}) draws no -Wmissing-field-initializers.
struct ClientOptions {
  // The sidecar's http.listen: http://host:port, with an optional path prefix.
  std::string base_url = kDefaultBaseUrl;
  // The bearer token (http.token_file's content), or a file holding it, which
  // is re-read before a request when it changed (a rotated Kubernetes Secret).
  // At most one of the two; neither sends no Authorization header.
  std::optional<std::string> token = std::nullopt;
  std::optional<std::string> token_file = std::nullopt;
  // The longest any call waits for the sidecar, connecting included.
  std::chrono::milliseconds timeout = std::chrono::seconds(30);
};

// Which state a read sees: kSealed is what the last offset commit sealed (what
// a checkpoint holds); kStaged includes writes not sealed yet.
enum class View { kSealed, kStaged };

struct PutOptions {
  // Stored with the value and given back by getState; the sidecar's default
  // is application/octet-stream.
  std::optional<std::string> content_type = std::nullopt;
  // The ETag the key must still have ("*": the key must exist), else Conflict.
  std::optional<std::string> if_match = std::nullopt;
};

struct State {
  std::string value;
  std::string content_type;
  std::string etag;
};

struct StateInfo {
  std::string key;
  std::uint64_t size = 0;
  std::string etag;
};

// A partition's processed position: `offset` is the next one to read.
struct Offset {
  std::string group = {};
  std::string topic = {};
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::int32_t leader_epoch = -1;  // -1: unknown (not sent)
  std::optional<std::string> metadata = std::nullopt;
};

struct SealResult {
  std::uint64_t seal = 0;        // how many seals produced the sealed view now
  std::uint64_t partitions = 0;  // how many partitions' offsets the request carried
};

struct CheckpointSummary {
  std::string id;  // decimal, increasing
  std::int64_t created_at_ms = 0;
  std::string trigger;  // what started it: "request", "interval", "commit", ...
  std::uint64_t partitions = 0;
  std::uint64_t state_keys = 0;
  std::uint64_t state_bytes = 0;
};

// One partition of one consumer group: the scope of partition-scoped state.
struct PartitionId {
  std::string group = {};
  std::string topic = {};
  std::int32_t partition = 0;

  friend bool operator==(const PartitionId& a, const PartitionId& b) {
    return a.group == b.group && a.topic == b.topic && a.partition == b.partition;
  }
  friend bool operator!=(const PartitionId& a, const PartitionId& b) { return !(a == b); }
};

struct CheckpointStateEntry {
  std::string key;  // relative to `partition` for partition-scoped state
  std::uint64_t size = 0;
  std::string sha256;  // hex
  std::string content_type;
  // The partition of partition-scoped state; std::nullopt for instance state.
  std::optional<PartitionId> partition = std::nullopt;
};

struct CheckpointDetail : CheckpointSummary {
  std::string job_id;
  std::vector<Offset> offsets;
  std::vector<CheckpointStateEntry> state;
};

// The sidecar answered with an error status.
class Error : public std::runtime_error {
 public:
  Error(int status, std::string code, std::string message)
      : std::runtime_error(std::to_string(status) + " " + code + ": " + message),
        status_(status),
        code_(std::move(code)),
        message_(std::move(message)) {}

  // The HTTP status.
  int status() const noexcept { return status_; }
  // The API's stable error code; "unknown" when the body was not the API's
  // error document (a proxy's page, an empty body).
  const std::string& code() const noexcept { return code_; }
  // For people; may change between sidecar versions.
  const std::string& message() const noexcept { return message_; }

 private:
  int status_;
  std::string code_;
  std::string message_;
};

// 400: invalid_key, invalid_offsets, invalid_argument, malformed_json, bad_request, ...
class BadRequest : public Error {
 public:
  using Error::Error;
};
// 401 unauthenticated: no bearer token, or not the sidecar's current one.
class Unauthenticated : public Error {
 public:
  using Error::Error;
};
// 404 not_found: no such key (for deleteState) or retained checkpoint.
class NotFound : public Error {
 public:
  using Error::Error;
};
// 405 method_not_allowed: the path exists with other methods (an older sidecar?).
class MethodNotAllowed : public Error {
 public:
  using Error::Error;
};
// 409 precondition_failed: If-Match is not the key's current ETag.
class Conflict : public Error {
 public:
  using Error::Error;
};
// 413 payload_too_large: beyond http.max_blob_bytes (values) or http.max_request_bytes.
class PayloadTooLarge : public Error {
 public:
  using Error::Error;
};
// 5xx: unavailable, checkpoint_timeout, insufficient_storage, internal.
class ServerError : public Error {
 public:
  using Error::Error;
};

// No complete HTTP answer; the request may or may not have been applied.
class TransportError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class PartitionState;

class Client {
 public:
  // Throws std::invalid_argument for a base_url that is not http://host[:port][/prefix],
  // both token and token_file, or a token_file that cannot be read or is empty.
  // Connects lazily, on the first call.
  explicit Client(ClientOptions options = {});
  ~Client();
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // -- state ------------------------------------------------------------------

  // Stages `value` under `key` (sealed by the next offset commit); returns its ETag.
  // Conflict when options.if_match fails; PayloadTooLarge beyond http.max_blob_bytes;
  // BadRequest (invalid_key) for a key outside the sidecar's key rules.
  std::string putState(std::string_view key, std::string_view value,
                       const PutOptions& options = {});
  // The state of `key` in `view`, or std::nullopt when it has none there.
  std::optional<State> getState(std::string_view key, View view = View::kSealed);
  // Stages the deletion of `key`. NotFound when it has no state; Conflict when
  // `if_match` is not its current ETag.
  void deleteState(std::string_view key, const std::optional<std::string>& if_match = std::nullopt);
  // The instance keys starting with `prefix` (a plain string prefix), in key
  // order; partition-scoped keys are listed by partition(...).listState().
  std::vector<StateInfo> listState(std::string_view prefix = {}, View view = View::kSealed);

  // The partition-scoped state of one partition of one consumer group: the same
  // putState/getState/deleteState/listState (same arguments, results and
  // errors), on keys separate from the instance keys and from every other
  // partition's. A bad group, topic or partition is BadRequest (400
  // invalid_partition) from the sidecar when a call is made. The handle refers
  // to this Client, which must outlive it (and not be moved from meanwhile).
  PartitionState partition(std::string group, std::string topic, std::int32_t partition);

  // -- offsets ------------------------------------------------------------------

  // Marks offsets as processed, sealing every staged state write with them.
  SealResult markOffsets(const std::vector<Offset>& offsets);
  // Offsets and state changes in one request, applied whole or not at all and
  // sealed together. Puts are stored as application/octet-stream.
  SealResult commit(const std::vector<Offset>& offsets,
                    const std::map<std::string, std::string>& put = {},
                    const std::vector<std::string>& del = {});

  // -- checkpoints ----------------------------------------------------------------

  // Takes a checkpoint and returns its id once it is durable. Waits up to the
  // client's timeout, or `timeout`; the sidecar gives up after its own
  // checkpoint.timeout (ServerError 504 checkpoint_timeout).
  std::string checkpoint();
  std::string checkpoint(std::chrono::milliseconds timeout);
  // The retained checkpoints, newest first.
  std::vector<CheckpointSummary> checkpoints();
  // One retained checkpoint in detail; NotFound when it is not retained.
  CheckpointDetail getCheckpoint(std::string_view id);

  // Closes the keep-alive connection now (the next call opens a new one).
  void close();

 private:
  friend class PartitionState;
  // The state calls on the routes under `base` ("/v1/state", or a partition's).
  std::string putStateAt(const std::string& base, std::string_view key, std::string_view value,
                         const PutOptions& options);
  std::optional<State> getStateAt(const std::string& base, std::string_view key, View view);
  void deleteStateAt(const std::string& base, std::string_view key,
                     const std::optional<std::string>& if_match);
  std::vector<StateInfo> listStateAt(const std::string& base, std::string_view prefix, View view);

  class Impl;
  std::unique_ptr<Impl> impl_;  // null only in a moved-from Client
};

// The state of one partition of one consumer group (Client::partition): the
// Client's state calls, scoped to the partition, over the Client's connection.
// Cheap to copy; refers to its Client, which must outlive it.
class PartitionState {
 public:
  const PartitionId& id() const noexcept { return id_; }

  // As Client::putState, getState, deleteState and listState, in this
  // partition's scope (keys as given, without the partition).
  std::string putState(std::string_view key, std::string_view value,
                       const PutOptions& options = {}) {
    return client_->putStateAt(base_, key, value, options);
  }
  std::optional<State> getState(std::string_view key, View view = View::kSealed) {
    return client_->getStateAt(base_, key, view);
  }
  void deleteState(std::string_view key, const std::optional<std::string>& if_match = std::nullopt) {
    client_->deleteStateAt(base_, key, if_match);
  }
  std::vector<StateInfo> listState(std::string_view prefix = {}, View view = View::kSealed) {
    return client_->listStateAt(base_, prefix, view);
  }

 private:
  friend class Client;
  PartitionState(Client& client, PartitionId id, std::string base)
      : client_(&client), id_(std::move(id)), base_(std::move(base)) {}

  Client* client_;
  PartitionId id_;
  std::string base_;  // /v1/groups/{group}/topics/{topic}/partitions/{partition}/state
};

}  // namespace tidemark
