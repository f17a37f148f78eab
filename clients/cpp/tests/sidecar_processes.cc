#include "sidecar_processes.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>

namespace tidemark::test_support {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

#ifndef TIDEMARK_REPO_DIR
#error "TIDEMARK_REPO_DIR must name the repository root"
#endif

// A port free now on 127.0.0.1 (0 when none could be bound).
uint16_t freePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

// A base with base..base+count-1 all free, below Linux's ephemeral range
// (32768+) so no outgoing connection takes one later: the sidecar opens its
// broker listeners at base + node id lazily.
uint16_t freePortRange(int count) {
  std::mt19937 random(std::random_device{}());
  std::uniform_int_distribution<int> pick(20000, 32768 - count - 1);
  for (int attempt = 0; attempt < 200; ++attempt) {
    const int base = pick(random);
    std::vector<int> fds;
    bool all = true;
    for (int port = base; port < base + count && all; ++port) {
      const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(static_cast<uint16_t>(port));
      all = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
      fds.push_back(fd);
    }
    for (int fd : fds) ::close(fd);
    if (all) return static_cast<uint16_t>(base);
  }
  return 0;
}

// {"a.b": "v"} -> nested YAML with every scalar double-quoted (JSON strings
// are valid YAML double-quoted scalars), as the harness's _to_yaml.
std::string toYaml(const std::map<std::string, std::string>& dotted) {
  nlohmann::ordered_json tree = nlohmann::ordered_json::object();
  for (const auto& [path, value] : dotted) {
    nlohmann::ordered_json* node = &tree;
    size_t start = 0;
    for (size_t dot; (dot = path.find('.', start)) != std::string::npos; start = dot + 1) {
      node = &(*node)[path.substr(start, dot - start)];
    }
    (*node)[path.substr(start)] = value;
  }
  std::string out;
  std::function<void(const nlohmann::ordered_json&, int)> emit = [&](const auto& node, int indent) {
    for (const auto& [key, value] : node.items()) {
      out.append(static_cast<size_t>(indent), ' ').append(key).append(":");
      if (value.is_object()) {
        out.append("\n");
        emit(value, indent + 2);
      } else {
        out.append(" ").append(value.dump()).append("\n");
      }
    }
  };
  emit(tree, 0);
  return out;
}

std::string binary(const std::string& name, std::string& why) {
  const std::string path = buildDir() + "/" + name;
  if (::access(path.c_str(), X_OK) != 0) {
    why = path + " is missing: build it, or set TIDEMARK_BUILD_DIR to a build that has it";
    return "";
  }
  return path;
}

}  // namespace

std::string buildDir() {
  const char* env = std::getenv("TIDEMARK_BUILD_DIR");
  return env != nullptr && *env != '\0' ? env : std::string(TIDEMARK_REPO_DIR) + "/build";
}

// -- ChildProcess ----------------------------------------------------------------

std::unique_ptr<ChildProcess> ChildProcess::start(const std::vector<std::string>& argv,
                                                  std::string& why) {
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    why = std::string("pipe: ") + std::strerror(errno);
    return nullptr;
  }
  // Everything the child needs is prepared before fork: after it, only
  // async-signal-safe calls (the reader threads of other children exist).
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    why = std::string("fork: ") + std::strerror(errno);
    return nullptr;
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);  // the parent died before prctl
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  std::unique_ptr<ChildProcess> child(new ChildProcess());
  child->pid_ = pid;
  child->stdin_fd_ = in[1];
  child->readers_[kStdout] = std::thread([c = child.get(), fd = out[0]] { c->pump(kStdout, fd); });
  child->readers_[kStderr] = std::thread([c = child.get(), fd = err[0]] { c->pump(kStderr, fd); });
  return child;
}

ChildProcess::~ChildProcess() {
  kill();
  if (stdin_fd_ >= 0) ::close(stdin_fd_);
  for (std::thread& t : readers_) {
    if (t.joinable()) t.join();  // the pipes end once the child is gone
  }
}

void ChildProcess::pump(Stream stream, int fd) {
  std::string partial;
  char buf[8192];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    partial.append(buf, static_cast<size_t>(n));
    std::lock_guard<std::mutex> hold(mutex_);
    for (size_t lf; (lf = partial.find('\n')) != std::string::npos; partial.erase(0, lf + 1)) {
      lines_[stream].push_back(partial.substr(0, lf));
    }
    changed_.notify_all();
  }
  ::close(fd);
  std::lock_guard<std::mutex> hold(mutex_);
  if (!partial.empty()) lines_[stream].push_back(partial);
  ended_[stream] = true;
  changed_.notify_all();
}

std::optional<std::string> ChildProcess::waitForLine(
    Stream stream, const std::function<bool(const std::string&)>& match, milliseconds timeout) {
  std::unique_lock<std::mutex> hold(mutex_);
  size_t seen = 0;
  std::optional<std::string> found;
  changed_.wait_for(hold, timeout, [&] {
    for (; seen < lines_[stream].size(); ++seen) {
      if (match(lines_[stream][seen])) {
        found = lines_[stream][seen];
        return true;
      }
    }
    return ended_[stream];
  });
  return found;
}

void ChildProcess::writeStdin(const std::string& text) {
  if (stdin_fd_ < 0) return;
  const auto old = ::signal(SIGPIPE, SIG_IGN);  // the child may be gone
  [[maybe_unused]] ssize_t n = ::write(stdin_fd_, text.data(), text.size());
  ::signal(SIGPIPE, old);
}

bool ChildProcess::waitExit(milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!reaped_) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) {
      reaped_ = true;
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
    // waitpid has no timeout; exits are rare events in a test run.
    std::this_thread::sleep_for(milliseconds(20));
  }
  return true;
}

void ChildProcess::kill() {
  if (reaped_ || pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  reaped_ = true;
}

std::string ChildProcess::tail(Stream stream, size_t n) {
  std::lock_guard<std::mutex> hold(mutex_);
  const auto& lines = lines_[stream];
  std::string out;
  for (size_t i = lines.size() > n ? lines.size() - n : 0; i < lines.size(); ++i) {
    out += lines[i] + "\n";
  }
  return out;
}

// -- EmbeddedKafka -----------------------------------------------------------------

std::unique_ptr<EmbeddedKafka> EmbeddedKafka::start(int brokers,
                                                    const std::vector<std::string>& topics,
                                                    std::string& why) {
  const std::string path = binary("tidemark-embedded-kafka", why);
  if (path.empty()) return nullptr;
  std::vector<std::string> argv = {path, "--brokers", std::to_string(brokers)};
  for (const std::string& t : topics) {
    argv.push_back("--topic");
    argv.push_back(t);
  }
  std::unique_ptr<EmbeddedKafka> kafka(new EmbeddedKafka());
  kafka->process_ = ChildProcess::start(argv, why);
  if (!kafka->process_) return nullptr;
  // Its first JSON line on stdout: {"bootstrap": ..., "librdkafka": ..., "brokers": ...}.
  auto ready = kafka->process_->waitForLine(
      ChildProcess::kStdout, [](const std::string& l) { return !l.empty() && l[0] == '{'; },
      seconds(30));
  if (ready) {
    auto info = nlohmann::json::parse(*ready, nullptr, false);
    if (info.is_object() && info.contains("bootstrap") && info["bootstrap"].is_string()) {
      kafka->bootstrap_ = info["bootstrap"].get<std::string>();
      return kafka;
    }
  }
  why = "tidemark-embedded-kafka did not come up; stderr:\n" +
        kafka->process_->tail(ChildProcess::kStderr);
  return nullptr;
}

EmbeddedKafka::~EmbeddedKafka() {
  if (!process_) return;
  process_->writeStdin("quit\n");
  if (!process_->waitExit(seconds(15))) process_->kill();
}

// -- Sidecar -------------------------------------------------------------------------

std::unique_ptr<Sidecar> Sidecar::start(const std::string& workdir, const std::string& upstream,
                                        const std::map<std::string, std::string>& settings,
                                        std::string& why) {
  const std::string path = binary("tidemark", why);
  if (path.empty()) return nullptr;
  const uint16_t proxy_port = freePort();
  const uint16_t broker_base = freePortRange(16);
  if (proxy_port == 0 || broker_base == 0) {
    why = "no free ports";
    return nullptr;
  }
  std::map<std::string, std::string> config = {
      {"job.id", "it"},
      {"proxy.listen", "127.0.0.1:" + std::to_string(proxy_port)},
      {"proxy.broker_port_base", std::to_string(broker_base)},
      {"proxy.upstream.bootstrap_servers", upstream},
      {"http.listen", "127.0.0.1:0"},
      {"store.path", workdir + "/tidemark.db"},
      {"log.level", "debug"},
  };
  for (const auto& [key, value] : settings) config[key] = value;
  const std::string config_path = workdir + "/tidemark.yaml";
  std::ofstream(config_path) << toYaml(config);

  std::unique_ptr<Sidecar> sidecar(new Sidecar());
  sidecar->process_ = ChildProcess::start({path, "serve", "--config", config_path}, why);
  if (!sidecar->process_) return nullptr;
  static const std::regex kReady(R"(\bmsg=ready\b)");
  static const std::regex kHttp(R"(\bhttp=(\S+))");
  auto ready = sidecar->process_->waitForLine(
      ChildProcess::kStderr, [](const std::string& l) { return std::regex_search(l, kReady); },
      seconds(30));
  std::smatch m;
  if (ready && std::regex_search(*ready, m, kHttp)) {
    sidecar->http_ = m[1];
    return sidecar;
  }
  why = "tidemark serve did not log msg=ready; stderr:\n" +
        sidecar->process_->tail(ChildProcess::kStderr);
  return nullptr;
}

Sidecar::~Sidecar() = default;  // ~ChildProcess kills it

// -- TempDir -----------------------------------------------------------------------------

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern =
      std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/tidemark-cpp-client-XXXXXX";
  if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
}

}  // namespace tidemark::test_support
