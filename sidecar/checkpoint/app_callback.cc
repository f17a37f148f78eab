#include "sidecar/checkpoint/app_callback.h"

#include <nlohmann/json.hpp>

#include "sidecar/base/log.h"
#include "sidecar/checkpoint/app_commit.h"

namespace tidemark::checkpoint {

AppCallback::AppCallback(event::EventLoop& loop, Coordinator& coordinator, config::HttpUrl url,
                         std::string job_id, std::chrono::milliseconds timeout,
                         size_t max_value_bytes)
    : coordinator_(coordinator),
      url_(std::move(url)),
      job_id_(std::move(job_id)),
      max_value_bytes_(max_value_bytes),
      client_(loop, url_.address, timeout) {}

void AppCallback::prepare(const std::string& trigger, std::function<void(Status)> ready) {
  const auto& last = coordinator_.stats().last_id;
  nlohmann::json request = {
      {"trigger", trigger},
      {"job_id", job_id_},
      {"last_checkpoint_id", last ? nlohmann::json(std::to_string(*last)) : nlohmann::json()}};
  const std::string where = "app_callback http://" + url_.address.toString() + url_.path;
  client_.post(url_.path, "application/json", request.dump(),
               [this, ready = std::move(ready), where](StatusOr<http::ClientResponse> r) {
                 if (!r.isOk()) return ready(r.status().withPrefix("app_callback"));
                 if (r->status == 204) return ready(Status::ok());
                 if (r->status != 200) {
                   return ready(unavailable(where + " answered " + std::to_string(r->status) +
                                            ": " + r->body.substr(0, 200)));
                 }
                 CommitError error;
                 auto commit = parseAppCommit(r->body, max_value_bytes_, error);
                 if (!commit) {
                   return ready(unavailable(where + " answered a body that is not a commit (" +
                                            error.code + "): " + error.message));
                 }
                 TM_LOG(Debug, "checkpoint", "application answered the checkpoint request")
                     .kv("partitions", commit->offsets.size())
                     .kv("state_puts", commit->puts.size())
                     .kv("state_deletes", commit->deletes.size());
                 applyAppCommit(coordinator_, std::move(*commit));
                 ready(Status::ok());
               });
}

}  // namespace tidemark::checkpoint
