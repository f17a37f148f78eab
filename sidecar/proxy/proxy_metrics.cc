#include "sidecar/proxy/proxy_metrics.h"

#include <string>

#include "protocol/kafka/api_names.h"

namespace tidemark::proxy {

ProxyMetrics::ProxyMetrics(metrics::Registry& registry)
    : registry_(registry),
      to_upstream_(registry.counter("tidemark_proxy_bytes_total",
                                    "Kafka bytes forwarded, by direction.",
                                    {{"direction", "to_upstream"}})),
      to_client_(registry.counter("tidemark_proxy_bytes_total",
                                  "Kafka bytes forwarded, by direction.",
                                  {{"direction", "to_client"}})) {}

metrics::Counter& ProxyMetrics::at(std::array<metrics::Counter*, kKeys + 1>& cache,
                                   const char* name, int16_t api_key) {
  const int slot = api_key >= 0 && api_key < kKeys ? api_key : kKeys;
  if (cache[slot] != nullptr) return *cache[slot];
  const std::string api = slot < kKeys ? kafka::apiName(api_key) : "other";
  const bool requests = std::string(name) == "tidemark_proxy_requests_total";
  cache[slot] = &registry_.counter(
      name,
      requests ? "Kafka requests from the application, by API."
               : "Kafka frames that closed their connection (malformed, oversized, unsupported).",
      {{"api", api}});
  return *cache[slot];
}

}  // namespace tidemark::proxy
