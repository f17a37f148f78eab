#pragma once

// Where each upstream broker really is, and where the application is told it
// is. Broker node N is advertised as advertised_host:(port_base + N); the
// proxy listens there and forwards to N's real address. Fed by every response
// that carries broker addresses (Metadata, FindCoordinator, DescribeCluster,
// NodeEndpoints). Loop thread only.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace tidemark::proxy {

struct UpstreamAddress {
  std::string host;
  uint16_t port = 0;
  bool operator==(const UpstreamAddress&) const = default;
};

class BrokerMap {
 public:
  // `on_new_node` runs the first time a node id is learnt, before its
  // rewritten address reaches any client, so its listener can be opened.
  BrokerMap(std::string advertised_host, uint32_t port_base,
            std::function<void(int32_t node_id)> on_new_node);

  struct Advertised {
    std::string host;
    int32_t port;
  };
  // Records node `node_id` at host:port upstream and returns what the client
  // must see instead. Ids whose port would fall outside 1..65535 are
  // advertised with port 0 (undialable) and logged: never the upstream address.
  Advertised learn(int32_t node_id, std::string_view host, int32_t port);

  std::optional<UpstreamAddress> upstream(int32_t node_id) const;
  // The port node `node_id` is served on, if it is representable.
  std::optional<uint16_t> listenPort(int32_t node_id) const;
  const std::string& advertisedHost() const { return advertised_host_; }

 private:
  std::string advertised_host_;
  uint32_t port_base_;
  std::function<void(int32_t)> on_new_node_;
  std::map<int32_t, UpstreamAddress> nodes_;
};

}  // namespace tidemark::proxy
