#pragma once

// A small deterministic random source for codec tests (generated testing.cc).
// Owns the storage behind the `records` views it hands out, so it must outlive
// the messages it filled.

#include <cstdint>
#include <deque>
#include <limits>
#include <random>
#include <string>
#include <string_view>

#include "protocol/kafka/wire.h"

namespace tidemark::kafka::testing {

class Rng {
 public:
  explicit Rng(uint64_t seed) : gen_(seed) {}

  size_t below(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(gen_); }
  bool chance(size_t one_in) { return below(one_in) == 0; }

  template <typename T>
  T number() {
    if constexpr (std::is_floating_point_v<T>) {
      return std::uniform_real_distribution<T>(-1e6, 1e6)(gen_);
    } else {
      // Mostly small values (short varints), sometimes the extremes.
      switch (below(4)) {
        case 0:
          return std::numeric_limits<T>::min();
        case 1:
          return std::numeric_limits<T>::max();
        default:
          return static_cast<T>(below(300));
      }
    }
  }

  std::string text() {
    std::string s(below(9), 'a');
    for (char& c : s) c = static_cast<char>('a' + below(26));
    return s;
  }

  std::string_view view() {
    std::string& s = arena_.emplace_back(below(40), '\0');
    for (char& c : s) c = static_cast<char>(below(256));
    return s;
  }

  Uuid uuid() {
    Uuid u;
    for (auto& b : u) b = static_cast<uint8_t>(below(256));
    return u;
  }

 private:
  std::mt19937_64 gen_;
  std::deque<std::string> arena_;
};

}  // namespace tidemark::kafka::testing
