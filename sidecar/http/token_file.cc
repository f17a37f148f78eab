#include "sidecar/http/token_file.h"

#include <openssl/crypto.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "sidecar/base/digest.h"
#include "sidecar/base/log.h"

namespace tidemark::http {
namespace {

constexpr std::chrono::milliseconds kPollEvery{1000};

}  // namespace

StatusOr<std::unique_ptr<TokenFile>> TokenFile::open(event::EventLoop& loop, std::string path) {
  std::unique_ptr<TokenFile> file(new TokenFile(std::move(path)));
  TM_RETURN_IF_ERROR(file->read());
  TokenFile* self = file.get();
  file->poll_ = loop.createTimer([self] {
    self->reload();
    self->poll_->arm(kPollEvery);
  });
  file->poll_->arm(kPollEvery);
  return file;
}

Status TokenFile::read() {
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) {
    return unavailable("http.token_file: " + path_ + ": " + std::strerror(errno));
  }
  std::ifstream in(path_, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) return unavailable("http.token_file: " + path_ + ": cannot read it");
  std::string token = text.str();
  // A Secret written by hand usually ends in a newline that is not part of it.
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
    token.pop_back();
  }
  if (token.empty()) return invalidArgument("http.token_file: " + path_ + " is empty");
  digest_ = sha256(token);
  version_ = {static_cast<unsigned long>(st.st_ino), static_cast<long>(st.st_size),
              static_cast<long>(st.st_mtim.tv_sec * 1000000000L + st.st_mtim.tv_nsec)};
  return Status::ok();
}

void TokenFile::reload() {
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) return;  // mid-swap; the next poll sees the new file
  Version now{static_cast<unsigned long>(st.st_ino), static_cast<long>(st.st_size),
              static_cast<long>(st.st_mtim.tv_sec * 1000000000L + st.st_mtim.tv_nsec)};
  if (now == version_) return;
  const std::string before = digest_;
  Status s = read();
  if (!s.isOk()) {
    TM_LOG(Warn, "http", "token file changed but was not taken; the previous token stays")
        .kv("error", s.toString());
    version_ = now;  // do not retry until it changes again
    return;
  }
  if (digest_ != before) {
    TM_LOG(Info, "http", "token rotated").kv("file", path_);
  }
}

bool TokenFile::accepts(std::string_view authorization) const {
  constexpr std::string_view kScheme = "Bearer ";
  if (authorization.size() <= kScheme.size()) return false;
  // The scheme is case-insensitive (RFC 9110 §11.1).
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) !=
        std::tolower(static_cast<unsigned char>(kScheme[i]))) {
      return false;
    }
  }
  const std::string presented = sha256(authorization.substr(kScheme.size()));
  return CRYPTO_memcmp(presented.data(), digest_.data(), digest_.size()) == 0;
}

}  // namespace tidemark::http
