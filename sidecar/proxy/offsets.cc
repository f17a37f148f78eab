#include "sidecar/proxy/offsets.h"

#include "protocol/kafka/header.h"
#include "protocol/kafka/messages.h"

namespace tidemark::proxy {
namespace {

// Decodes like the rewriter: bytes after the message are tolerated.
template <typename M>
Status decodeLenient(M& m, int16_t version, std::string_view body) {
  kafka::Reader r(body);
  m.decode(r, version, kafka::isFlexible(M::kApiKey, version));
  if (!r.ok()) {
    return invalidArgument(std::string(kafka::findApi(M::kApiKey)->name) + " v" +
                           std::to_string(version) + ": " + r.error());
  }
  return Status::ok();
}

template <typename Request, typename Response>
StatusOr<CommitRequest> decodeCommitAs(int16_t version, std::string_view body) {
  Request req;
  TM_RETURN_IF_ERROR(decodeLenient(req, version, body));
  CommitRequest out;
  out.group = req.group_id;
  Response resp;
  for (const auto& t : req.topics) {
    typename Response::Topic rt;
    rt.name = t.name;
    for (const auto& p : t.partitions) {
      out.offsets[{req.group_id, t.name, p.partition_index}] =
          CommittedOffset{p.committed_offset, p.committed_leader_epoch, p.committed_metadata};
      typename Response::Partition rp;
      rp.partition_index = p.partition_index;
      rp.error_code = 0;
      rt.partitions.push_back(rp);
    }
    resp.topics.push_back(std::move(rt));
  }
  TM_ASSIGN_OR_RETURN(out.success_body, resp.serialize(version));
  return out;
}

template <typename Partition>
bool applySealed(Partition& p, const PartitionId& id, const OffsetHooks& hooks) {
  auto sealed = hooks.sealedOffset(id);
  if (!sealed) return false;
  p.committed_offset = sealed->offset;
  p.committed_leader_epoch = sealed->leader_epoch;
  p.metadata = sealed->metadata;
  p.error_code = 0;
  return true;
}

}  // namespace

StatusOr<CommitRequest> decodeCommit(int16_t key, int16_t version, std::string_view body) {
  if (key == kOffsetCommitKey) {
    return decodeCommitAs<kafka::OffsetCommitRequest, kafka::OffsetCommitResponse>(version, body);
  }
  if (key == kTxnOffsetCommitKey) {
    return decodeCommitAs<kafka::TxnOffsetCommitRequest, kafka::TxnOffsetCommitResponse>(version,
                                                                                         body);
  }
  return invalidArgument("not a commit API: " + std::to_string(key));
}

namespace {
template <typename Response>
StatusOr<int> countErrors(int16_t version, std::string_view body) {
  Response resp;
  TM_RETURN_IF_ERROR(decodeLenient(resp, version, body));
  int failed = 0;
  for (const auto& t : resp.topics) {
    for (const auto& p : t.partitions) failed += p.error_code != 0;
  }
  return failed;
}
}  // namespace

StatusOr<int> commitErrors(int16_t key, int16_t version, std::string_view body) {
  if (key == kOffsetCommitKey) return countErrors<kafka::OffsetCommitResponse>(version, body);
  return countErrors<kafka::TxnOffsetCommitResponse>(version, body);
}

StatusOr<std::string> offsetFetchGroup(int16_t version, std::string_view body) {
  kafka::OffsetFetchRequest req;
  TM_RETURN_IF_ERROR(decodeLenient(req, version, body));
  return req.group_id;
}

StatusOr<std::optional<std::string>> rewriteOffsetFetch(int16_t version, std::string_view body,
                                                        const std::string& group,
                                                        const OffsetHooks& hooks) {
  kafka::OffsetFetchResponse resp;
  kafka::Reader r(body);
  resp.decode(r, version, kafka::isFlexible(kOffsetFetchKey, version));
  if (!r.ok())
    return invalidArgument("OffsetFetch response v" + std::to_string(version) + ": " + r.error());
  bool changed = false;
  for (auto& t : resp.topics) {
    for (auto& p : t.partitions)
      changed |= applySealed(p, {group, t.name, p.partition_index}, hooks);
  }
  for (auto& g : resp.groups) {
    for (auto& t : g.topics) {
      for (auto& p : t.partitions) {
        changed |= applySealed(p, {g.group_id, t.name, p.partition_index}, hooks);
      }
    }
  }
  if (!changed) return std::optional<std::string>();
  TM_ASSIGN_OR_RETURN(std::string out, resp.serialize(version));
  out.append(body.substr(r.consumed()));
  return std::optional<std::string>(std::move(out));
}

}  // namespace tidemark::proxy
