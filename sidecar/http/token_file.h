#pragma once

// The HTTP API's bearer token, read from a file and re-read when the file
// changes, so a rotated Kubernetes Secret (an atomic symlink swap) takes
// effect without a restart. The file is polled once a second (stat: inode,
// size, mtime), which also sees symlink swaps that inotify on the file would
// miss. A re-read that fails, or finds the file empty, keeps the previous
// token and logs why: a half-written rotation must not lock everyone out.
// Loop thread only.

#include <memory>
#include <string>
#include <string_view>

#include "sidecar/base/status.h"
#include "sidecar/event/event_loop.h"

namespace tidemark::http {

class TokenFile {
 public:
  // Reads the token now (an unreadable or empty file is an error) and starts
  // polling for changes.
  static StatusOr<std::unique_ptr<TokenFile>> open(event::EventLoop& loop, std::string path);

  // True when `authorization` is "Bearer <token>" with the current token.
  // Compares SHA-256 digests in constant time, so neither the token's bytes
  // nor its length leak through timing.
  bool accepts(std::string_view authorization) const;

  // Checks the file for a change now (the poll calls this).
  void reload();

 private:
  TokenFile(std::string path) : path_(std::move(path)) {}
  Status read();

  std::string path_;
  std::string digest_;  // SHA-256 of the current token
  struct Version {
    unsigned long inode = 0;
    long size = 0;
    long mtime_ns = 0;
    bool operator==(const Version&) const = default;
  } version_;
  std::unique_ptr<event::Timer> poll_;
};

}  // namespace tidemark::http
