#include "sidecar/proxy/offsets.h"

#include "protocol/kafka/header.h"
#include "protocol/kafka/messages.h"
#include "sidecar/proxy/lenient.h"

namespace tidemark::proxy {
namespace {

template <typename Request, typename Response>
StatusOr<CommitRequest> decodeCommitAs(int16_t version, std::string_view body) {
  TM_ASSIGN_OR_RETURN(auto decoded, decodeLenient<Request>(body, version));
  const Request& req = decoded.msg;
  CommitRequest out;
  out.group = req.group_id;
  if constexpr (requires { req.transactional_id; }) out.transactional_id = req.transactional_id;
  if constexpr (requires { req.generation_id_or_member_epoch; }) {
    out.generation_id = req.generation_id_or_member_epoch;
    out.member_id = req.member_id;
  }
  Response resp;
  for (const auto& t : req.topics) {
    typename Response::Topic rt;
    rt.name = t.name;
    for (const auto& p : t.partitions) {
      out.offsets[{req.group_id, t.name, p.partition_index}] = CommittedOffset{
          p.committed_offset, p.committed_leader_epoch, p.committed_metadata, out.generation_id};
      typename Response::Partition rp;
      rp.partition_index = p.partition_index;
      rp.error_code = 0;
      rt.partitions.push_back(rp);
    }
    resp.topics.push_back(std::move(rt));
  }
  TM_ASSIGN_OR_RETURN(out.success_body, resp.serialize(version));
  for (auto& t : resp.topics) {
    for (auto& p : t.partitions) p.error_code = kRequestTimedOut;
  }
  TM_ASSIGN_OR_RETURN(out.not_durable_body, resp.serialize(version));
  for (auto& t : resp.topics) {
    for (auto& p : t.partitions) p.error_code = kIllegalGeneration;
  }
  TM_ASSIGN_OR_RETURN(out.rejoin_body, resp.serialize(version));
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

StatusOr<GroupMember> decodeSyncGroupMember(int16_t version, std::string_view body) {
  TM_ASSIGN_OR_RETURN(auto decoded, decodeLenient<kafka::SyncGroupRequest>(body, version));
  return GroupMember{decoded.msg.group_id, decoded.msg.member_id, decoded.msg.generation_id};
}

StatusOr<GroupMember> decodeHeartbeatMember(int16_t version, std::string_view body) {
  TM_ASSIGN_OR_RETURN(auto decoded, decodeLenient<kafka::HeartbeatRequest>(body, version));
  return GroupMember{decoded.msg.group_id, decoded.msg.member_id, decoded.msg.generation_id};
}

StatusOr<std::string> syncGroupError(int16_t version, int16_t error_code) {
  kafka::SyncGroupResponse r;
  r.error_code = error_code;
  return r.serialize(version);
}

// The consumer protocol's assignment (ConsumerProtocolAssignment, versions
// 0-3, never flexible): int16 version, [string topic, [int32 partition]],
// then user data this does not need.
StatusOr<std::optional<std::map<std::string, std::vector<int32_t>>>> decodeSyncGroupAssignment(
    int16_t version, std::string_view body) {
  using Assigned = std::map<std::string, std::vector<int32_t>>;
  TM_ASSIGN_OR_RETURN(auto decoded, decodeLenient<kafka::SyncGroupResponse>(body, version));
  const auto& resp = decoded.msg;
  if (resp.error_code != 0) return std::optional<Assigned>();
  if (resp.protocol_type && *resp.protocol_type != "consumer") return std::optional<Assigned>();
  Assigned out;
  if (resp.assignment.empty()) return std::optional<Assigned>(out);  // assigned nothing
  kafka::Reader r(resp.assignment);
  const int16_t assignment_version = r.readInt16();
  const int32_t topics = r.readArrayLength(/*compact=*/false);
  if (!r.ok() || assignment_version < 0 || topics < 0) return std::optional<Assigned>();
  for (int32_t t = 0; t < topics && r.ok(); ++t) {
    std::string topic = r.readString(/*compact=*/false);
    const int32_t count = r.readArrayLength(/*compact=*/false);
    auto& partitions = out[topic];
    for (int32_t i = 0; i < count && r.ok(); ++i) partitions.push_back(r.readInt32());
  }
  if (!r.ok()) return std::optional<Assigned>();  // not the consumer protocol after all
  return std::optional<Assigned>(out);
}

StatusOr<EndTxnRequest> decodeEndTxn(int16_t version, std::string_view body) {
  TM_ASSIGN_OR_RETURN(auto decoded, decodeLenient<kafka::EndTxnRequest>(body, version));
  return EndTxnRequest{decoded.msg.transactional_id, decoded.msg.committed};
}

StatusOr<std::string> endTxnAnswer(int16_t version, int16_t error_code) {
  kafka::EndTxnResponse r;
  r.error_code = error_code;
  return r.serialize(version);
}

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
bool isStaleMember(int16_t code) {
  return code == kIllegalGeneration || code == kUnknownMemberId || code == kFencedInstanceId ||
         code == kStaleMemberEpoch;
}

template <typename Response>
StatusOr<int16_t> firstStaleError(int16_t version, std::string_view body) {
  TM_ASSIGN_OR_RETURN(auto decoded, decodeLenient<Response>(body, version));
  const Response& resp = decoded.msg;
  if constexpr (requires { resp.topics; }) {
    for (const auto& t : resp.topics) {
      for (const auto& p : t.partitions) {
        if (isStaleMember(p.error_code)) return p.error_code;
      }
    }
  } else {
    if (isStaleMember(resp.error_code)) return resp.error_code;
  }
  return int16_t{0};
}

template <typename Response>
StatusOr<int> countErrors(int16_t version, std::string_view body) {
  TM_ASSIGN_OR_RETURN(auto decoded, decodeLenient<Response>(body, version));
  const Response& resp = decoded.msg;
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

StatusOr<int16_t> staleMemberError(int16_t key, int16_t version, std::string_view body) {
  if (key == kOffsetCommitKey) return firstStaleError<kafka::OffsetCommitResponse>(version, body);
  if (key == kTxnOffsetCommitKey) {
    return firstStaleError<kafka::TxnOffsetCommitResponse>(version, body);
  }
  if (key == kHeartbeatKey) return firstStaleError<kafka::HeartbeatResponse>(version, body);
  return int16_t{0};
}

StatusOr<std::string> offsetFetchGroup(int16_t version, std::string_view body) {
  TM_ASSIGN_OR_RETURN(auto decoded, decodeLenient<kafka::OffsetFetchRequest>(body, version));
  return decoded.msg.group_id;
}

StatusOr<std::optional<std::string>> rewriteOffsetFetch(int16_t version, std::string_view body,
                                                        const std::string& group,
                                                        const OffsetHooks& hooks) {
  TM_ASSIGN_OR_RETURN(auto decoded, decodeLenient<kafka::OffsetFetchResponse>(body, version));
  kafka::OffsetFetchResponse& resp = decoded.msg;
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
  return reencode(decoded, version);
}

}  // namespace tidemark::proxy
