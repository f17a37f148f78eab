#pragma once

// Percentiles of a set of latency samples, shared by the benchmark tools
// (nearest rank, so every reported figure is one that was measured).

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace tidemark::bench {

struct LatencySummary {
  double p50 = 0, p90 = 0, p99 = 0, mean = 0, max = 0;
};

inline LatencySummary summarize(std::vector<double> v) {
  LatencySummary s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  auto rank = [&](double p) {
    size_t i = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
    return v[std::clamp<size_t>(i, 1, v.size()) - 1];
  };
  s.p50 = rank(50);
  s.p90 = rank(90);
  s.p99 = rank(99);
  s.mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  s.max = v.back();
  return s;
}

}  // namespace tidemark::bench
