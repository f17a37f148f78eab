// Fuzz target: the HTTP API's request framing (sidecar/http/http_parser.h),
// everything the server decides from a peer's bytes before a handler runs.
// Input: the bytes a client sends. The head is parsed as the server does,
// then the rest is fed to a chunked-body decoder in pieces whose sizes come
// from the input itself. Checks: no crash, no sanitizer report, consumed
// counts never exceed what was given, a body never exceeds its limit, and a
// head that parses reports a path starting with '/'.

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "sidecar/http/http_parser.h"

using namespace tidemark::http;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  RequestHead head;
  size_t consumed = 0;
  ParseError error;
  const Parse r = parseHead(in, 4096, head, consumed, error);
  if (r == Parse::kError && (error.status < 400 || error.message.empty())) std::abort();
  if (r != Parse::kDone) return 0;
  if (consumed > in.size() || head.path.empty() || head.path[0] != '/') std::abort();
  if (!head.chunked) return 0;
  constexpr size_t kLimit = 1024;
  ChunkedDecoder decoder(kLimit);
  std::string body;
  std::string_view rest = in.substr(consumed);
  std::string pending;
  size_t step = 1 + (size % 7);
  while (!rest.empty()) {
    const size_t n = std::min(step, rest.size());
    pending.append(rest.substr(0, n));
    rest.remove_prefix(n);
    size_t used = 0;
    const Parse c = decoder.feed(pending, used, body, error);
    if (used > pending.size() || body.size() > kLimit) std::abort();
    if (c != Parse::kIncomplete) return 0;
    pending.erase(0, used);
    step = 1 + (step * 5) % 11;
  }
  return 0;
}
