// Golden frames: requests and responses captured from real clients (kcat,
// confluent-kafka-python, kafka-python, kafkajs) talking to the embedded
// cluster on both librdkafka generations, stored under golden/<client>-<gen>/
// as NNNN-<Api>-v<version>-<request|response>.bin (the frame without its
// length prefix: header + body). tests/tools/capture_golden_frames.py
// recaptures them. Every one must decode and re-encode byte for byte, header
// and body, at the version its file name gives.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "protocol/kafka/header.h"
#include "protocol/kafka/messages.h"

namespace tidemark::kafka {
namespace {

namespace fs = std::filesystem;

// ApiVersions' UNSUPPORTED_VERSION: a broker answering an ApiVersions request
// newer than it supports encodes the answer in v0 whatever the request's
// version was (KIP-511), so the client can read it and retry lower; librdkafka's
// mock (2.0.2 and 2.15.1 alike) even mixes encodings in it (a one-byte count,
// v0 entries, a throttle time). Such frames are only recognised (the error code
// is the body's first field in every version) and skipped: they are not
// messages of the version in their file name.
constexpr int16_t kUnsupportedVersion = 35;

// Frames that real peers send wrong, kept as fixtures because the proxy must
// cope with them. Each entry states the exact defect, so a codec change that
// hid or worsened it would fail here.
struct PeerQuirk {
  // Hex of the bytes left after one whole message; empty: the frame is truncated
  // and must fail to decode.
  std::string trailing_hex;
  const char* why;
};
const std::map<std::string, PeerQuirk>& peerQuirks() {
  static const char* kV12Request =
      "librdkafka 2.15.1 writes Metadata v12 'all topics' with a 4-byte null count it "
      "never shrinks to the compact form, so 3 bytes follow the message";
  static const char* kV12Response =
      "librdkafka 2.15.1's mock writes the body's empty tag section twice";
  static const std::map<std::string, PeerQuirk> kQuirks = {
      {"kcat-modern/0004-Metadata-v12-request.bin", {"010000", kV12Request}},
      {"confluent-kafka-modern/0004-Metadata-v12-request.bin", {"010000", kV12Request}},
      {"kcat-modern/0003-Metadata-v12-response.bin", {"00", kV12Response}},
      {"kcat-modern/0004-Metadata-v12-response.bin", {"00", kV12Response}},
      {"confluent-kafka-modern/0003-Metadata-v12-response.bin", {"00", kV12Response}},
      {"confluent-kafka-modern/0004-Metadata-v12-response.bin", {"00", kV12Response}},
      {"kafkajs-modern/0023-LeaveGroup-v3-response.bin",
       {"", "librdkafka 2.15.1's mock answers LeaveGroup v3 in the v0-2 layout (no members)"}},
  };
  return kQuirks;
}

fs::path goldenDir() { return fs::path(__FILE__).parent_path() / "golden"; }

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string hex(std::string_view bytes) {
  std::string out;
  char buf[4];
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::snprintf(buf, sizeof buf, "%02x", static_cast<uint8_t>(bytes[i]));
    out += buf;
  }
  return out;
}

// Where two byte strings first differ, for failure messages.
std::string firstDifference(std::string_view want, std::string_view got) {
  size_t i = 0;
  while (i < want.size() && i < got.size() && want[i] == got[i]) ++i;
  std::ostringstream out;
  out << "first difference at byte " << i << " (want " << want.size() << " bytes, got "
      << got.size() << ")\n  want: " << hex(want) << "\n  got:  " << hex(got);
  return out.str();
}

const ApiInfo* apiNamed(const std::string& name) {
  for (const ApiInfo& api : kApis)
    if (name == api.name) return &api;
  return nullptr;
}

struct Fixture {
  fs::path path;
  const ApiInfo* api = nullptr;
  int16_t version = 0;
  bool request = false;
};

// Fixtures by folder (client-generation), in file-name order.
std::map<std::string, std::vector<Fixture>> loadFixtures(std::vector<std::string>* bad_names) {
  static const std::regex kName(R"(^\d{4}-([A-Za-z]+)-v(\d+)-(request|response)\.bin$)");
  std::map<std::string, std::vector<Fixture>> out;
  if (!fs::is_directory(goldenDir())) return out;
  for (const auto& dir : fs::directory_iterator(goldenDir())) {
    if (!dir.is_directory()) continue;
    auto& list = out[dir.path().filename().string()];
    for (const auto& file : fs::directory_iterator(dir.path())) {
      std::string name = file.path().filename().string();
      std::smatch m;
      if (!std::regex_match(name, m, kName) || apiNamed(m[1]) == nullptr) {
        bad_names->push_back(file.path().string());
        continue;
      }
      list.push_back({file.path(), apiNamed(m[1]), static_cast<int16_t>(std::stoi(m[2])),
                      m[3] == "request"});
    }
    std::sort(list.begin(), list.end(),
              [](const Fixture& a, const Fixture& b) { return a.path < b.path; });
  }
  return out;
}

enum class Outcome { kChecked, kSkippedUnsupportedVersion, kKnownPeerQuirk, kFailed };

// A quirky frame must show exactly its documented defect; the message inside
// (when there is one) still round-trips.
Outcome checkQuirk(const Fixture& f, std::string_view body, const PeerQuirk& quirk,
                   const std::string& where) {
  auto used = decodePrefix(f.api->key, f.version, f.request, body);
  if (quirk.trailing_hex.empty()) {
    EXPECT_FALSE(used.isOk()) << where << " was listed as truncated (" << quirk.why
                              << ") but decodes";
    return used.isOk() ? Outcome::kFailed : Outcome::kKnownPeerQuirk;
  }
  if (!used.isOk()) {
    ADD_FAILURE() << where << ": " << used.status().message();
    return Outcome::kFailed;
  }
  EXPECT_EQ(hex(body.substr(*used)), quirk.trailing_hex) << where << ": " << quirk.why;
  auto again = roundTrip(f.api->key, f.version, f.request, body.substr(0, *used));
  EXPECT_TRUE(again.isOk() && *again == body.substr(0, *used)) << where;
  return Outcome::kKnownPeerQuirk;
}

Outcome check(const Fixture& f) {
  const std::string frame = readFile(f.path);
  const std::string where = f.path.parent_path().filename().string() + "/" +
                            f.path.filename().string();
  const int16_t key = f.api->key;
  Reader r(frame);
  std::string header;
  Writer w(header);
  if (f.request) {
    RequestHeader h = decodeRequestHeader(r);
    if (!r.ok()) {
      ADD_FAILURE() << where << ": request header: " << r.error() << "\n  frame: " << hex(frame);
      return Outcome::kFailed;
    }
    EXPECT_EQ(h.api_key, key) << where;
    EXPECT_EQ(h.api_version, f.version) << where;
    encodeRequestHeader(w, h);
  } else {
    const int header_version = responseHeaderVersion(key, f.version);
    ResponseHeader h = decodeResponseHeader(r, header_version);
    if (!r.ok()) {
      ADD_FAILURE() << where << ": response header v" << header_version << ": " << r.error()
                    << "\n  frame: " << hex(frame);
      return Outcome::kFailed;
    }
    encodeResponseHeader(w, h, header_version);
  }
  const std::string_view original_header = std::string_view(frame).substr(0, r.consumed());
  const std::string_view body = std::string_view(frame).substr(r.consumed());
  if (!w.ok() || header != original_header) {
    ADD_FAILURE() << where << ": header re-encodes differently: "
                  << firstDifference(original_header, header);
    return Outcome::kFailed;
  }

  if (!f.request && key == kApiVersionsKey && body.size() >= 2 &&
      loadInt16(body.data()) == kUnsupportedVersion) {
    return Outcome::kSkippedUnsupportedVersion;
  }

  if (auto q = peerQuirks().find(where); q != peerQuirks().end()) {
    return checkQuirk(f, body, q->second, where);
  }
  auto again = roundTrip(key, f.version, f.request, body);
  if (!again.isOk()) {
    std::ostringstream prefix;
    if (auto used = decodePrefix(key, f.version, f.request, body); used.isOk())
      prefix << "\n  a whole message decodes from its first " << *used << " of " << body.size()
             << " body bytes; left over: " << hex(body.substr(*used));
    ADD_FAILURE() << where << ": " << f.api->name << (f.request ? " request" : " response")
                  << " v" << f.version << " does not decode: " << again.status().message()
                  << prefix.str() << "\n  frame: " << hex(frame);
    return Outcome::kFailed;
  }
  if (*again != body) {
    ADD_FAILURE() << where << ": body re-encodes differently: " << firstDifference(body, *again);
    return Outcome::kFailed;
  }
  return Outcome::kChecked;
}

TEST(GoldenFramesTest, ShouldRoundTripEveryFrameCapturedFromRealClientsByteForByte) {
  std::vector<std::string> bad_names;
  auto fixtures = loadFixtures(&bad_names);
  for (const std::string& name : bad_names)
    ADD_FAILURE() << name << ": not NNNN-<Api>-v<version>-<request|response>.bin of a known API";
  ASSERT_FALSE(fixtures.empty()) << "no golden frames in " << goldenDir()
                                 << " (tests/tools/capture_golden_frames.py captures them)";
  size_t total = 0;
  for (const auto& [folder, list] : fixtures) {
    EXPECT_FALSE(list.empty()) << "golden/" << folder << " holds no fixtures";
    size_t checked = 0, skipped = 0, quirks = 0, failed = 0;
    for (const Fixture& f : list) {
      switch (check(f)) {
        case Outcome::kChecked: ++checked; break;
        case Outcome::kSkippedUnsupportedVersion: ++skipped; break;
        case Outcome::kKnownPeerQuirk: ++quirks; break;
        case Outcome::kFailed: ++failed; break;
      }
    }
    std::printf("[ golden   ] %-24s %3zu round-tripped, %zu UNSUPPORTED_VERSION skipped, "
                "%zu known peer quirks, %zu failed\n",
                folder.c_str(), checked, skipped, quirks, failed);
    total += checked;
  }
  EXPECT_GT(total, 0u);
}

}  // namespace
}  // namespace tidemark::kafka
