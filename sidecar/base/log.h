#pragma once

// Structured logging: one line per event, logfmt-style
//   ts=2026-11-26T09:30:00.123Z level=info component=proxy msg="listening" addr=127.0.0.1:19092
// Lines are written with a single write(2) so concurrent threads never
// interleave within a line. Thread-safe; the level may change at any time.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace tidemark::log {

enum class Level { kTrace = 0, kDebug, kInfo, kWarn, kError };

void setLevel(Level level);
Level level();
inline bool enabled(Level l) { return l >= level(); }

std::optional<Level> parseLevel(std::string_view name);  // "trace" .. "error"
const char* levelName(Level level);

// Where finished lines go (without the trailing newline). Defaults to stderr.
// Tests install a capturing sink; pass nullptr to restore stderr.
using Sink = std::function<void(std::string_view line)>;
void setSink(Sink sink);

// One log event, emitted when it goes out of scope. Build with TM_LOG.
class Line {
 public:
  Line(Level level, std::string_view component, std::string_view msg);
  ~Line();
  Line(const Line&) = delete;
  Line& operator=(const Line&) = delete;

  Line& kv(std::string_view key, std::string_view value);
  Line& kv(std::string_view key, const char* value) { return kv(key, std::string_view(value)); }
  Line& kv(std::string_view key, const std::string& value) {
    return kv(key, std::string_view(value));
  }
  template <typename T, typename = std::enable_if_t<std::is_arithmetic_v<T>>>
  Line& kv(std::string_view key, T value) {
    if constexpr (std::is_same_v<T, bool>) return kv(key, value ? "true" : "false");
    return kv(key, std::string_view(std::to_string(value)));
  }

 private:
  std::string text_;
};

// Appends `value` to `out`, quoted and escaped if logfmt needs it.
void appendValue(std::string& out, std::string_view value);

}  // namespace tidemark::log

// TM_LOG(Info, "proxy", "listening").kv("addr", addr);
// Arguments are not evaluated when the level is disabled.
#define TM_LOG(level, component, msg)                                \
  if (!::tidemark::log::enabled(::tidemark::log::Level::k##level)) { \
  } else                                                             \
    ::tidemark::log::Line(::tidemark::log::Level::k##level, component, msg)
