#pragma once

#include <cstdint>
#include <cstdio>

#include "sidecar/cli/checkpoint_documents.h"

namespace tidemark::cli {

// Reports bytes done of a large total on stderr at each quarter: a long
// export or import shows it is moving, in at most four lines.
class Progress {
 public:
  static constexpr uint64_t kMinBytes = 16ull << 20;
  Progress(const char* what, const char* verb, uint64_t total)
      : what_(what), verb_(verb), total_(total) {}
  void add(uint64_t n) {
    done_ += n;
    if (total_ < kMinBytes) return;
    for (; reported_ < 4 && done_ * 4 >= total_ * (reported_ + 1); ++reported_) {
      std::fprintf(stderr, "tidemark: %s: %s of %s %s (%d%%)\n", what_, humanBytes(done_).c_str(),
                   humanBytes(total_).c_str(), verb_, (reported_ + 1) * 25);
    }
  }

 private:
  const char* what_;
  const char* verb_;
  uint64_t total_;
  uint64_t done_ = 0;
  int reported_ = 0;
};

}  // namespace tidemark::cli
