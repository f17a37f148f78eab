#pragma once

// The proxy's counters, looked up once so the data path only increments
// atomics: requests by API (tidemark_proxy_requests_total{api}), frames that
// closed their connection (tidemark_proxy_frames_rejected_total{api}), and
// bytes forwarded each way (tidemark_proxy_bytes_total{direction}).

#include <array>
#include <cstdint>

#include "sidecar/metrics/registry.h"

namespace tidemark::proxy {

class ProxyMetrics {
 public:
  explicit ProxyMetrics(metrics::Registry& registry);

  void request(int16_t api_key) { at(requests_, api_key).inc(); }
  void rejected(int16_t api_key) { at(rejected_, api_key).inc(); }
  void toUpstream(size_t bytes) { to_upstream_.inc(static_cast<double>(bytes)); }
  void toClient(size_t bytes) { to_client_.inc(static_cast<double>(bytes)); }

 private:
  static constexpr int kKeys = 128;  // Kafka's API keys are small; others share "other"
  // One family's counters by API key, looked up in the registry on first use.
  struct ByApi {
    const char* name;
    const char* help;
    std::array<metrics::Counter*, kKeys + 1> counters{};
  };
  metrics::Counter& at(ByApi& family, int16_t api_key);

  metrics::Registry& registry_;
  ByApi requests_{"tidemark_proxy_requests_total", "Kafka requests from the application, by API."};
  ByApi rejected_{"tidemark_proxy_frames_rejected_total",
                  "Kafka frames that closed their connection (malformed, oversized, unsupported)."};
  metrics::Counter& to_upstream_;
  metrics::Counter& to_client_;
};

}  // namespace tidemark::proxy
