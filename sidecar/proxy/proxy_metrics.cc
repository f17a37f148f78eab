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

metrics::Counter& ProxyMetrics::at(ByApi& family, int16_t api_key) {
  const int slot = api_key >= 0 && api_key < kKeys ? api_key : kKeys;
  if (family.counters[slot] == nullptr) {
    const std::string api = slot < kKeys ? kafka::apiName(api_key) : "other";
    family.counters[slot] = &registry_.counter(family.name, family.help, {{"api", api}});
  }
  return *family.counters[slot];
}

}  // namespace tidemark::proxy
