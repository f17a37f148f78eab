#include "token_source.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

namespace tidemark::detail {

TokenSource TokenSource::fixed(std::string token) {
  TokenSource s;
  s.token_ = std::move(token);
  return s;
}

std::optional<TokenSource> TokenSource::fromFile(std::string path, std::string& why) {
  TokenSource s;
  s.path_ = std::move(path);
  if (!s.reload(why)) return std::nullopt;
  return s;
}

std::optional<std::string> TokenSource::current() {
  std::string ignored;  // a failed re-read keeps the previous token
  if (path_) reload(ignored);
  return token_;
}

bool TokenSource::reload(std::string& why) {
  struct stat st {};
  if (::stat(path_->c_str(), &st) != 0) {
    why = "token_file " + *path_ + " cannot be read";
    return false;
  }
  const Stamp stamp{static_cast<unsigned long long>(st.st_dev),
                    static_cast<unsigned long long>(st.st_ino),
                    static_cast<unsigned long long>(st.st_size),
                    static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec};
  if (token_ && !(stamp != stamp_)) return true;
  std::ifstream in(*path_, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  if (!in) {
    why = "token_file " + *path_ + " cannot be read";
    return false;
  }
  std::string token = content.str();
  // The sidecar strips the same trailing bytes (sidecar/http/token_file.cc).
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
    token.pop_back();
  }
  if (token.empty()) {
    why = "token_file " + *path_ + " is empty";
    return false;
  }
  for (unsigned char c : token) {
    if (c < 0x20 || c == 0x7f) {
      why = "token_file " + *path_ + " holds a control character";
      return false;
    }
  }
  token_ = std::move(token);
  stamp_ = stamp;
  return true;
}

}  // namespace tidemark::detail
