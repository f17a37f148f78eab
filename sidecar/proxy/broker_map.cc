#include "sidecar/proxy/broker_map.h"

#include "sidecar/base/log.h"

namespace tidemark::proxy {

BrokerMap::BrokerMap(std::string advertised_host, uint32_t port_base,
                     std::function<void(int32_t)> on_new_node)
    : advertised_host_(std::move(advertised_host)),
      port_base_(port_base),
      on_new_node_(std::move(on_new_node)) {}

std::optional<uint16_t> BrokerMap::listenPort(int32_t node_id) const {
  int64_t port = static_cast<int64_t>(port_base_) + node_id;
  if (node_id < 0 || port < 1 || port > 65535) return std::nullopt;
  return static_cast<uint16_t>(port);
}

BrokerMap::Advertised BrokerMap::learn(int32_t node_id, std::string_view host, int32_t port) {
  auto listen = listenPort(node_id);
  if (!listen) {
    TM_LOG(Error, "proxy", "broker node id does not fit the listener port range")
        .kv("node_id", node_id)
        .kv("broker_port_base", port_base_);
    return {advertised_host_, 0};
  }
  UpstreamAddress addr{std::string(host), static_cast<uint16_t>(port < 0 ? 0 : port)};
  auto [it, inserted] = nodes_.try_emplace(node_id, addr);
  if (inserted) {
    TM_LOG(Info, "proxy", "broker discovered")
        .kv("node_id", node_id)
        .kv("upstream", addr.host + ":" + std::to_string(addr.port))
        .kv("served_on", advertised_host_ + ":" + std::to_string(*listen));
    if (on_new_node_) on_new_node_(node_id);
  } else if (!(it->second == addr)) {
    TM_LOG(Info, "proxy", "broker moved")
        .kv("node_id", node_id)
        .kv("upstream", addr.host + ":" + std::to_string(addr.port));
    it->second = addr;
  }
  return {advertised_host_, *listen};
}

std::optional<UpstreamAddress> BrokerMap::upstream(int32_t node_id) const {
  auto it = nodes_.find(node_id);
  if (it == nodes_.end()) return std::nullopt;
  return it->second;
}

}  // namespace tidemark::proxy
