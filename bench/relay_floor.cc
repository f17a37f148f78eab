// tidemark-relay-floor: what one user-space TCP relay costs on this machine,
// whatever the relay does. Measures the floor any proxy pays (an extra process
// hop: two more wakeups per round trip, one more pair of kernel copies per byte)
// so the sidecar's figures in docs/benchmarks.md can be judged against it.
// Plain POSIX/Linux; driven by bench/proxy_bench.py, usable on its own.
//
//   tidemark-relay-floor pingpong [--iterations N] [--warmup W] [--size B]
//                                 [--reps R] [--relays LIST] [--both | --direct | --via-relay]
//   tidemark-relay-floor bulk     [--mib M] [--chunk-kib K] [--reps R]
//                                 [--relays LIST] [--both | --direct | --via-relay]
//
// LIST: comma-separated relays, each `rw` or `splice`, optionally `:KIB` for its
// read size (default 256, the sidecar's read chunk): e.g. rw,splice,rw:1024.
// Defaults: pingpong rw, bulk rw,splice.
//
// Every run forks fresh processes, each role in its own, on 127.0.0.1:
// - server: accepts one connection. pingpong: echoes whatever arrives
//   (a B-byte request gets a B-byte reply). bulk: reads and discards with
//   256 KiB reads; at EOF replies with the 8-byte count of bytes it received.
// - relay (relayed paths only): accepts one connection, connects to the
//   server, and copies both ways. Level-triggered epoll, non-blocking sockets,
//   TCP_NODELAY on both, one read of up to 256 KiB (or :KIB) per readiness
//   event, written out at once; a direction stops reading while its bytes are
//   not all written (write readiness armed until they are); EOF is passed on
//   as shutdown(SHUT_WR).
//   `rw` copies through a user-space buffer (read/send); `splice` moves the
//   bytes through a pipe of that size with splice(2), no copy into user space.
// - client: pingpong: W warm-up then N timed round trips of one B-byte
//   message, one in flight; p50/p90/p99/max µs. bulk: M MiB in K KiB blocking
//   writes, then shutdown(SHUT_WR) and wait for the server's count; the clock
//   runs from the first write to that reply, so it covers every byte having
//   reached the server. MB/s are 10^6 bytes/s.
// CPU time of each process is its utime+stime (wait4's rusage), whole lifetime
// (connection setup and warm-up included). Per run also, machine-wide from
// /proc/stat: irq+softirq time (charged to no process; loopback TCP does much
// of its work there) and user+system time beyond the run's own processes
// (other_cpu_s: anything else running on the machine).
//
// With --both (the default) each repetition runs the direct path and every
// relay, adjacent in time; the order flips every repetition. Reported: medians
// per path, and per relay the median over repetitions of relay-direct (latency)
// or relay/direct (throughput) within a repetition. One JSON object on stdout;
// progress on stderr. Exit code 0 ok, 1 failure, 2 usage.

#include "bench/latency_summary.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMiB = size_t{1} << 20;
constexpr size_t kDefaultRelayKib =
    256;  // the sidecar's read chunk (sidecar/event/plain_stream.cc)
constexpr size_t kServerRead = 256 << 10;

[[noreturn]] void usage(const std::string& message) {
  std::fprintf(stderr,
               "tidemark-relay-floor: %s\n"
               "usage: tidemark-relay-floor pingpong [--iterations N] [--warmup W] [--size B] "
               "[--reps R] [--relays rw,splice,rw:KIB] [--both|--direct|--via-relay] "
               "[--timeout S]\n"
               "       tidemark-relay-floor bulk [--mib M] [--chunk-kib K] [--reps R] "
               "[--relays rw,splice,rw:KIB] [--both|--direct|--via-relay] [--timeout S]\n",
               message.c_str());
  std::exit(2);
}

// In a child: report and leave without running the parent's atexit handlers.
[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "tidemark-relay-floor[%d]: %s: %s\n", static_cast<int>(getpid()), what,
               std::strerror(errno));
  _exit(1);
}

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "tidemark-relay-floor: %s\n", message.c_str());
  std::exit(1);
}

enum class Mode { kPingpong, kBulk };

struct Options {
  Mode mode = Mode::kPingpong;
  int64_t iterations = 20000;
  int64_t warmup = 1000;
  int64_t size = 64;
  int64_t mib = 2000;
  int64_t chunk_kib = 1024;
  int64_t reps = 5;
  int64_t timeout_s = 600;  // per process, per run
  bool direct = true;
  bool relayed = true;
  std::vector<std::string> relays;  // "rw", "splice", "rw:1024", ...
};

// ------------------------------------------------------------------ sockets

void setNoDelay(int fd) {
  int one = 1;
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) die("TCP_NODELAY");
}

void setNonBlocking(int fd) {
  const int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) die("O_NONBLOCK");
}

int listenLoopback(uint16_t& port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) die("bind");
  if (listen(fd, 4) != 0) die("listen");
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) die("getsockname");
  port = ntohs(addr.sin_port);
  return fd;
}

int acceptOne(int listener) {
  int fd;
  do {
    fd = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) die("accept");
  close(listener);
  setNoDelay(fd);
  return fd;
}

int connectLoopback(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) die("connect");
  setNoDelay(fd);
  return fd;
}

// Blocking full transfers (client and server).
void writeFull(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      die("send");
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

bool readFull(int fd, void* data, size_t n) {
  char* p = static_cast<char*>(data);
  while (n > 0) {
    const ssize_t r = read(fd, p, n);
    if (r < 0) {
      if (errno == EINTR) continue;
      die("read");
    }
    if (r == 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

// ------------------------------------------------------------------ server

[[noreturn]] void runServer(int listener, Mode mode) {
  const int fd = acceptOne(listener);
  std::vector<char> buf(kServerRead);
  uint64_t total = 0;
  for (;;) {
    const ssize_t r = read(fd, buf.data(), buf.size());
    if (r < 0) {
      if (errno == EINTR) continue;
      die("server read");
    }
    if (r == 0) break;
    total += static_cast<uint64_t>(r);
    if (mode == Mode::kPingpong) writeFull(fd, buf.data(), static_cast<size_t>(r));
  }
  if (mode == Mode::kBulk) writeFull(fd, &total, sizeof total);
  close(fd);
  _exit(0);
}

// ------------------------------------------------------------------ relay

// One direction of the relay: bytes read from `from` and not yet written to `to`.
struct Flow {
  int from = -1;
  int to = -1;
  bool splice = false;
  size_t chunk = 0;       // read size (rw buffer, splice pipe)
  std::vector<char> buf;  // rw: buf[off, len) still to write
  size_t off = 0;
  size_t len = 0;
  int pipe_r = -1;  // splice: in_pipe bytes sit in the pipe
  int pipe_w = -1;
  size_t in_pipe = 0;
  bool eof = false;
  bool shut = false;

  bool pending() const { return splice ? in_pipe > 0 : off < len; }

  // Reads once if nothing is pending, then writes what is pending.
  void pump() {
    if (!pending() && !eof) {
      ssize_t r;
      if (splice) {
        r = ::splice(from, nullptr, pipe_w, nullptr, chunk, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      } else {
        r = ::read(from, buf.data(), buf.size());
      }
      if (r > 0) {
        if (splice) {
          in_pipe = static_cast<size_t>(r);
        } else {
          off = 0;
          len = static_cast<size_t>(r);
        }
      } else if (r == 0) {
        eof = true;
      } else if (errno == ECONNRESET) {
        eof = true;
      } else if (errno != EAGAIN && errno != EINTR) {
        die("relay read");
      }
    }
    if (pending()) {
      ssize_t w;
      if (splice) {
        w = ::splice(pipe_r, nullptr, to, nullptr, in_pipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      } else {
        w = ::send(to, buf.data() + off, len - off, MSG_NOSIGNAL);
      }
      if (w > 0) {
        if (splice) {
          in_pipe -= static_cast<size_t>(w);
        } else {
          off += static_cast<size_t>(w);
        }
      } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
        // The peer is gone (the client closes as soon as it has its answer).
        if (errno == EPIPE || errno == ECONNRESET) {
          eof = true;
          in_pipe = off = len = 0;
        } else {
          die("relay write");
        }
      }
    }
    if (eof && !pending() && !shut) {
      shutdown(to, SHUT_WR);  // may fail if the peer already closed; nothing left to say
      shut = true;
    }
  }
};

[[noreturn]] void runRelay(int listener, uint16_t upstream_port, bool use_splice, size_t chunk) {
  const int a = acceptOne(listener);             // client side
  const int b = connectLoopback(upstream_port);  // server side
  setNonBlocking(a);
  setNonBlocking(b);
  Flow up, down;
  up.from = down.to = a;
  up.to = down.from = b;
  for (Flow* f : {&up, &down}) {
    f->splice = use_splice;
    f->chunk = chunk;
    if (use_splice) {
      int p[2];
      if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) die("pipe2");
      if (fcntl(p[1], F_SETPIPE_SZ, static_cast<int>(chunk)) < 0) die("F_SETPIPE_SZ");
      f->pipe_r = p[0];
      f->pipe_w = p[1];
    } else {
      f->buf.resize(chunk);
    }
  }
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  // Wanted events of a socket: read while its outgoing flow has nothing pending,
  // write readiness while its incoming flow does.
  auto want = [](const Flow& out_of, const Flow& into) {
    uint32_t ev = 0;
    if (!out_of.eof && !out_of.pending()) ev |= EPOLLIN;
    if (into.pending()) ev |= EPOLLOUT;
    return ev;
  };
  uint32_t mask_a = want(up, down), mask_b = want(down, up);
  for (auto [fd, mask] : {std::pair{a, mask_a}, std::pair{b, mask_b}}) {
    epoll_event ev{};
    ev.events = mask;
    ev.data.fd = fd;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl add");
  }
  bool gone_a = false, gone_b = false;  // removed from epoll: hung up, nothing left to do
  auto update = [&](int fd, bool gone, uint32_t& current, uint32_t wanted) {
    if (gone || wanted == current) return;
    epoll_event ev{};
    ev.events = wanted;
    ev.data.fd = fd;
    if (epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) != 0) die("epoll_ctl mod");
    current = wanted;
  };
  epoll_event events[4];
  while (!(up.shut && down.shut)) {
    const int n = epoll_wait(ep, events, 4, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      const uint32_t e = events[i].events;
      Flow& out_of = fd == a ? up : down;  // flow reading from fd
      Flow& into = fd == a ? down : up;    // flow writing to fd
      if (e & (EPOLLIN | EPOLLHUP | EPOLLERR)) out_of.pump();
      if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) into.pump();
      // Hang-up and error are reported whatever the mask: stop watching a socket
      // that has nothing left to read or write, or level-triggered epoll spins.
      if ((e & (EPOLLHUP | EPOLLERR)) && out_of.eof && !into.pending()) {
        bool& gone = fd == a ? gone_a : gone_b;
        if (!gone && epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr) != 0) die("epoll_ctl del");
        gone = true;
      }
    }
    update(a, gone_a, mask_a, want(up, down));
    update(b, gone_b, mask_b, want(down, up));
    if (gone_a && gone_b) break;
  }
  close(a);
  close(b);
  _exit(0);
}

// ------------------------------------------------------------------ client

// Sent from the client process to the parent over a pipe (same binary, same layout).
struct ClientResult {
  double seconds = 0;
  uint64_t bytes = 0;
  double p50_us = 0, p90_us = 0, p99_us = 0, max_us = 0, mean_us = 0;
};

[[noreturn]] void runClient(uint16_t port, const Options& o, int result_fd) {
  const int fd = connectLoopback(port);
  ClientResult res;
  if (o.mode == Mode::kPingpong) {
    const size_t size = static_cast<size_t>(o.size);
    std::vector<char> msg(size), reply(size);
    for (size_t i = 0; i < size; ++i) msg[i] = static_cast<char>('a' + i % 26);
    std::vector<double> us;
    us.reserve(static_cast<size_t>(o.iterations));
    const auto t0 = Clock::now();
    for (int64_t i = 0; i < o.warmup + o.iterations; ++i) {
      msg[0] = static_cast<char>(i);
      const auto s = Clock::now();
      writeFull(fd, msg.data(), size);
      if (!readFull(fd, reply.data(), size)) die("server closed early");
      const auto e = Clock::now();
      if (reply[0] != msg[0]) {
        errno = EPROTO;
        die("echo mismatch");
      }
      if (i >= o.warmup) us.push_back(std::chrono::duration<double, std::micro>(e - s).count());
    }
    res.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    res.bytes = static_cast<uint64_t>(o.warmup + o.iterations) * size;
    const tidemark::bench::LatencySummary l = tidemark::bench::summarize(std::move(us));
    res.p50_us = l.p50;
    res.p90_us = l.p90;
    res.p99_us = l.p99;
    res.max_us = l.max;
    res.mean_us = l.mean;
  } else {
    const size_t chunk = static_cast<size_t>(o.chunk_kib) << 10;
    std::vector<char> buf(chunk);
    for (size_t i = 0; i < chunk; ++i) buf[i] = static_cast<char>(i * 131);
    uint64_t left = static_cast<uint64_t>(o.mib) * kMiB;
    const uint64_t sent = left;
    const auto t0 = Clock::now();
    while (left > 0) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(left, chunk));
      writeFull(fd, buf.data(), n);
      left -= n;
    }
    if (shutdown(fd, SHUT_WR) != 0) die("shutdown");
    uint64_t received = 0;
    if (!readFull(fd, &received, sizeof received)) die("no count from the server");
    res.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    if (received != sent) {
      errno = EPROTO;
      die("server count differs from bytes sent");
    }
    res.bytes = sent;
  }
  close(fd);
  const char* p = reinterpret_cast<const char*>(&res);
  size_t n = sizeof res;
  while (n > 0) {
    const ssize_t w = write(result_fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      die("result pipe");
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  _exit(0);
}

// ------------------------------------------------------------------ orchestration

struct Run {
  int rep = 0;
  std::string path;  // "direct" or a relay: "rw", "splice", "rw:1024", ...
  ClientResult r;
  double cpu_client = 0, cpu_server = 0, cpu_relay = 0;
  // Machine-wide during the run (/proc/stat): softirq+irq time, charged to no
  // process (loopback TCP does much of its work there), and user+system time of
  // processes other than the run's own (anything else on the machine).
  double softirq_s = 0;
  double other_cpu_s = 0;
};

struct StatTicks {
  double user_system = 0;  // user + nice + system
  double irq = 0;          // irq + softirq
};

StatTicks machineTicks() {
  StatTicks t;
  FILE* f = std::fopen("/proc/stat", "r");
  if (f == nullptr) return t;
  unsigned long long v[7] = {};
  const int n = std::fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                            &v[4], &v[5], &v[6]);
  std::fclose(f);
  if (n != 7) return t;
  const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  t.user_system = static_cast<double>(v[0] + v[1] + v[2]) / hz;
  t.irq = static_cast<double>(v[5] + v[6]) / hz;
  return t;
}

double cpuOf(const rusage& ru) {
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

pid_t forkOrFail() {
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = fork();
  if (pid < 0) fail(std::string("fork: ") + std::strerror(errno));
  return pid;
}

// Waits for a child; false if it did not exit 0.
bool reap(pid_t pid, double& cpu, const char* role) {
  int status = 0;
  rusage ru{};
  pid_t got;
  do {
    got = wait4(pid, &status, 0, &ru);
  } while (got < 0 && errno == EINTR);
  if (got != pid) fail(std::string("wait4: ") + std::strerror(errno));
  cpu = cpuOf(ru);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return true;
  if (WIFSIGNALED(status)) {
    std::fprintf(stderr, "tidemark-relay-floor: %s killed by signal %d%s\n", role, WTERMSIG(status),
                 WTERMSIG(status) == SIGALRM ? " (timeout)" : "");
  } else {
    std::fprintf(stderr, "tidemark-relay-floor: %s exited %d\n", role, WEXITSTATUS(status));
  }
  return false;
}

Run runOnce(const Options& o, const std::string& path, int rep) {
  const unsigned timeout = static_cast<unsigned>(o.timeout_s);
  int result_pipe[2];
  if (pipe2(result_pipe, O_CLOEXEC) != 0) fail("pipe2");
  const StatTicks before = machineTicks();

  uint16_t server_port = 0;
  const int server_listener = listenLoopback(server_port);
  const pid_t server = forkOrFail();
  if (server == 0) {
    alarm(timeout);
    close(result_pipe[0]);
    close(result_pipe[1]);
    runServer(server_listener, o.mode);
  }

  uint16_t target = server_port;
  pid_t relay = -1;
  if (path != "direct") {
    uint16_t relay_port = 0;
    const int relay_listener = listenLoopback(relay_port);
    relay = forkOrFail();
    if (relay == 0) {
      alarm(timeout);
      close(result_pipe[0]);
      close(result_pipe[1]);
      close(server_listener);
      const size_t colon = path.find(':');
      const size_t kib = colon == std::string::npos
                             ? kDefaultRelayKib
                             : static_cast<size_t>(std::stoul(path.substr(colon + 1)));
      runRelay(relay_listener, server_port, path.substr(0, colon) == "splice", kib << 10);
    }
    close(relay_listener);
    target = relay_port;
  }
  close(server_listener);

  const pid_t client = forkOrFail();
  if (client == 0) {
    alarm(timeout);
    close(result_pipe[0]);
    runClient(target, o, result_pipe[1]);
  }
  close(result_pipe[1]);

  Run run;
  run.rep = rep;
  run.path = path;
  size_t got = 0;
  char* p = reinterpret_cast<char*>(&run.r);
  while (got < sizeof run.r) {
    const ssize_t r = read(result_pipe[0], p + got, sizeof run.r - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += static_cast<size_t>(r);
  }
  close(result_pipe[0]);
  bool ok = reap(client, run.cpu_client, "client") && got == sizeof run.r;
  if (!ok) {
    // Our own children: stop them rather than wait for their timeout.
    kill(server, SIGKILL);
    if (relay > 0) kill(relay, SIGKILL);
  }
  if (relay > 0) ok = reap(relay, run.cpu_relay, "relay") && ok;
  ok = reap(server, run.cpu_server, "server") && ok;
  if (!ok) fail("run " + path + " (repetition " + std::to_string(rep) + ") failed");
  const StatTicks after = machineTicks();
  run.softirq_s = after.irq - before.irq;
  run.other_cpu_s = std::max(0.0, after.user_system - before.user_system - run.cpu_client -
                                      run.cpu_server - run.cpu_relay);
  return run;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string loadavg() {
  FILE* f = std::fopen("/proc/loadavg", "r");
  if (f == nullptr) return "unknown";
  double a = 0, b = 0, c = 0;
  const int n = std::fscanf(f, "%lf %lf %lf", &a, &b, &c);
  std::fclose(f);
  if (n != 3) return "unknown";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f / %.2f / %.2f", a, b, c);
  return buf;
}

std::string jsonList(const std::vector<double>& v, const char* fmt) {
  std::string s = "[";
  char buf[32];
  for (size_t i = 0; i < v.size(); ++i) {
    std::snprintf(buf, sizeof buf, fmt, v[i]);
    if (i > 0) s += ", ";
    s += buf;
  }
  return s + "]";
}

void report(const Options& o, const std::vector<std::string>& paths, const std::vector<Run>& runs,
            const std::string& load_before, double wall_s) {
  const bool ping = o.mode == Mode::kPingpong;
  // Units of work a process's CPU time is divided by.
  const double round_trips = static_cast<double>(o.warmup + o.iterations);
  const double mib = static_cast<double>(o.mib);
  auto per = [&](double cpu_s) { return ping ? cpu_s * 1e6 / round_trips : cpu_s * 1e3 / mib; };
  auto of = [&](const std::string& path) {
    std::vector<const Run*> v;
    for (const Run& r : runs) {
      if (r.path == path) v.push_back(&r);
    }
    return v;
  };
  auto med = [](const std::vector<const Run*>& v, auto field) {
    std::vector<double> x;
    for (const Run* r : v) x.push_back(field(*r));
    return median(x);
  };
  const char* cpu_unit = ping ? "cpu_us_per_round_trip" : "cpu_ms_per_mib";

  std::printf("{\"mode\": \"%s\", ", ping ? "pingpong" : "bulk");
  if (ping) {
    std::printf("\"size\": %lld, \"iterations\": %lld, \"warmup\": %lld, ",
                static_cast<long long>(o.size), static_cast<long long>(o.iterations),
                static_cast<long long>(o.warmup));
  } else {
    std::printf("\"mib\": %lld, \"chunk_kib\": %lld, ", static_cast<long long>(o.mib),
                static_cast<long long>(o.chunk_kib));
  }
  double max_other = 0;
  for (const Run& r : runs) max_other = std::max(max_other, r.other_cpu_s);
  std::printf("\"max_other_cpu_s\": %.2f, ", max_other);
  std::printf(
      "\"reps\": %lld, \"default_relay_kib\": %zu, \"nproc\": %ld, \"load_before\": \"%s\", "
      "\"load_after\": \"%s\", \"wall_s\": %.1f, \"paths\": {",
      static_cast<long long>(o.reps), kDefaultRelayKib, sysconf(_SC_NPROCESSORS_ONLN),
      load_before.c_str(), loadavg().c_str(), wall_s);
  const auto direct = of("direct");
  for (size_t i = 0; i < paths.size(); ++i) {
    const auto v = of(paths[i]);
    std::printf("%s\"%s\": {", i ? ", " : "", paths[i].c_str());
    if (ping) {
      std::printf("\"p50_us\": %.1f, \"p90_us\": %.1f, \"p99_us\": %.1f, \"mean_us\": %.1f, ",
                  med(v, [](const Run& r) { return r.r.p50_us; }),
                  med(v, [](const Run& r) { return r.r.p90_us; }),
                  med(v, [](const Run& r) { return r.r.p99_us; }),
                  med(v, [](const Run& r) { return r.r.mean_us; }));
    } else {
      std::printf("\"mb_s\": %.1f, ", med(v, [](const Run& r) {
                    return static_cast<double>(r.r.bytes) / r.r.seconds / 1e6;
                  }));
    }
    const double client = med(v, [&](const Run& r) { return per(r.cpu_client); });
    const double server = med(v, [&](const Run& r) { return per(r.cpu_server); });
    const double relay = med(v, [&](const Run& r) { return per(r.cpu_relay); });
    const double total =
        med(v, [&](const Run& r) { return per(r.cpu_client + r.cpu_server + r.cpu_relay); });
    const double share = med(v, [](const Run& r) { return r.cpu_relay / r.r.seconds; });
    const double softirq = med(v, [&](const Run& r) { return per(r.softirq_s); });
    std::printf(
        "\"%s\": {\"client\": %.3f, \"server\": %.3f, \"relay\": %.3f, \"total\": %.3f, "
        "\"softirq\": %.3f}, \"relay_cpu_share\": %.3f",
        cpu_unit, client, server, relay, total, softirq, share);
    if (paths[i] != "direct" && direct.size() == v.size()) {
      if (ping) {
        std::vector<double> d50, d99;
        for (size_t k = 0; k < v.size(); ++k) {
          d50.push_back(v[k]->r.p50_us - direct[k]->r.p50_us);
          d99.push_back(v[k]->r.p99_us - direct[k]->r.p99_us);
        }
        std::printf(
            ", \"added_p50_us\": %.1f, \"added_p99_us\": %.1f, "
            "\"pair_added_p50_us\": %s, \"pair_added_p99_us\": %s",
            median(d50), median(d99), jsonList(d50, "%.1f").c_str(), jsonList(d99, "%.1f").c_str());
      } else {
        std::vector<double> ratios;
        for (size_t k = 0; k < v.size(); ++k) {
          ratios.push_back(direct[k]->r.seconds / v[k]->r.seconds);  // same bytes each side
        }
        std::printf(", \"ratio\": %.3f, \"pair_ratios\": %s", median(ratios),
                    jsonList(ratios, "%.3f").c_str());
      }
    }
    std::printf("}");
  }
  std::printf("}, \"runs\": [");
  for (size_t i = 0; i < runs.size(); ++i) {
    const Run& r = runs[i];
    std::printf("%s{\"rep\": %d, \"path\": \"%s\", \"seconds\": %.6f, ", i ? ", " : "", r.rep,
                r.path.c_str(), r.r.seconds);
    if (ping) {
      std::printf(
          "\"p50_us\": %.1f, \"p90_us\": %.1f, \"p99_us\": %.1f, \"max_us\": %.1f, "
          "\"mean_us\": %.1f, ",
          r.r.p50_us, r.r.p90_us, r.r.p99_us, r.r.max_us, r.r.mean_us);
    } else {
      std::printf("\"mb_s\": %.1f, ", static_cast<double>(r.r.bytes) / r.r.seconds / 1e6);
    }
    std::printf(
        "\"cpu_s\": {\"client\": %.3f, \"server\": %.3f, \"relay\": %.3f}, "
        "\"softirq_s\": %.3f, \"other_cpu_s\": %.3f}",
        r.cpu_client, r.cpu_server, r.cpu_relay, r.softirq_s, r.other_cpu_s);
  }
  std::printf("]}\n");
}

int64_t number(const char* flag, const char* value, int64_t min) {
  char* end = nullptr;
  const long long v = std::strtoll(value, &end, 10);
  if (*value == '\0' || *end != '\0' || v < min) {
    usage(std::string(flag) + ": expected a number ≥ " + std::to_string(min));
  }
  return v;
}

Options parse(int argc, char** argv) {
  if (argc < 2) usage("missing mode");
  Options o;
  const std::string mode = argv[1];
  if (mode == "pingpong") {
    o.mode = Mode::kPingpong;
  } else if (mode == "bulk") {
    o.mode = Mode::kBulk;
  } else if (mode == "-h" || mode == "--help") {
    usage("help");
  } else {
    usage("unknown mode " + mode);
  }
  std::string relays = o.mode == Mode::kPingpong ? "rw" : "rw,splice";
  for (int i = 2; i < argc; ++i) {
    const std::string f = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage(f + " needs a value");
      return argv[++i];
    };
    if (f == "--iterations") {
      o.iterations = number("--iterations", value(), 1);
    } else if (f == "--warmup") {
      o.warmup = number("--warmup", value(), 0);
    } else if (f == "--size") {
      o.size = number("--size", value(), 1);
    } else if (f == "--mib") {
      o.mib = number("--mib", value(), 1);
    } else if (f == "--chunk-kib") {
      o.chunk_kib = number("--chunk-kib", value(), 1);
    } else if (f == "--reps") {
      o.reps = number("--reps", value(), 1);
    } else if (f == "--timeout") {
      o.timeout_s = number("--timeout", value(), 1);
    } else if (f == "--relays") {
      relays = value();
    } else if (f == "--both") {
      o.direct = o.relayed = true;
    } else if (f == "--direct") {
      o.direct = true;
      o.relayed = false;
    } else if (f == "--via-relay") {
      o.direct = false;
      o.relayed = true;
    } else {
      usage("unknown flag " + f);
    }
  }
  if (o.mode == Mode::kPingpong && o.size > static_cast<int64_t>(kServerRead)) {
    usage("--size: at most " + std::to_string(kServerRead));
  }
  size_t start = 0;
  while (start <= relays.size()) {
    const size_t comma = std::min(relays.find(',', start), relays.size());
    const std::string name = relays.substr(start, comma - start);
    const size_t colon = name.find(':');
    const std::string kind = name.substr(0, colon);
    if (kind != "rw" && kind != "splice") {
      usage("--relays: rw or splice, optionally :KIB, not '" + name + "'");
    }
    if (colon != std::string::npos) {
      const int64_t kib = number("--relays :KIB", name.c_str() + colon + 1, 4);
      if (kib > 64 * 1024) usage("--relays: at most 65536 KiB");
    }
    if (std::find(o.relays.begin(), o.relays.end(), name) == o.relays.end()) {
      o.relays.push_back(name);
    }
    start = comma + 1;
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  std::vector<std::string> paths;
  if (o.direct) paths.push_back("direct");
  if (o.relayed) paths.insert(paths.end(), o.relays.begin(), o.relays.end());
  signal(SIGPIPE, SIG_IGN);

  const std::string load_before = loadavg();
  const auto t0 = Clock::now();
  std::vector<Run> runs;
  for (int rep = 1; rep <= o.reps; ++rep) {
    std::vector<std::string> order = paths;
    if (rep % 2 == 0) std::reverse(order.begin(), order.end());
    for (const std::string& path : order) {
      Run r = runOnce(o, path, rep);
      if (o.mode == Mode::kPingpong) {
        std::fprintf(stderr,
                     "rep %d/%lld %-6s p50 %.1f µs p99 %.1f µs  cpu s client %.2f "
                     "server %.2f relay %.2f\n",
                     rep, static_cast<long long>(o.reps), path.c_str(), r.r.p50_us, r.r.p99_us,
                     r.cpu_client, r.cpu_server, r.cpu_relay);
      } else {
        std::fprintf(stderr,
                     "rep %d/%lld %-6s %.1f MB/s  cpu s client %.2f server %.2f "
                     "relay %.2f\n",
                     rep, static_cast<long long>(o.reps), path.c_str(),
                     static_cast<double>(r.r.bytes) / r.r.seconds / 1e6, r.cpu_client, r.cpu_server,
                     r.cpu_relay);
      }
      runs.push_back(std::move(r));
    }
  }
  // Pair each relay run with the direct run of its repetition.
  std::stable_sort(runs.begin(), runs.end(),
                   [](const Run& x, const Run& y) { return x.rep < y.rep; });
  report(o, paths, runs, load_before, std::chrono::duration<double>(Clock::now() - t0).count());
  return 0;
}
