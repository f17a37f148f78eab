#pragma once

// A config Duration as the std::chrono type timers and deadlines take.

#include <google/protobuf/duration.pb.h>

#include <chrono>

namespace tidemark::config {

inline std::chrono::milliseconds toMillis(const google::protobuf::Duration& d) {
  return std::chrono::milliseconds(d.seconds() * 1000 + d.nanos() / 1000000);
}

}  // namespace tidemark::config
