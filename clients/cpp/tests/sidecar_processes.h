#pragma once

// Test support: runs the real tidemark-embedded-kafka and `tidemark serve` as
// child processes, as tests/harness/tidemark.py does for the Python tests.
// Binaries come from $TIDEMARK_BUILD_DIR (default: <repo>/build). Ports are
// chosen free; http.listen is port 0 and the address is read from the
// sidecar's `msg=ready ... http=HOST:PORT` log line.
//
// Children get SIGKILL if the test process dies (PR_SET_PDEATHSIG), so a
// crashed test leaves nothing running. Linux only; not part of the library.

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace tidemark::test_support {

// A child process whose stdout and stderr are read line by line on threads
// (so a chatty child never blocks on a full pipe) and kept for waiting and
// for diagnostics.
class ChildProcess {
 public:
  enum Stream { kStdout = 0, kStderr = 1 };

  // Starts argv[0] with a pipe for stdin; nullptr with the reason in `why`.
  static std::unique_ptr<ChildProcess> start(const std::vector<std::string>& argv,
                                             std::string& why);
  ~ChildProcess();  // kills the child if it still runs, and reaps it

  // The first line of `stream` matching `match`, waiting for it up to
  // `timeout`; nullopt when it did not come (timeout, or the stream ended).
  std::optional<std::string> waitForLine(Stream stream,
                                         const std::function<bool(const std::string&)>& match,
                                         std::chrono::milliseconds timeout);
  void writeStdin(const std::string& text);
  // Waits for the child to exit; false when it still runs after `timeout`.
  bool waitExit(std::chrono::milliseconds timeout);
  void kill();
  // The last `n` lines of `stream`, for failure messages.
  std::string tail(Stream stream, size_t n = 20);

 private:
  ChildProcess() = default;
  void pump(Stream stream, int fd);

  pid_t pid_ = -1;
  bool reaped_ = false;
  int stdin_fd_ = -1;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> lines_[2];
  bool ended_[2] = {false, false};
  std::thread readers_[2];
};

std::string buildDir();

class EmbeddedKafka {
 public:
  // One cluster of `brokers` with `topics` ("name:partitions"); nullptr with
  // the reason in `why` when it did not come up.
  static std::unique_ptr<EmbeddedKafka> start(int brokers, const std::vector<std::string>& topics,
                                              std::string& why);
  ~EmbeddedKafka();  // "quit", then kill after 15s
  const std::string& bootstrap() const { return bootstrap_; }

 private:
  std::unique_ptr<ChildProcess> process_;
  std::string bootstrap_;
};

class Sidecar {
 public:
  // `tidemark serve` with a config in `workdir`: the harness's defaults
  // (job.id, proxy ports, store.path, http.listen 127.0.0.1:0) overridden by
  // `settings` (dotted config paths).
  static std::unique_ptr<Sidecar> start(const std::string& workdir, const std::string& upstream,
                                        const std::map<std::string, std::string>& settings,
                                        std::string& why);
  ~Sidecar();  // SIGKILL, as the harness's stop()
  // host:port of the HTTP API.
  const std::string& http() const { return http_; }

 private:
  std::unique_ptr<ChildProcess> process_;
  std::string http_;
};

// A fresh directory under $TMPDIR (or /tmp), removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace tidemark::test_support
