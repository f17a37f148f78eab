#include "store/state_pages.h"

#include <google/protobuf/io/coded_stream.h>

#include <cstdint>
#include <string_view>

namespace tidemark::store {
namespace {

using google::protobuf::io::CodedOutputStream;

constexpr uint64_t kMinEntriesPerPage = 64;
constexpr uint64_t kMaxPages = 1024;

// FNV-1a over the entry's identity: stable across versions and machines.
uint64_t identityHash(const v1::StateRef& ref) {
  uint64_t h = 14695981039346656037ull;
  auto mix = [&h](std::string_view bytes) {
    for (unsigned char c : bytes) {
      h ^= c;
      h *= 1099511628211ull;
    }
    h ^= 0xff;  // a separator, so ("ab", "c") and ("a", "bc") differ
    h *= 1099511628211ull;
  };
  mix(ref.key());
  if (ref.has_partition()) {
    mix(ref.partition().group());
    mix(ref.partition().topic());
    const auto p = static_cast<uint32_t>(ref.partition().partition());
    const char le[4] = {static_cast<char>(p), static_cast<char>(p >> 8), static_cast<char>(p >> 16),
                        static_cast<char>(p >> 24)};
    mix(std::string_view(le, sizeof le));  // little-endian on every machine
  }
  return h;
}

// Appends `ref` as one `state` field of a Manifest (tag, length, message).
void appendEntry(std::string& page, const v1::StateRef& ref, size_t body) {
  constexpr uint32_t kLengthDelimited = 2;  // the wire type of a message field
  constexpr uint32_t kTag = (v1::Manifest::kStateFieldNumber << 3) | kLengthDelimited;
  static_assert(kTag < 128, "the state field's tag is one byte");
  const size_t at = page.size();
  page.resize(at + 1 + CodedOutputStream::VarintSize32(static_cast<uint32_t>(body)) + body);
  auto* p = reinterpret_cast<uint8_t*>(page.data() + at);
  *p++ = static_cast<uint8_t>(kTag);
  p = CodedOutputStream::WriteVarint32ToArray(static_cast<uint32_t>(body), p);
  ref.SerializeWithCachedSizesToArray(p);
}

}  // namespace

std::vector<std::string> statePages(const v1::Manifest& manifest, size_t max_page_bytes) {
  uint64_t per_page = kMinEntriesPerPage;
  while (per_page * kMaxPages < static_cast<uint64_t>(manifest.state_size())) per_page <<= 1;
  const uint64_t mask = per_page - 1;
  std::vector<std::string> pages;
  std::string page;
  for (const v1::StateRef& ref : manifest.state()) {
    const size_t body = ref.ByteSizeLong();
    const size_t entry = 1 + CodedOutputStream::VarintSize32(static_cast<uint32_t>(body)) + body;
    if (!page.empty() && page.size() + entry > max_page_bytes) {
      pages.push_back(std::move(page));
      page.clear();
    }
    appendEntry(page, ref, body);
    if ((identityHash(ref) & mask) == 0) {
      pages.push_back(std::move(page));
      page.clear();
    }
  }
  if (!page.empty()) pages.push_back(std::move(page));
  return pages;
}

}  // namespace tidemark::store
