#pragma once

// Topic id -> name, learnt from Metadata responses (v10+ carry both), so that
// requests and responses that name topics by id (Fetch v13+, and the KIP-848
// offset APIs) can be attributed to topic names. Loop thread only.

#include <map>
#include <optional>
#include <string>

#include "protocol/kafka/wire.h"

namespace tidemark::proxy {

class TopicCache {
 public:
  void learn(const kafka::Uuid& id, const std::string& name) {
    if (id != kafka::Uuid{} && !name.empty()) names_[id] = name;
  }
  std::optional<std::string> name(const kafka::Uuid& id) const {
    auto it = names_.find(id);
    if (it == names_.end()) return std::nullopt;
    return it->second;
  }
  size_t size() const { return names_.size(); }

 private:
  std::map<kafka::Uuid, std::string> names_;
};

}  // namespace tidemark::proxy
