#include "sidecar/cli/run_sidecar.h"

#include <malloc.h>
#include <unistd.h>
#include <csignal>
#include <cstdio>

#include "sidecar/base/log.h"
#include "sidecar/cli/commands.h"
#include "sidecar/config/duration.h"

namespace tidemark::cli {

void applyLogConfig(const config::Config& config) {
  using L = config::v1::Log;
  switch (config.log().level()) {
    case L::TRACE:
      log::setLevel(log::Level::kTrace);
      break;
    case L::DEBUG:
      log::setLevel(log::Level::kDebug);
      break;
    case L::WARN:
      log::setLevel(log::Level::kWarn);
      break;
    case L::ERROR:
      log::setLevel(log::Level::kError);
      break;
    default:
      log::setLevel(log::Level::kInfo);
      break;
  }
}

int runSidecar(const config::Config& config,
               const std::function<void(server::Sidecar&)>& on_started) {
  std::signal(SIGPIPE, SIG_IGN);  // a vanished peer is an error value, not a signal
  // The proxy reads into 256 KiB buffers and frees them as soon as the bytes
  // are forwarded. With glibc's defaults each such buffer is a fresh mmap (or
  // trimmed heap) that the kernel must fault in and zero again: measured at
  // about half the sidecar's CPU per forwarded MiB. Keep them on the heap and
  // keep up to 64 MiB of freed heap for reuse.
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  auto loop = event::EventLoop::create();
  if (!loop.isOk()) {
    std::fprintf(stderr, "tidemark: %s\n", loop.status().message().c_str());
    return kExitRuntime;
  }
  event::EventLoop& l = **loop;
  server::Sidecar sidecar(config, l);
  Status started = sidecar.start();
  if (!started.isOk()) {
    TM_LOG(Error, "main", "cannot start").kv("error", started.message());
    std::fprintf(stderr, "tidemark: %s\n", started.message().c_str());
    return kExitRuntime;
  }
  // Exiting at once (a second signal, or shutdown.timeout) leaves the store
  // consistent: each checkpoint is one SQLite transaction, and an unfinished
  // one is rolled back when the store is next opened.
  int signals_seen = 0;
  int exit_code = kExitOk;
  std::unique_ptr<event::Timer> deadline;
  auto onStopSignal = [&] {
    if (++signals_seen > 1) {
      TM_LOG(Warn, "main", "second stop signal: exiting now");
      _exit(kExitRuntime);
    }
    const auto& t = config.shutdown().timeout();
    deadline = l.createTimer([] {
      TM_LOG(Error, "main", "shutdown.timeout reached: exiting now");
      _exit(kExitRuntime);
    });
    deadline->arm(config::toMillis(t));
    TM_LOG(Info, "main", "stop signal received");
    sidecar.shutdown([&](bool durable) {
      if (!durable) exit_code = kExitRuntime;
      l.stop();
    });
  };
  for (int signo : {SIGINT, SIGTERM}) {
    Status s = l.onSignal(signo, onStopSignal);
    if (!s.isOk()) {
      std::fprintf(stderr, "tidemark: %s\n", s.message().c_str());
      return kExitRuntime;
    }
  }
  TM_LOG(Info, "main", "ready")
      .kv("job", config.job().id())
      .kv("proxy", sidecar.proxyAddress().toString())
      .kv("http", sidecar.httpAddress().toString());
  on_started(sidecar);
  Status ran = l.run();
  if (!ran.isOk()) {
    std::fprintf(stderr, "tidemark: %s\n", ran.message().c_str());
    return kExitRuntime;
  }
  TM_LOG(Info, "main", "stopped").kv("exit_code", exit_code);
  return exit_code;
}

}  // namespace tidemark::cli
