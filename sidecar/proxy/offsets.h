#pragma once

// The group-offset messages the proxy looks inside, as pure functions:
// OffsetCommit/TxnOffsetCommit requests become (partition -> committed offset)
// maps and get success answers; OffsetFetch answers are rewritten with the
// sealed offsets. Loop thread only (through OffsetHooks).

#include <optional>
#include <string>
#include <string_view>

#include "sidecar/base/status.h"
#include "sidecar/proxy/offset_hooks.h"

namespace tidemark::proxy {

constexpr int16_t kOffsetCommitKey = 8;
constexpr int16_t kOffsetFetchKey = 9;
constexpr int16_t kJoinGroupKey = 11;
constexpr int16_t kHeartbeatKey = 12;
constexpr int16_t kLeaveGroupKey = 13;
constexpr int16_t kSyncGroupKey = 14;
constexpr int16_t kEndTxnKey = 26;
constexpr int16_t kTxnOffsetCommitKey = 28;

// A decoded commit request (OffsetCommit or TxnOffsetCommit body).
struct CommitRequest {
  std::string group;
  std::string transactional_id;  // TxnOffsetCommit only
  // OffsetCommit v1+: the committing group member (-1 / empty: a simple
  // commit from a consumer that assigns partitions itself).
  int32_t generation_id = -1;
  std::string member_id;
  std::map<PartitionId, CommittedOffset> offsets;
  // The success answer (every partition error 0) for the app, encoded at the
  // request's version, when the sidecar answers it itself.
  std::string success_body;
  // The answer when the checkpoint that should hold it failed (sync mode):
  // every partition REQUEST_TIMED_OUT, which clients retry.
  std::string not_durable_body;
  // The answer that makes a group member rejoin before its commit counts:
  // every partition ILLEGAL_GENERATION.
  std::string rejoin_body;
};

// The group member a SyncGroup request comes from.
struct GroupMember {
  std::string group;
  std::string member_id;
  int32_t generation_id = -1;
};
StatusOr<GroupMember> decodeSyncGroupMember(int16_t version, std::string_view body);
StatusOr<GroupMember> decodeHeartbeatMember(int16_t version, std::string_view body);

// A SyncGroup answer carrying only `error_code` (the member then rejoins).
StatusOr<std::string> syncGroupError(int16_t version, int16_t error_code);

// The coordinator's word that a member is stale (it lost its partitions):
// the first such error code in an OffsetCommit, TxnOffsetCommit or Heartbeat
// answer, or 0 if there is none.
StatusOr<int16_t> staleMemberError(int16_t key, int16_t version, std::string_view body);

// The partitions a SyncGroup response assigns to the member (topic ->
// partitions), from its consumer-protocol assignment. nullopt when the
// response carries an error, or an assignment that is not the consumer
// protocol's (Kafka Connect, a custom protocol): then nothing is known.
StatusOr<std::optional<std::map<std::string, std::vector<int32_t>>>> decodeSyncGroupAssignment(
    int16_t version, std::string_view body);

constexpr int16_t kRequestTimedOut = 7;
constexpr int16_t kCoordinatorLoadInProgress = 14;
constexpr int16_t kIllegalGeneration = 22;
constexpr int16_t kUnknownMemberId = 25;
constexpr int16_t kRebalanceInProgress = 27;
constexpr int16_t kFencedInstanceId = 82;
constexpr int16_t kStaleMemberEpoch = 113;

// A decoded EndTxn request.
struct EndTxnRequest {
  std::string transactional_id;
  bool committed = false;
};
StatusOr<EndTxnRequest> decodeEndTxn(int16_t version, std::string_view body);

// EndTxn's answer with `error_code`, when the sidecar answers it itself.
StatusOr<std::string> endTxnAnswer(int16_t version, int16_t error_code);
StatusOr<CommitRequest> decodeCommit(int16_t key, int16_t version, std::string_view body);

// How many partitions an OffsetCommit/TxnOffsetCommit response reports failed.
StatusOr<int> commitErrors(int16_t key, int16_t version, std::string_view body);

// The group an OffsetFetch request v0-7 names (v8+ responses name their groups).
StatusOr<std::string> offsetFetchGroup(int16_t version, std::string_view body);

// Rewrites an OffsetFetch response body: partitions the sidecar knows get
// their sealed offset. `group` is the request's group for v0-7.
StatusOr<std::optional<std::string>> rewriteOffsetFetch(int16_t version, std::string_view body,
                                                        const std::string& group,
                                                        const OffsetHooks& hooks);

}  // namespace tidemark::proxy
