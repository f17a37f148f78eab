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
#include "sidecar/config/scalars.h"

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

// An accepted config renders to YAML that loads back to exactly the same
// config, and renders the same again (the loader refuses text that is not
// UTF-8, which the YAML emitter could not render faithfully).
void checkAccepted(const config::Config& c) {
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
  if (!diff.Compare(c, *again)) {
    std::fprintf(stderr, "--- rendered:\n%s\n--- differences:\n%s\n", rendered.c_str(),
                 differences.c_str());
  }
  check(differences.empty(), "the rendered config loads to the same config");
  check(config::renderYaml(*again) == rendered, "rendering is stable");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
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
    check(!config::firstInvalidUtf8(yaml), "an accepted file is UTF-8");
    checkAccepted(*loaded);
  } else {
    checkRefusal(loaded.status().message(), "fuzz.yaml");
  }
  if (!overrides.empty()) {
    auto only = config::loadOverrides(overrides);
    if (only.isOk()) {
      checkAccepted(*only);
    } else {
      checkRefusal(only.status().message(), "--set");
    }
  }
  return 0;
}
