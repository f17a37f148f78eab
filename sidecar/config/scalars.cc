#include "sidecar/config/scalars.h"

#include <algorithm>
#include <cctype>

#include <charconv>
#include <limits>

namespace tidemark::config {
namespace {

std::string quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

struct Unit {
  std::string_view name;
  uint64_t factor;
};

// Longest names first so "ms" is not read as "m" followed by junk.
constexpr Unit kDurationUnits[] = {
    {"ns", 1},
    {"us", 1000},
    {"ms", 1000000},
    {"s", 1000000000},
    {"m", 60'000'000'000ULL},
    {"h", 3'600'000'000'000ULL},
};

constexpr Unit kByteUnits[] = {
    {"KiB", 1ULL << 10},   {"MiB", 1ULL << 20},      {"GiB", 1ULL << 30},
    {"TiB", 1ULL << 40},   {"KB", 1000ULL},          {"MB", 1000000ULL},
    {"GB", 1000000000ULL}, {"TB", 1000000000000ULL}, {"B", 1},
};

bool isDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

StatusOr<uint64_t> parseUint(std::string_view text) {
  uint64_t value = 0;
  if (text.empty() || !isDigit(text.front())) {
    return invalidArgument("expected a non-negative integer, got " + quoted(text));
  }
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc::result_out_of_range) {
    return invalidArgument("integer " + quoted(text) + " is too large");
  }
  if (ec != std::errc() || end != text.data() + text.size()) {
    return invalidArgument("expected a non-negative integer, got " + quoted(text));
  }
  return value;
}

StatusOr<int64_t> parseInt(std::string_view text) {
  int64_t value = 0;
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  if (!text.empty() && text.front() == '+') ++begin;
  auto [stop, ec] = std::from_chars(begin, end, value);
  if (ec == std::errc::result_out_of_range) {
    return invalidArgument("integer " + quoted(text) + " is out of range");
  }
  if (text.empty() || ec != std::errc() || stop != end) {
    return invalidArgument("expected an integer, got " + quoted(text));
  }
  return value;
}

StatusOr<int64_t> parseDuration(std::string_view text) {
  const std::string expected =
      "expected a non-negative duration like 60s, 250ms or 1m30s, got " + quoted(text);
  if (text.empty()) return invalidArgument(expected);
  uint64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t digits = i;
    while (digits < text.size() && isDigit(text[digits])) ++digits;
    if (digits == i) return invalidArgument(expected);
    uint64_t amount = 0;
    auto [p, ec] = std::from_chars(text.data() + i, text.data() + digits, amount);
    (void)p;
    if (ec != std::errc()) return invalidArgument(expected);
    const Unit* unit = nullptr;
    for (const Unit& u : kDurationUnits) {
      if (text.substr(digits, u.name.size()) == u.name &&
          (unit == nullptr || u.name.size() > unit->name.size())) {
        unit = &u;
      }
    }
    if (unit == nullptr) return invalidArgument(expected);
    if (amount > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / unit->factor) {
      return invalidArgument("duration " + quoted(text) + " is too long");
    }
    total += amount * unit->factor;
    if (total > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return invalidArgument("duration " + quoted(text) + " is too long");
    }
    i = digits + unit->name.size();
  }
  return static_cast<int64_t>(total);
}

std::string formatDuration(int64_t nanos) {
  struct Step {
    int64_t factor;
    const char* name;
  };
  static constexpr Step kSteps[] = {
      {3'600'000'000'000LL, "h"}, {60'000'000'000LL, "m"}, {1'000'000'000LL, "s"},
      {1'000'000LL, "ms"},        {1'000LL, "us"},
  };
  if (nanos == 0) return "0s";
  for (const Step& s : kSteps) {
    if (nanos % s.factor == 0) return std::to_string(nanos / s.factor) + s.name;
  }
  return std::to_string(nanos) + "ns";
}

StatusOr<uint64_t> parseBytes(std::string_view text) {
  const std::string expected =
      "expected a byte size like 4096, 64KiB or 100MiB, got " + quoted(text);
  size_t digits = 0;
  while (digits < text.size() && isDigit(text[digits])) ++digits;
  if (digits == 0) return invalidArgument(expected);
  uint64_t amount = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + digits, amount);
  (void)p;
  if (ec != std::errc()) return invalidArgument("byte size " + quoted(text) + " is too large");
  std::string_view suffix = text.substr(digits);
  if (!suffix.empty() && suffix.front() == ' ') suffix.remove_prefix(1);
  uint64_t factor = suffix.empty() ? 1 : 0;
  for (const Unit& u : kByteUnits) {
    if (suffix == u.name) factor = u.factor;
  }
  if (factor == 0) return invalidArgument(expected);
  if (amount > std::numeric_limits<uint64_t>::max() / factor) {
    return invalidArgument("byte size " + quoted(text) + " is too large");
  }
  return amount * factor;
}

std::string formatBytes(uint64_t bytes) {
  static constexpr Unit kBinary[] = {
      {"TiB", 1ULL << 40}, {"GiB", 1ULL << 30}, {"MiB", 1ULL << 20}, {"KiB", 1ULL << 10}};
  if (bytes == 0) return "0";
  for (const Unit& u : kBinary) {
    if (bytes % u.factor == 0) return std::to_string(bytes / u.factor) + std::string(u.name);
  }
  return std::to_string(bytes);
}

Status checkHost(std::string_view host) {
  if (host.empty()) return invalidArgument("host is empty");
  if (host.size() > 253) return invalidArgument("host is longer than 253 characters");
  for (char c : host) {
    bool ok = isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
              c == '-' || c == ':' || c == '_';
    if (!ok) return invalidArgument("host " + quoted(host) + " contains " + quoted({&c, 1}));
  }
  return Status::ok();
}

std::string HostPort::toString() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

StatusOr<HostPort> parseHostPort(std::string_view text) {
  const std::string expected = "expected host:port like 127.0.0.1:9092, got " + quoted(text);
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return invalidArgument(expected);
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return invalidArgument(expected);
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return invalidArgument("IPv6 addresses need brackets, like [::1]:9092; got " + quoted(text));
    }
  }
  if (host.empty()) return invalidArgument(expected);
  Status host_ok = checkHost(host);
  if (!host_ok.isOk()) return host_ok;
  auto port_value = parseUint(port);
  if (!port_value.isOk() || *port_value > 65535) {
    return invalidArgument("port must be 0..65535, got " + quoted(port) + " in " + quoted(text));
  }
  return HostPort{std::string(host), static_cast<uint16_t>(*port_value)};
}

StatusOr<HttpUrl> parseHttpUrl(std::string_view text) {
  constexpr std::string_view kScheme = "http://";
  if (text.substr(0, kScheme.size()) != kScheme) {
    return invalidArgument("expected an http:// URL like http://127.0.0.1:8080/checkpoint, got " +
                           quoted(text));
  }
  std::string_view rest = text.substr(kScheme.size());
  const size_t slash = rest.find('/');
  TM_ASSIGN_OR_RETURN(HostPort address, parseHostPort(rest.substr(0, slash)));
  if (address.port == 0) return invalidArgument("the URL needs a port, got " + quoted(text));
  std::string path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  for (char c : path) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
      return invalidArgument("the URL path has a space or control character: " + quoted(text));
    }
  }
  return HttpUrl{std::move(address), std::move(path)};
}

StatusOr<std::vector<HostPort>> parseHostPortList(std::string_view text) {
  std::vector<HostPort> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string_view item =
        text.substr(start, comma == std::string_view::npos ? text.npos : comma - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.empty()) {
      return invalidArgument("expected a comma-separated host:port list, got " + quoted(text));
    }
    auto hp = parseHostPort(item);
    if (!hp.isOk()) return hp.status();
    if (hp->port == 0)
      return invalidArgument("broker port 0 in " + quoted(text) + " is not dialable");
    out.push_back(std::move(hp).value());
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

bool isKafkaTopicName(std::string_view name) {
  if (name.empty() || name.size() > 249 || name == "." || name == "..") return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

bool isLoopback(std::string_view host) {
  return host == "localhost" || host == "::1" || host.substr(0, 4) == "127.";
}

std::optional<size_t> firstInvalidUtf8(std::string_view text) {
  static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};  // per continuation count
  for (size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    size_t n = 0;
    uint32_t cp = lead;
    if (lead >= 0x80) {
      if ((lead >> 5) == 0x6) {
        n = 1, cp = lead & 0x1f;
      } else if ((lead >> 4) == 0xe) {
        n = 2, cp = lead & 0x0f;
      } else if ((lead >> 3) == 0x1e) {
        n = 3, cp = lead & 0x07;
      } else {
        return i;
      }
    }
    if (i + n >= text.size() && n > 0) return i;  // cut short
    for (size_t k = 1; k <= n; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next >> 6) != 0x2) return i;
      cp = (cp << 6) | (next & 0x3f);
    }
    if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return std::nullopt;
}

}  // namespace tidemark::config
