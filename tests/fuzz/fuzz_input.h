#pragma once

// What the Kafka fuzz targets share: quiet logs, and an API and version of
// the codec's registry picked by the input's first two bytes.

#include <cstdint>
#include <iterator>
#include <string_view>

#include "protocol/kafka/header.h"
#include "sidecar/base/log.h"

namespace tidemark::fuzz {

// Once per process: log lines (broker discoveries, refusals) would flood the
// fuzzer's output.
inline void silenceLogs() {
  static const bool silenced = [] {
    log::setSink([](std::string_view) {});
    return true;
  }();
  (void)silenced;
}

inline const kafka::ApiInfo& apiOf(uint8_t byte) {
  return kafka::kApis[byte % std::size(kafka::kApis)];
}

inline int16_t versionOf(const kafka::ApiInfo& api, uint8_t byte) {
  return static_cast<int16_t>(api.min_version + byte % (api.max_version - api.min_version + 1));
}

}  // namespace tidemark::fuzz
