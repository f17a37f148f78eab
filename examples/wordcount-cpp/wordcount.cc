// A stateful word count: an ordinary librdkafka C++ consumer, checkpointed by Tidemark.
//
//   tidemark-wordcount-cpp --bootstrap 127.0.0.1:19092 --http 127.0.0.1:8770 --topic words
//                          [--group wordcount] [--until '{"0": 1200, "1": 980}']
//                          [--batch 500] [-X prop=value ...]
//
// The C++ twin of examples/wordcount (confluent-kafka): same arguments, same state
// key and layout (wordcount/counts, one JSON object of word -> count, written byte
// for byte as Python's json.dumps(counts, sort_keys=True) writes it), same log
// lines and same output. Compared with a plain consumer it changes in three
// places only, marked TIDEMARK: bootstrap.servers is the sidecar; after each
// batch it PUTs its whole state (tidemark::Client::putState) and then commits its
// offsets synchronously (the commit seals that state with them); and at start and
// whenever partitions are assigned it reloads the state from the sealed view,
// which is also where the positions librdkafka fetches (OffsetFetch) come from.
// See README.md.
//
// --until (JSON: partition -> end offset) makes it stop once it has processed
// every partition up to there; it then prints its counts as JSON on stdout.
// -X sets or overrides a librdkafka consumer property. Progress goes to stderr.

#include <librdkafka/rdkafkacpp.h>
#include <tidemark/client.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <exception>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace {

using Counts = std::map<std::string, std::int64_t>;      // UTF-8 byte order = code point order
using Positions = std::map<std::int32_t, std::int64_t>;  // partition -> next offset to read

volatile std::sig_atomic_t interrupted = 0;

struct Interrupted {};

// Lines like Python's logging "%(asctime)s %(name)s: %(message)s".
void log(const std::string& message) {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm local{};
  localtime_r(&seconds, &local);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &local);
  std::fprintf(stderr, "%s,%03d wordcount: %s\n", stamp, static_cast<int>(millis), message.c_str());
}

void pause() {
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  if (interrupted) throw Interrupted{};
}

// -- JSON: flat objects of string -> integer, as Python's json module writes them ----------

// The code points of `bytes`, invalid UTF-8 sequences replaced by U+FFFD (as
// bytes.decode(errors="replace") does, one per maximal invalid prefix or byte).
std::vector<char32_t> code_points(std::string_view bytes) {
  std::vector<char32_t> out;
  for (std::size_t i = 0; i < bytes.size();) {
    const auto b = static_cast<unsigned char>(bytes[i]);
    int extra = b < 0x80           ? 0
                : (b >> 5) == 0x6  ? 1
                : (b >> 4) == 0xE  ? 2
                : (b >> 3) == 0x1E ? 3
                                   : -1;
    char32_t cp = extra == 0 ? b : extra == 1 ? b & 0x1F : extra == 2 ? b & 0x0F : b & 0x07;
    bool ok = extra >= 0 && i + static_cast<std::size_t>(extra) < bytes.size();
    for (int k = 1; ok && k <= extra; ++k) {
      const auto c = static_cast<unsigned char>(bytes[i + k]);
      ok = (c >> 6) == 0x2;
      cp = (cp << 6) | (c & 0x3F);
    }
    static constexpr char32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    ok = ok && cp >= kMin[extra < 0 ? 0 : extra] && cp <= 0x10FFFF &&
         !(cp >= 0xD800 && cp <= 0xDFFF);
    if (ok) {
      out.push_back(cp);
      i += 1 + extra;
    } else {
      out.push_back(0xFFFD);
      i += 1;
    }
  }
  return out;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// `bytes` as valid UTF-8: what Python's m.value().decode() would count, minus its crash.
std::string valid_utf8(std::string_view bytes) {
  std::string out;
  for (char32_t cp : code_points(bytes)) append_utf8(out, cp);
  return out;
}

// A JSON string as json.dumps writes it (ensure_ascii: \uXXXX, lowercase, surrogate pairs).
std::string quote(std::string_view text) {
  std::string out = "\"";
  char hex[16];
  auto escape = [&](char32_t unit) {
    std::snprintf(hex, sizeof hex, "\\u%04x", static_cast<unsigned>(unit));
    out += hex;
  };
  for (char32_t cp : code_points(text)) {
    switch (cp) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (cp >= 0x20 && cp < 0x7F) {
          out += static_cast<char>(cp);
        } else if (cp < 0x10000) {
          escape(cp);
        } else {
          escape(0xD800 + ((cp - 0x10000) >> 10));
          escape(0xDC00 + ((cp - 0x10000) & 0x3FF));
        }
    }
  }
  return out + "\"";
}

// json.dumps(object, sort_keys=True) for a map ordered by its keys' code points.
template <typename Map, typename KeyText>
std::string dumps(const Map& object, KeyText key_text) {
  std::string out = "{";
  for (const auto& [key, value] : object) {
    if (out.size() > 1) out += ", ";
    out += quote(key_text(key)) + ": " + std::to_string(value);
  }
  return out + "}";
}

std::string dumps(const Counts& counts) {
  return dumps(counts, [](const std::string& k) { return k; });
}

std::string dumps(const Positions& positions) {
  return dumps(positions, [](std::int32_t p) { return std::to_string(p); });
}

// Parses {"key": integer, ...}; throws std::runtime_error on anything else.
class FlatObjectParser {
 public:
  explicit FlatObjectParser(std::string_view text) : text_(text) {}

  std::vector<std::pair<std::string, std::int64_t>> parse() {
    std::vector<std::pair<std::string, std::int64_t>> out;
    expect('{');
    if (peek() == '}') {
      ++pos_;
    } else {
      while (true) {
        std::string key = string();
        expect(':');
        out.emplace_back(std::move(key), integer());
        const char c = next();
        if (c == '}') break;
        if (c != ',') fail("',' or '}'");
      }
    }
    if (peek() != '\0') fail("the end");
    return out;
  }

 private:
  [[noreturn]] void fail(const char* wanted) {
    throw std::runtime_error("expected " + std::string(wanted) + " at byte " +
                             std::to_string(pos_) + " of " + std::string(text_));
  }
  char peek() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
    return pos_ < text_.size() ? text_[pos_] : '\0';
  }
  char next() {
    const char c = peek();
    if (c != '\0') ++pos_;
    return c;
  }
  void expect(char c) {
    if (next() != c) fail(std::string(1, c).c_str());
  }
  unsigned hex4() {
    if (pos_ + 4 > text_.size()) fail("4 hex digits");
    unsigned value = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[pos_++];
      value <<= 4;
      if (c >= '0' && c <= '9')
        value |= c - '0';
      else if (c >= 'a' && c <= 'f')
        value |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        value |= c - 'A' + 10;
      else
        fail("a hex digit");
    }
    return value;
  }
  std::string string() {
    expect('"');
    std::string out;
    while (true) {
      if (pos_ >= text_.size()) fail("'\"'");
      const char c = text_[pos_++];
      if (c == '"') return valid_utf8(out);
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= text_.size()) fail("an escape");
      switch (const char e = text_[pos_++]) {
        case '"':
        case '\\':
        case '/':
          out += e;
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          char32_t cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00 && text_.substr(pos_, 2) == "\\u") {
            const std::size_t mark = pos_;
            pos_ += 2;
            const unsigned low = hex4();
            if (low >= 0xDC00 && low < 0xE000)
              cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            else
              pos_ = mark;
          }
          append_utf8(out, cp >= 0xD800 && cp < 0xE000 ? 0xFFFD : cp);
          break;
        }
        default:
          fail("an escape");
      }
    }
  }
  std::int64_t integer() {
    peek();
    const std::size_t start = pos_;
    if (pos_ < text_.size() && text_[pos_] == '-') ++pos_;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
    if (pos_ == start || text_[pos_ - 1] == '-') fail("an integer");
    return std::stoll(std::string(text_.substr(start, pos_ - start)));
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

// -- the sidecar's state API ------------------------------------------------------------

// GET/PUT of one state key on the sidecar's HTTP API, retried while the sidecar is away.
class StateClient {
 public:
  StateClient(const std::string& address, std::string key) : key_(std::move(key)) {
    tidemark::ClientOptions options;
    options.base_url = address.rfind("http://", 0) == 0 ? address : "http://" + address;
    options.timeout = std::chrono::seconds(10);
    client_ = std::make_unique<tidemark::Client>(options);
  }

  // The sealed state: what was committed together with the group's offsets.
  Counts load() {
    std::optional<tidemark::State> state = retried("GET", [&] { return client_->getState(key_); });
    Counts counts;
    if (state) {
      for (auto& [word, n] : FlatObjectParser(state->value).parse()) counts[word] = n;
    }
    return counts;
  }

  void save(const Counts& counts) {
    tidemark::PutOptions options;
    options.content_type = "application/json";
    const std::string body = dumps(counts);
    retried("PUT", [&] { return client_->putState(key_, body, options); });
  }

 private:
  // Retries a transport failure (sidecar restarting) or a 5xx; a 4xx is thrown.
  template <typename Call>
  auto retried(const char* method, Call call) -> decltype(call()) {
    while (true) {
      try {
        return call();
      } catch (const tidemark::ServerError& e) {
        log(std::string(method) + " answered " + std::to_string(e.status()) + "; retrying");
      } catch (const tidemark::TransportError& e) {
        log(std::string(method) + " failed (" + e.what() + "); retrying");  // sidecar restarting
      }
      pause();
    }
  }

  std::string key_;
  std::unique_ptr<tidemark::Client> client_;
};

// -- the consumer ------------------------------------------------------------------------

struct TopicPartitions {  // owns what RdKafka::TopicPartition::create returns
  std::vector<RdKafka::TopicPartition*> list;
  TopicPartitions() = default;
  TopicPartitions(const TopicPartitions&) = delete;
  TopicPartitions& operator=(const TopicPartitions&) = delete;
  ~TopicPartitions() { RdKafka::TopicPartition::destroy(list); }
};

std::string partition_list(const std::vector<RdKafka::TopicPartition*>& partitions) {
  std::vector<std::int32_t> numbers;
  for (const auto* tp : partitions) numbers.push_back(tp->partition());
  std::sort(numbers.begin(), numbers.end());
  std::string out = "[";
  for (std::size_t i = 0; i < numbers.size(); ++i) {
    out += (i ? ", " : "") + std::to_string(numbers[i]);
  }
  return out + "]";
}

// TIDEMARK: librdkafka resumes assigned partitions from their committed offsets
// (OffsetFetch, answered from the sealed view): take the state sealed with them.
// What was counted since the last commit is replayed.
class Reload : public RdKafka::RebalanceCb {
 public:
  Reload(StateClient& state, Counts& counts, Positions& positions)
      : state_(state), counts_(counts), positions_(positions) {}

  // Bumped at every assignment: a batch being gathered across one is dropped
  // (its messages come again from the sealed offsets).
  std::uint64_t generation = 0;

  // What the callback could not do (interrupted, the state unreadable): thrown by
  // rethrow() in the consume loop, as no exception may cross librdkafka's C frames.
  std::exception_ptr failure;
  void rethrow() {
    if (failure) std::rethrow_exception(std::exchange(failure, nullptr));
  }

  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override {
    try {
      handle(consumer, err, partitions);
    } catch (...) {
      failure = std::current_exception();
      if (err != RdKafka::ERR__ASSIGN_PARTITIONS) return;
      if (consumer->rebalance_protocol() == "COOPERATIVE") {
        delete consumer->incremental_assign(partitions);
      } else {
        consumer->assign(partitions);
      }
    }
  }

 private:
  void handle(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
              std::vector<RdKafka::TopicPartition*>& partitions) {
    const bool cooperative = consumer->rebalance_protocol() == "COOPERATIVE";
    if (err != RdKafka::ERR__ASSIGN_PARTITIONS) {  // revoked (or an error): let them go
      if (cooperative) {
        delete consumer->incremental_unassign(partitions);
      } else {
        consumer->unassign();
      }
      return;
    }
    counts_ = state_.load();
    positions_.clear();
    TopicPartitions committed;  // copies: the assignment itself stays as librdkafka gave it
    for (const auto* tp : partitions) {
      committed.list.push_back(RdKafka::TopicPartition::create(tp->topic(), tp->partition()));
    }
    while (true) {
      RdKafka::ErrorCode e = consumer->committed(committed.list, 10000);
      for (const auto* tp : committed.list) {
        if (e == RdKafka::ERR_NO_ERROR) e = tp->err();
      }
      if (e == RdKafka::ERR_NO_ERROR) break;
      log("fetching the committed offsets failed (" + RdKafka::err2str(e) + "); retrying");
      pause();
    }
    for (const auto* tp : committed.list) {
      if (tp->offset() >= 0) positions_[tp->partition()] = tp->offset();
    }
    const std::int64_t words =
        std::accumulate(counts_.begin(), counts_.end(), std::int64_t{0},
                        [](std::int64_t sum, const auto& entry) { return sum + entry.second; });
    log("assigned " + partition_list(partitions) + ": state holds " + std::to_string(words) +
        " words; committed offsets " + dumps(positions_));
    ++generation;
    if (cooperative) {
      delete consumer->incremental_assign(partitions);
    } else {
      consumer->assign(partitions);
    }
  }

  StateClient& state_;
  Counts& counts_;
  Positions& positions_;
};

struct Args {
  std::string bootstrap, http, topic, group = "wordcount";
  std::optional<std::string> until;
  long batch = 500;
  std::vector<std::string> properties;
};

constexpr const char* kUsage =
    "usage: tidemark-wordcount-cpp --bootstrap HOST:PORT --http HOST:PORT --topic TOPIC\n"
    "                              [--group wordcount] [--until JSON] [--batch 500]\n"
    "                              [-X PROP=VALUE ...]\n"
    "A stateful word count: an ordinary librdkafka C++ consumer, checkpointed by Tidemark.\n"
    "  --bootstrap  the sidecar's Kafka address\n"
    "  --http       the sidecar's HTTP address\n"
    "  --until      JSON {\"partition\": end offset, ...}: stop there, print the counts\n"
    "  --batch      messages per commit, at most\n"
    "  -X           librdkafka consumer property\n";

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "%stidemark-wordcount-cpp: error: %s\n", kUsage, message.c_str());
  std::exit(2);
}

Args parse_args(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i], value;
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (arg.rfind("-X", 0) == 0 && arg.size() > 2) {  // -Xprop=value
      value = arg.substr(2);
      arg = "-X";
    } else if (const auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg.resize(eq);
    } else {
      if (i + 1 >= argc) usage_error("argument " + arg + ": expected one argument");
      value = argv[++i];
    }
    if (arg == "--bootstrap")
      args.bootstrap = value;
    else if (arg == "--http")
      args.http = value;
    else if (arg == "--topic")
      args.topic = value;
    else if (arg == "--group")
      args.group = value;
    else if (arg == "--until")
      args.until = value;
    else if (arg == "--batch") {
      try {
        args.batch = std::stol(value);
      } catch (const std::exception&) {
        args.batch = 0;
      }
      if (args.batch <= 0) usage_error("argument --batch: a positive integer, not " + value);
    } else if (arg == "-X") {
      if (value.find('=') == std::string::npos)
        usage_error("argument -X: PROP=VALUE, not " + value);
      args.properties.push_back(value);
    } else {
      usage_error("unrecognized argument " + arg);
    }
  }
  if (args.bootstrap.empty() || args.http.empty() || args.topic.empty()) {
    usage_error("the following arguments are required: --bootstrap, --http, --topic");
  }
  return args;
}

void on_signal(int) { interrupted = 1; }

int run(const Args& args) {
  std::optional<Positions> until;  // partition -> end offset
  if (args.until) {
    try {
      until.emplace();
      for (auto& [p, end] : FlatObjectParser(*args.until).parse()) (*until)[std::stoi(p)] = end;
    } catch (const std::exception& e) {
      usage_error(std::string("argument --until: ") + e.what());
    }
  }

  StateClient state(args.http, "wordcount/counts");
  Counts counts = state.load();  // TIDEMARK: start from the sealed state
  Positions positions;           // partition -> next offset to read
  Reload reload(state, counts, positions);

  std::string err;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::vector<std::pair<std::string, std::string>> settings = {
      {"bootstrap.servers", args.bootstrap},  // TIDEMARK: the sidecar
      {"group.id", args.group},
      {"enable.auto.commit", "false"},
      {"auto.offset.reset", "earliest"},
      {"session.timeout.ms", "6000"},
      {"heartbeat.interval.ms", "500"},
  };
  for (const std::string& prop : args.properties) {
    const auto eq = prop.find('=');
    settings.emplace_back(prop.substr(0, eq), prop.substr(eq + 1));
  }
  for (const auto& [name, value] : settings) {
    if (conf->set(name, value, err) != RdKafka::Conf::CONF_OK) usage_error(name + ": " + err);
  }
  if (conf->set("rebalance_cb", &reload, err) != RdKafka::Conf::CONF_OK) usage_error(err);
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!consumer) {
    log("cannot create the consumer: " + err);
    return 1;
  }
  if (RdKafka::ErrorCode e = consumer->subscribe({args.topic}); e != RdKafka::ERR_NO_ERROR) {
    log("cannot subscribe: " + RdKafka::err2str(e));
    return 1;
  }

  // TIDEMARK: PUT the whole state, then commit the position of every partition; the
  // commit seals the two together. A failed commit is retried, state first, before
  // anything else is consumed, so no batch is ever counted twice.
  auto commit = [&] {
    while (true) {
      state.save(counts);
      TopicPartitions offsets;
      for (const auto& [p, offset] : positions) {
        offsets.list.push_back(RdKafka::TopicPartition::create(args.topic, p, offset));
      }
      RdKafka::ErrorCode e = consumer->commitSync(offsets.list);
      for (const auto* tp : offsets.list) {
        if (e == RdKafka::ERR_NO_ERROR) e = tp->err();
      }
      if (e == RdKafka::ERR_NO_ERROR) return;
      log("commit failed (" + RdKafka::err2str(e) + "); retrying with the same state and offsets");
      pause();
    }
  };

  auto finished = [&] {
    if (!until) return false;
    for (const auto& [p, end] : *until) {
      const auto at = positions.find(p);
      if ((at == positions.end() ? 0 : at->second) < end) return false;
    }
    return true;
  };

  int code = 0;
  try {
    while (!finished()) {
      if (interrupted) throw Interrupted{};
      // Up to --batch messages in at most 0.5 s, as confluent-kafka's consume(n, 0.5).
      std::vector<std::unique_ptr<RdKafka::Message>> batch;
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
      while (static_cast<long>(batch.size()) < args.batch && !interrupted) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                              deadline - std::chrono::steady_clock::now())
                              .count();
        if (left <= 0) break;
        const std::uint64_t generation = reload.generation;
        std::unique_ptr<RdKafka::Message> m(consumer->consume(static_cast<int>(left)));
        reload.rethrow();
        if (reload.generation != generation && !batch.empty()) {
          batch.clear();  // gathered before the reload: it comes again from the sealed offsets
        }
        if (m->err() == RdKafka::ERR__TIMED_OUT) continue;
        if (m->err() != RdKafka::ERR_NO_ERROR) {
          log("consumer error: " + m->errstr());
          continue;
        }
        batch.push_back(std::move(m));
      }
      if (batch.empty()) continue;
      log("batch of " + std::to_string(batch.size()) + " messages");
      for (const auto& m : batch) {
        const std::string word = valid_utf8(
            std::string_view(static_cast<const char*>(m->payload()), m->payload() ? m->len() : 0));
        ++counts[word];
        positions[m->partition()] = m->offset() + 1;
      }
      commit();
    }
  } catch (const Interrupted&) {
    log("interrupted: what was counted since the last commit will be counted again");
    code = 130;
  } catch (const std::exception& e) {  // a 4xx from the sidecar, or a state we cannot read
    log(std::string("failed: ") + e.what());
    code = 1;
  }
  consumer->close();
  if (code == 0) {
    std::printf("%s\n", dumps(counts).c_str());
    std::fflush(stdout);
  }
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse_args(argc, argv);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  try {
    return run(args);
  } catch (const Interrupted&) {  // while loading the state at start
    log("interrupted");
    return 130;
  } catch (const std::exception& e) {
    log(std::string("failed: ") + e.what());
    return 1;
  }
}
