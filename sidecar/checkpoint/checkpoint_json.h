#pragma once

// The checkpoint documents of the HTTP API: one row of GET /v1/checkpoints
// and the whole of GET /v1/checkpoints/{id}. `tidemark checkpoints` prints
// the same documents from a store file (sidecar/cli/checkpoint_documents.h
// reads them back), so they are built here once. Pure; any thread.

#include <nlohmann/json.hpp>

#include "protocol/store/checkpoint.pb.h"
#include "store/checkpoint_summary.h"

namespace tidemark::checkpoint {

nlohmann::json summaryJson(const store::CheckpointSummary& s);
nlohmann::json partitionJson(const store::v1::PartitionKey& p);
nlohmann::json offsetJson(const store::v1::PartitionOffset& o);
nlohmann::json stateJson(const store::v1::StateRef& s);
// The summary, the job id, every offset and every state key.
nlohmann::json detailJson(const store::v1::Manifest& m);

}  // namespace tidemark::checkpoint
