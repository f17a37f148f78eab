#pragma once

// Where the bearer token comes from: nowhere, a fixed string, or a file
// (http.token_file's own file, typically a mounted Kubernetes Secret). A file
// is read once at construction and again whenever its identity or stamp
// (device, inode, size, mtime) changed, so a rotation takes effect without a
// new Client. A re-read that fails, or finds an empty or malformed token,
// keeps the previous token, as the sidecar does: a half-written rotation must
// not break every call. Not thread-safe (the Client holds a mutex).

#include <optional>
#include <string>

namespace tidemark::detail {

class TokenSource {
 public:
  // No token: no Authorization header.
  TokenSource() = default;
  static TokenSource fixed(std::string token);
  // The file's token now; nullopt with the reason in `why` when it cannot be
  // read, is empty, or holds a byte that cannot go in a header.
  static std::optional<TokenSource> fromFile(std::string path, std::string& why);

  // The token to send now (re-reading a changed file), or nullopt for none.
  std::optional<std::string> current();

 private:
  struct Stamp {
    unsigned long long device = 0, inode = 0, size = 0;
    long long mtime_ns = 0;
    bool operator!=(const Stamp& o) const {
      return device != o.device || inode != o.inode || size != o.size || mtime_ns != o.mtime_ns;
    }
  };
  bool reload(std::string& why);

  std::optional<std::string> token_;
  std::optional<std::string> path_;
  Stamp stamp_;
};

}  // namespace tidemark::detail
