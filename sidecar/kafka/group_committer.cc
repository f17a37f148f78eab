#include "sidecar/kafka/group_committer.h"

#include "sidecar/kafka/client_config.h"

#include <event2/event.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace tidemark::kafka {

// A consumer handle for one group, its result queue, and the pipe through
// which librdkafka says that queue has something.
struct GroupCommitter::Group {
  rd_kafka_t* rk = nullptr;
  rd_kafka_queue_t* results = nullptr;
  int wake[2] = {-1, -1};
  ::event* readable = nullptr;
  std::map<uint64_t, std::function<void(Status)>> waiting;
  uint64_t next_ticket = 1;

  ~Group() {
    if (readable != nullptr) event_free(readable);
    if (results != nullptr) rd_kafka_queue_destroy(results);
    if (rk != nullptr) rd_kafka_destroy(rk);
    for (int fd : wake) {
      if (fd >= 0) ::close(fd);
    }
  }

  static void onCommitted(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* offsets, void* opaque) {
    // Runs inside rd_kafka_queue_poll, i.e. on the loop thread (onWake).
    Group* g = static_cast<Group*>(rd_kafka_opaque(rk));
    auto it = g->waiting.find(reinterpret_cast<uintptr_t>(opaque));
    if (it == g->waiting.end()) return;
    auto done = std::move(it->second);
    g->waiting.erase(it);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR && offsets != nullptr) {
      for (int i = 0; i < offsets->cnt; ++i) {
        if (offsets->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
          err = offsets->elems[i].err;
          break;
        }
      }
    }
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return done(Status::ok());
    done(unavailable(std::string("group commit refused: ") + rd_kafka_err2name(err)));
  }

  static void onWake(evutil_socket_t fd, short, void* arg) {
    char buf[64];
    while (::read(fd, buf, sizeof(buf)) > 0) {
    }
    auto* g = static_cast<Group*>(arg);
    while (rd_kafka_queue_poll_callback(g->results, 0) > 0) {
    }  // each commit result is served by onCommitted
  }
};

GroupCommitter::GroupCommitter(event::EventLoop& loop, std::string bootstrap_servers, ClientTls tls)
    : loop_(loop), bootstrap_(std::move(bootstrap_servers)), tls_(std::move(tls)) {}

GroupCommitter::~GroupCommitter() = default;

StatusOr<GroupCommitter::Group*> GroupCommitter::groupFor(const std::string& name) {
  if (auto it = groups_.find(name); it != groups_.end()) return it->second.get();
  auto g = std::make_unique<Group>();
  TM_ASSIGN_OR_RETURN(rd_kafka_conf_t * conf, makeConfig(bootstrap_, tls_,
                                                         {{"group.id", name},
                                                          {"client.id", "tidemark-offsets"},
                                                          {"enable.auto.commit", "false"}}));
  char err[512];
  rd_kafka_conf_set_offset_commit_cb(conf, &Group::onCommitted);
  rd_kafka_conf_set_opaque(conf, g.get());
  g->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  if (g->rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return unavailable(std::string("librdkafka: ") + err);
  }
  g->results = rd_kafka_queue_new(g->rk);
  if (::pipe2(g->wake, O_NONBLOCK | O_CLOEXEC) != 0) return ioError("pipe for librdkafka wakeups");
  rd_kafka_queue_io_event_enable(g->results, g->wake[1], "1", 1);
  g->readable = event_new(loop_.base(), g->wake[0], EV_READ | EV_PERSIST, &Group::onWake, g.get());
  event_add(g->readable, nullptr);
  Group* raw = g.get();
  groups_[name] = std::move(g);
  return raw;
}

void GroupCommitter::commit(const std::string& group, const std::vector<GroupOffset>& offsets,
                            std::function<void(Status)> done) {
  auto g = groupFor(group);
  if (!g.isOk()) {
    return loop_.post([done = std::move(done), s = g.status()] { done(s); });
  }
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()));
  for (const auto& o : offsets) {
    rd_kafka_topic_partition_t* p =
        rd_kafka_topic_partition_list_add(list, o.topic.c_str(), o.partition);
    p->offset = o.offset;
    if (!o.metadata.empty()) {
      p->metadata = malloc(o.metadata.size());
      memcpy(p->metadata, o.metadata.data(), o.metadata.size());
      p->metadata_size = o.metadata.size();
    }
  }
  const uint64_t ticket = (*g)->next_ticket++;
  (*g)->waiting[ticket] = std::move(done);
  rd_kafka_resp_err_t err =
      rd_kafka_commit_queue((*g)->rk, list, (*g)->results, &Group::onCommitted,
                            reinterpret_cast<void*>(static_cast<uintptr_t>(ticket)));
  rd_kafka_topic_partition_list_destroy(list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    auto fn = std::move((*g)->waiting[ticket]);
    (*g)->waiting.erase(ticket);
    loop_.post([fn = std::move(fn), err] {
      fn(unavailable(std::string("group commit not sent: ") + rd_kafka_err2name(err)));
    });
  }
}

}  // namespace tidemark::kafka
