#pragma once

// Errors as values. Fallible operations return Status or StatusOr<T>; the data
// path never throws. A Status carries a code (what kind of failure, for the
// caller to branch on) and a message (for a human, one line).

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace tidemark {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // the caller's input is wrong; retrying won't help
  kNotFound,            // the thing asked for does not exist
  kAlreadyExists,       // create of something that exists
  kFailedPrecondition,  // the system is not in a state that allows this (e.g. ETag mismatch)
  kOutOfRange,          // a value or buffer is outside what is allowed
  kResourceExhausted,   // a limit (size, count, memory) was hit
  kUnavailable,         // transient: a peer or resource is down; retry may help
  kDataLoss,            // persisted data is corrupt or torn
  kAborted,             // the operation was cancelled or superseded
  kInternal,            // a bug: an invariant did not hold
  kIoError,             // the operating system refused a read or write
  kDeadlineExceeded,    // did not finish within its time limit; it may still complete
};

const char* statusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return Status(); }

  bool isOk() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "InvalidArgument: message" (or "OK").
  std::string toString() const;

  // Returns a copy whose message is "prefix: message"; used to add context as
  // an error travels up ("config.yaml: proxy.listen: ...").
  Status withPrefix(const std::string& prefix) const;

  bool operator==(const Status& other) const = default;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status invalidArgument(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status notFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status failedPrecondition(std::string m) {
  return {StatusCode::kFailedPrecondition, std::move(m)};
}
inline Status outOfRange(std::string m) { return {StatusCode::kOutOfRange, std::move(m)}; }
inline Status resourceExhausted(std::string m) {
  return {StatusCode::kResourceExhausted, std::move(m)};
}
inline Status unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status dataLoss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
inline Status internalError(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
inline Status ioError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
inline Status deadlineExceeded(std::string m) {
  return {StatusCode::kDeadlineExceeded, std::move(m)};
}

// Either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  StatusOr(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(v_).isOk() && "StatusOr needs a value or an error");
  }

  bool isOk() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return isOk() ? kOk : std::get<Status>(v_);
  }

  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace tidemark

// Returns early with the error if `expr` (a Status) is not OK.
#define TM_RETURN_IF_ERROR(expr)               \
  do {                                         \
    ::tidemark::Status tm_status_ = (expr);    \
    if (!tm_status_.isOk()) return tm_status_; \
  } while (0)

#define TM_CONCAT_INNER(a, b) a##b
#define TM_CONCAT(a, b) TM_CONCAT_INNER(a, b)

// `TM_ASSIGN_OR_RETURN(auto x, f());` binds the value or returns the error.
#define TM_ASSIGN_OR_RETURN(lhs, expr) \
  TM_ASSIGN_OR_RETURN_IMPL(TM_CONCAT(tm_or_, __LINE__), lhs, expr)
#define TM_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.isOk()) return tmp.status();          \
  lhs = std::move(tmp).value()
