#include "sidecar/cli/checkpoints_command.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "sidecar/base/digest.h"
#include "sidecar/base/status.h"
#include "sidecar/cli/args.h"
#include "sidecar/cli/checkpoint_documents.h"
#include "sidecar/cli/checkpoint_file.h"
#include "sidecar/cli/checkpoint_restore.h"
#include "sidecar/cli/checkpoint_sources.h"
#include "sidecar/cli/commands.h"
#include "sidecar/config/loader.h"
#include "sidecar/config/scalars.h"
#include "store/checkpoint_store.h"

namespace tidemark::cli {
namespace {

using json = nlohmann::json;
using store::Manifest;
using store::v1::PartitionOffset;
using store::v1::StateRef;

// ---------------------------------------------------------------- usage

constexpr const char* kHelp =
    R"(Usage: tidemark checkpoints <list|show|diff|export|import|restore> [flags]

Inspects the checkpoints of a store, offline or through a running sidecar, and
moves one checkpoint between stores as a self-contained file.

  list                 the retained checkpoints, newest first
  show ID              one checkpoint's offsets and state keys
  diff ID1 ID2         what changed from ID1 to ID2
  export ID FILE       write a checkpoint and all its state to FILE
  import FILE          add an exported checkpoint to a stopped sidecar's store
  restore ID           rewind a stopped sidecar's store to a retained checkpoint

Where the checkpoints come from (one of):
  --store PATH         the store file (the sidecar's store.path)
  --config FILE        a sidecar config file: its store.path
  --admin URL          a running sidecar's HTTP API, e.g. http://127.0.0.1:8770
                       (list, show and diff), with --token-file FILE for its token

ID is a checkpoint id as listed, or 'latest'. Exit codes: 0 ok, 1 runtime error
(store missing or corrupt, no such checkpoint, sidecar unreachable), 2 usage.
Run 'tidemark checkpoints <command> --help' for a command's flags.
)";

struct Verb {
  const char* name;
  const char* operands;
  size_t operand_count;
  size_t id_count;  // the operands before FILE are checkpoint ids
  bool online;      // may read a running sidecar (--admin) and print --json
  const char* about;
};

constexpr Verb kVerbs[] = {
    {"list", "", 0, 0, true,
     "Lists the retained checkpoints, newest first: id, creation time (UTC), trigger,\n"
     "partitions, state keys and state bytes. --json prints what GET /v1/checkpoints\n"
     "answers.\n"},
    {"show", "ID", 1, 1, true,
     "Shows one checkpoint (an id, or latest): its offsets (group, topic, partition,\n"
     "offset, leader epoch, metadata; '-' is no metadata) and state keys (size,\n"
     "SHA-256, content type). --json prints what GET /v1/checkpoints/{id} answers.\n"},
    {"diff", "ID1 ID2", 2, 2, true,
     "Shows what changed from checkpoint ID1 to ID2: the partitions whose offsets\n"
     "moved, with how far (the messages consumed in between, transaction markers\n"
     "included), and the state keys added, removed or changed (SHA-256 or content\n"
     "type).\n"},
    {"export", "ID FILE", 2, 1, false,
     "Writes checkpoint ID (or latest) and every state blob it references to FILE,\n"
     "one self-contained file (format: docs/operations.md), replaced only once\n"
     "complete. Reads the store without changing it: safe while the sidecar runs.\n"
     "Large state shows its progress on stderr.\n"},
    {"import", "FILE", 1, 0, false,
     "Verifies FILE (every blob against its SHA-256) and adds its checkpoint to the\n"
     "store as the newest one, with a new id and trigger 'import': the sidecar\n"
     "restores it when it next starts. Creates the store if it does not exist.\n"
     "Meant for a stopped sidecar: refused while another process has the store open.\n"},
    {"restore", "ID", 1, 1, false,
     "Rewinds the store to checkpoint ID (or latest), like Flink's restore from a\n"
     "checkpoint: commits it again as the newest one, with a new id and trigger\n"
     "'restore', so the sidecar restores it when it next starts; the history stays.\n"
     "Refused while another process has the store open, and while a consumer group\n"
     "the checkpoint holds has active members on the cluster (asked with --config's\n"
     "upstream, or --bootstrap), or the cluster cannot be asked, unless --force.\n"
     "With --config and a remote, the restored offsets take the newest generation\n"
     "the remote holds for their partitions, so they supersede what is there.\n"
     "  --bootstrap HOST:PORT,...  the cluster to ask (default: --config's upstream)\n"
     "  --force                    restore even with active members\n"},
};

std::string verbHelp(const Verb& v) {
  std::string out = std::string("Usage: tidemark checkpoints ") + v.name +
                    (*v.operands ? " " : "") + v.operands +
                    (v.online ? " (--store PATH | --config FILE | --admin URL) [--json]\n"
                              : " (--store PATH | --config FILE)\n");
  out += std::string("\n") + v.about + "\n";
  out +=
      "  --store PATH       the store file (the sidecar's store.path)\n"
      "  --config FILE      a sidecar config file: its store.path\n";
  if (v.online) {
    out +=
        "  --admin URL        a running sidecar's HTTP API instead, e.g. http://127.0.0.1:8770\n"
        "  --token-file FILE  the bearer token for --admin (the sidecar's http.token_file)\n"
        "  --json             print JSON instead of a table\n";
  }
  return out;
}

const Verb* findVerb(const std::string& name) {
  for (const Verb& v : kVerbs) {
    if (name == v.name) return &v;
  }
  return nullptr;
}

// Errors are one line: a multi-line cause (none is expected) is folded.
std::string oneLine(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

int usageError(const std::string& message, const Verb* verb) {
  std::fprintf(stderr, "tidemark: %s (see 'tidemark checkpoints%s%s --help')\n",
               oneLine(message).c_str(), verb ? " " : "", verb ? verb->name : "");
  return kExitUsage;
}

int runtimeError(const Status& s) {
  std::fprintf(stderr, "tidemark: %s\n", oneLine(s.message()).c_str());
  return kExitRuntime;
}

// ---------------------------------------------------------------- formatting

std::string utcTime(int64_t ms) {
  const std::time_t secs = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", date, static_cast<int>(((ms % 1000) + 1000) % 1000));
  return out;
}

std::string partitionText(const store::v1::PartitionKey& p) {
  return p.group() + "/" + p.topic() + "/" + std::to_string(p.partition());
}

// Columns padded to their widest cell; the columns in `right` right-aligned.
class Table {
 public:
  Table(std::vector<std::string> header, std::vector<size_t> right)
      : rows_{std::move(header)}, right_(std::move(right)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void print(size_t indent = 2) const {
    std::vector<size_t> width(rows_[0].size(), 0);
    for (const auto& row : rows_) {
      for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
    }
    for (const auto& row : rows_) {
      std::string line(indent, ' ');
      for (size_t i = 0; i < row.size(); ++i) {
        const std::string pad(width[i] - row[i].size(), ' ');
        const bool right = std::find(right_.begin(), right_.end(), i) != right_.end();
        line += right ? pad + row[i] : row[i] + (i + 1 < row.size() ? pad : "");
        if (i + 1 < row.size()) line += "  ";
      }
      std::printf("%s\n", line.c_str());
    }
  }

 private:
  std::vector<std::vector<std::string>> rows_;
  std::vector<size_t> right_;
};

// ---------------------------------------------------------------- list, show, diff

int runList(Source& source, bool as_json) {
  auto all = source.list();
  if (!all.isOk()) return runtimeError(all.status());
  if (as_json) {
    json list = json::array();
    for (const Summary& s : *all) list.push_back(summaryJson(s));
    std::printf("%s\n", json({{"checkpoints", list}}).dump(2).c_str());
    return kExitOk;
  }
  if (all->empty()) return std::printf("no checkpoints\n"), kExitOk;
  Table t({"ID", "CREATED (UTC)", "TRIGGER", "PARTITIONS", "STATE KEYS", "STATE BYTES"}, {3, 4, 5});
  for (const Summary& s : *all) {
    t.add({std::to_string(s.id), utcTime(s.created_at_ms), s.trigger, std::to_string(s.partitions),
           std::to_string(s.state_keys), humanBytes(s.state_bytes)});
  }
  t.print(0);
  return kExitOk;
}

bool anyScoped(const Manifest& m) {
  return std::any_of(m.state().begin(), m.state().end(),
                     [](const StateRef& s) { return s.has_partition(); });
}

std::string metadataText(const PartitionOffset& o) {
  return o.has_metadata() ? json(o.metadata()).dump() : "-";
}

void printShow(const Manifest& m) {
  const Summary s = summaryOf(m);
  std::printf("Checkpoint %llu\n  created  %s\n  trigger  %s\n  job      %s\n\n",
              static_cast<unsigned long long>(m.id()), utcTime(m.created_at_ms()).c_str(),
              m.trigger().c_str(), m.job_id().c_str());
  std::printf("Offsets: %d partition%s\n", m.offsets_size(), m.offsets_size() == 1 ? "" : "s");
  if (m.offsets_size() > 0) {
    Table t({"GROUP", "TOPIC", "PARTITION", "OFFSET", "LEADER EPOCH", "METADATA"}, {2, 3, 4});
    for (const auto& o : m.offsets()) {
      t.add({o.key().group(), o.key().topic(), std::to_string(o.key().partition()),
             std::to_string(o.offset()), std::to_string(o.leader_epoch()), metadataText(o)});
    }
    t.print();
  }
  std::printf("\nState: %d key%s, %s\n", m.state_size(), m.state_size() == 1 ? "" : "s",
              humanBytes(s.state_bytes).c_str());
  if (m.state_size() == 0) return;
  const bool scoped = anyScoped(m);
  Table t(scoped ? std::vector<std::string>{"PARTITION", "KEY", "SIZE", "SHA256", "CONTENT TYPE"}
                 : std::vector<std::string>{"KEY", "SIZE", "SHA256", "CONTENT TYPE"},
          {scoped ? size_t{2} : size_t{1}});
  for (const auto& ref : m.state()) {
    std::vector<std::string> row = {ref.key(), std::to_string(ref.size()), toHex(ref.sha256()),
                                    ref.content_type()};
    if (scoped) row.insert(row.begin(), ref.has_partition() ? partitionText(ref.partition()) : "-");
    t.add(std::move(row));
  }
  t.print();
}

int runShow(Source& source, std::optional<uint64_t> id, bool as_json) {
  auto m = resolve(source, id);
  if (!m.isOk()) return runtimeError(m.status());
  if (as_json) {
    std::printf("%s\n", detailJson(*m).dump(2).c_str());
  } else {
    printShow(*m);
  }
  return kExitOk;
}

// What differs between two checkpoints, keyed as the checkpoints key them:
// offsets by partition, state by (partition scope, key).
struct Diff {
  using PartitionId = std::tuple<std::string, std::string, int32_t>;
  using StateId = std::tuple<bool, std::string, std::string, int32_t, std::string>;
  std::map<PartitionId, std::pair<const PartitionOffset*, const PartitionOffset*>> offsets;
  std::map<StateId, std::pair<const StateRef*, const StateRef*>> state;
  int unchanged_offsets = 0;
  int unchanged_state = 0;
};

bool sameOffset(const PartitionOffset& a, const PartitionOffset& b) {
  return a.offset() == b.offset() && a.leader_epoch() == b.leader_epoch() &&
         a.has_metadata() == b.has_metadata() && a.metadata() == b.metadata();
}

bool sameState(const StateRef& a, const StateRef& b) {
  return a.sha256() == b.sha256() && a.content_type() == b.content_type();
}

// Leaves only what changed, added or removed; returns how many were equal.
template <typename Map, typename Same>
int dropUnchanged(Map& entries, Same same) {
  int unchanged = 0;
  std::erase_if(entries, [&](const auto& e) {
    const auto& [a, b] = e.second;
    const bool equal = a && b && same(*a, *b);
    unchanged += equal;
    return equal;
  });
  return unchanged;
}

Diff diffOf(const Manifest& from, const Manifest& to) {
  Diff d;
  auto pid = [](const PartitionOffset& o) {
    return Diff::PartitionId{o.key().group(), o.key().topic(), o.key().partition()};
  };
  auto sid = [](const StateRef& s) {
    return Diff::StateId{s.has_partition(), s.partition().group(), s.partition().topic(),
                         s.partition().partition(), s.key()};
  };
  for (const auto& o : from.offsets()) d.offsets[pid(o)].first = &o;
  for (const auto& o : to.offsets()) d.offsets[pid(o)].second = &o;
  for (const auto& s : from.state()) d.state[sid(s)].first = &s;
  for (const auto& s : to.state()) d.state[sid(s)].second = &s;
  d.unchanged_offsets = dropUnchanged(d.offsets, sameOffset);
  d.unchanged_state = dropUnchanged(d.state, sameState);
  return d;
}

json diffJson(const Manifest& from, const Manifest& to, const Diff& d) {
  json offsets = {{"changed", json::array()},
                  {"added", json::array()},
                  {"removed", json::array()},
                  {"unchanged", d.unchanged_offsets}};
  for (const auto& [id, change] : d.offsets) {
    const auto& [a, b] = change;
    if (!a) offsets["added"].push_back(offsetJson(*b));
    if (!b) offsets["removed"].push_back(offsetJson(*a));
    if (!a || !b) continue;
    json e = partitionJson(a->key());
    for (auto [name, o] : {std::pair{"from", a}, std::pair{"to", b}}) {
      e[name] = {{"offset", o->offset()}, {"leader_epoch", o->leader_epoch()}};
      e[name]["metadata"] = o->has_metadata() ? json(o->metadata()) : json(nullptr);
    }
    e["delta"] = b->offset() - a->offset();
    offsets["changed"].push_back(e);
  }
  json state = {{"changed", json::array()},
                {"added", json::array()},
                {"removed", json::array()},
                {"unchanged", d.unchanged_state}};
  for (const auto& [id, change] : d.state) {
    const auto& [a, b] = change;
    if (!a) state["added"].push_back(stateJson(*b));
    if (!b) state["removed"].push_back(stateJson(*a));
    if (!a || !b) continue;
    json e = {{"key", a->key()}};
    if (a->has_partition()) e["partition"] = partitionJson(a->partition());
    for (auto [name, s] : {std::pair{"from", a}, std::pair{"to", b}}) {
      e[name] = {
          {"size", s->size()}, {"sha256", toHex(s->sha256())}, {"content_type", s->content_type()}};
    }
    state["changed"].push_back(e);
  }
  return {{"from", summaryJson(summaryOf(from))},
          {"to", summaryJson(summaryOf(to))},
          {"offsets", offsets},
          {"state", state}};
}

std::string signedText(int64_t n) { return (n >= 0 ? "+" : "") + std::to_string(n); }

void printOffsetDiff(const Diff& d) {
  int changed = 0, added = 0, removed = 0;
  Table t({"GROUP", "TOPIC", "PARTITION", "FROM", "TO", "DELTA"}, {2, 3, 4});
  for (const auto& [id, change] : d.offsets) {
    const auto& [a, b] = change;
    const auto& key = (a ? a : b)->key();
    std::string delta;
    if (!a) {
      ++added;
      delta = "new";
    } else if (!b) {
      ++removed;
      delta = "gone";
    } else {
      ++changed;
      delta = signedText(b->offset() - a->offset());
      if (a->leader_epoch() != b->leader_epoch()) {
        delta += ", epoch " + std::to_string(a->leader_epoch()) + " -> " +
                 std::to_string(b->leader_epoch());
      }
      if (a->has_metadata() != b->has_metadata() || a->metadata() != b->metadata()) {
        delta += ", metadata " + metadataText(*a) + " -> " + metadataText(*b);
      }
    }
    t.add({key.group(), key.topic(), std::to_string(key.partition()),
           a ? std::to_string(a->offset()) : "-", b ? std::to_string(b->offset()) : "-", delta});
  }
  std::printf("Offsets: %d changed, %d added, %d removed, %d unchanged\n", changed, added, removed,
              d.unchanged_offsets);
  if (!d.offsets.empty()) t.print();
}

void printStateDiff(const Diff& d, bool scoped) {
  int changed = 0, added = 0, removed = 0;
  auto hash = [](const StateRef* s) { return toHex(s->sha256()).substr(0, 12); };
  Table t(scoped ? std::vector<std::string>{"CHANGE", "PARTITION", "KEY", "SIZE", "SHA256"}
                 : std::vector<std::string>{"CHANGE", "KEY", "SIZE", "SHA256"},
          {});
  for (const auto& [id, change] : d.state) {
    const auto& [a, b] = change;
    const StateRef& ref = a ? *a : *b;
    std::vector<std::string> row;
    if (!a) {
      ++added;
      row = {"added", ref.key(), humanBytes(b->size()), hash(b)};
    } else if (!b) {
      ++removed;
      row = {"removed", ref.key(), humanBytes(a->size()), hash(a)};
    } else {
      ++changed;
      row = {"changed", ref.key(), humanBytes(a->size()) + " -> " + humanBytes(b->size()),
             hash(a) + " -> " + hash(b)};
      if (a->content_type() != b->content_type()) {
        row[3] += " (content type " + a->content_type() + " -> " + b->content_type() + ")";
      }
    }
    if (scoped)
      row.insert(row.begin() + 1, ref.has_partition() ? partitionText(ref.partition()) : "-");
    t.add(std::move(row));
  }
  std::printf("State: %d added, %d removed, %d changed, %d unchanged\n", added, removed, changed,
              d.unchanged_state);
  if (!d.state.empty()) t.print();
}

int runDiff(Source& source, std::optional<uint64_t> id1, std::optional<uint64_t> id2,
            bool as_json) {
  auto from = resolve(source, id1);
  if (!from.isOk()) return runtimeError(from.status());
  auto to = resolve(source, id2);
  if (!to.isOk()) return runtimeError(to.status());
  const Diff d = diffOf(*from, *to);
  if (as_json) return std::printf("%s\n", diffJson(*from, *to, d).dump(2).c_str()), kExitOk;
  const double seconds = static_cast<double>(to->created_at_ms() - from->created_at_ms()) / 1000;
  std::printf("Checkpoint %llu -> %llu (%s -> %s, %+.3f s)\n\n",
              static_cast<unsigned long long>(from->id()),
              static_cast<unsigned long long>(to->id()), utcTime(from->created_at_ms()).c_str(),
              utcTime(to->created_at_ms()).c_str(), seconds);
  printOffsetDiff(d);
  std::printf("\n");
  printStateDiff(d, anyScoped(*from) || anyScoped(*to));
  return kExitOk;
}

// ---------------------------------------------------------------- dispatch

// The flags and operands `v` takes; an error is a usage error.
Status checkUsage(const Args& args, const Verb& v, const std::vector<std::string>& operands) {
  const std::string name = std::string("checkpoints ") + v.name;
  if (operands.size() < v.operand_count) return invalidArgument(name + " needs " + v.operands);
  if (operands.size() > v.operand_count) {
    return invalidArgument("unexpected argument " + operands[v.operand_count]);
  }
  if (args.has("store") + args.has("config") + args.has("admin") != 1) {
    return invalidArgument(v.online ? "give one of --store, --config or --admin"
                                    : "give one of --store or --config");
  }
  if (!v.online && (args.has("admin") || args.has("json") || args.has("token-file"))) {
    return invalidArgument(name + " works on a store file: it takes --store or --config only");
  }
  if ((args.has("force") || args.has("bootstrap")) && std::string_view(v.name) != "restore") {
    return invalidArgument("--force and --bootstrap go with restore");
  }
  if (args.has("token-file") && !args.has("admin")) {
    return invalidArgument("--token-file goes with --admin");
  }
  return Status::ok();
}

// --store, or store.path from --config; nullopt once a config error is printed.
std::optional<std::string> storePath(const Args& args) {
  if (!args.has("config")) return args.get("store");
  auto config = config::loadFile(args.get("config"));
  if (!config.isOk()) {
    std::fprintf(stderr, "tidemark: config error: %s\n",
                 oneLine(config.status().message()).c_str());
    return std::nullopt;
  }
  return config->store().path();
}

int runVerb(const Args& args, const Verb& verb, const std::vector<std::string>& operands,
            const std::vector<std::optional<uint64_t>>& ids) {
  std::unique_ptr<Source> source;
  if (args.has("admin")) {
    auto url = config::parseHttpUrl(args.get("admin"));
    if (!url.isOk()) return usageError("--admin: " + url.status().message(), &verb);
    std::string token;
    if (args.has("token-file")) {
      auto t = readTokenFile(args.get("token-file"));
      if (!t.isOk()) return runtimeError(t.status());
      token = *t;
    }
    source = std::make_unique<AdminSource>(*url, token);
  } else {
    std::optional<std::string> path = storePath(args);
    if (!path) return kExitUsage;
    if (verb.name == std::string_view("import")) {
      Status s = importCheckpoint(*path, operands[0]);
      return s.isOk() ? kExitOk : runtimeError(s);
    }
    if (verb.name == std::string_view("restore")) {
      RestoreOptions options{*path, ids[0], std::nullopt, args.get("bootstrap"), args.has("force")};
      if (args.has("config")) options.config = config::loadFile(args.get("config")).value();
      Status s = restoreCheckpoint(options);
      return s.isOk() ? kExitOk : runtimeError(s);
    }
    auto reader = StoreReader::open(*path);
    if (!reader.isOk()) return runtimeError(reader.status());
    source = std::make_unique<StoreSource>(std::move(reader).value());
  }
  const std::string_view name = verb.name;
  const bool as_json = args.has("json");
  if (name == "list") return runList(*source, as_json);
  if (name == "show") return runShow(*source, ids[0], as_json);
  if (name == "diff") return runDiff(*source, ids[0], ids[1], as_json);
  // export: checkUsage admitted a store only.
  Status s = exportCheckpoint(static_cast<StoreSource&>(*source), ids[0], operands[1]);
  return s.isOk() ? kExitOk : runtimeError(s);
}

}  // namespace

int runCheckpoints(const std::vector<std::string>& argv) {
  auto args = parseArgs(argv, {{"store"},
                               {"config"},
                               {"admin"},
                               {"token-file"},
                               {"json", false},
                               {"bootstrap"},
                               {"force", false}});
  const Verb* verb = nullptr;
  if (args.isOk() && !args->positional.empty()) verb = findVerb(args->positional[0]);
  if (!args.isOk()) return usageError(args.status().message(), verb);
  if (args->has("help")) return std::printf("%s", verb ? verbHelp(*verb).c_str() : kHelp), kExitOk;
  if (args->positional.empty()) {
    return usageError("checkpoints needs a command: list, show, diff, export, import or restore",
                      nullptr);
  }
  if (!verb) {
    return usageError("unknown checkpoints command '" + args->positional[0] + "'", nullptr);
  }
  const std::vector<std::string> operands(args->positional.begin() + 1, args->positional.end());
  if (Status s = checkUsage(*args, *verb, operands); !s.isOk()) {
    return usageError(s.message(), verb);
  }
  std::vector<std::optional<uint64_t>> ids;
  for (size_t i = 0; i < verb->id_count; ++i) {
    auto id = parseId(operands[i]);
    if (!id.isOk()) return usageError(id.status().message(), verb);
    ids.push_back(*id);
  }
  return runVerb(*args, *verb, operands, ids);
}

}  // namespace tidemark::cli
