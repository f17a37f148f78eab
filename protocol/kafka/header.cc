#include "protocol/kafka/header.h"

#include "protocol/kafka/messages.h"

namespace tidemark::kafka {

bool isFlexible(int16_t key, int16_t version) {
  const ApiInfo* api = findApi(key);
  return api != nullptr && api->first_flexible >= 0 && version >= api->first_flexible;
}

int requestHeaderVersion(int16_t key, int16_t version) { return isFlexible(key, version) ? 2 : 1; }

int responseHeaderVersion(int16_t key, int16_t version) {
  if (key == kApiVersionsKey) return 0;
  return isFlexible(key, version) ? 1 : 0;
}

int32_t loadInt32(const char* p) {
  return static_cast<int32_t>((static_cast<uint32_t>(static_cast<uint8_t>(p[0])) << 24) |
                              (static_cast<uint32_t>(static_cast<uint8_t>(p[1])) << 16) |
                              (static_cast<uint32_t>(static_cast<uint8_t>(p[2])) << 8) |
                              static_cast<uint32_t>(static_cast<uint8_t>(p[3])));
}

int16_t loadInt16(const char* p) {
  return static_cast<int16_t>((static_cast<uint8_t>(p[0]) << 8) | static_cast<uint8_t>(p[1]));
}

void storeInt32(char* p, int32_t v) {
  auto u = static_cast<uint32_t>(v);
  p[0] = static_cast<char>(u >> 24);
  p[1] = static_cast<char>(u >> 16);
  p[2] = static_cast<char>(u >> 8);
  p[3] = static_cast<char>(u);
}

RequestHeader peekRequestPrefix(const char* p) {
  RequestHeader h;
  h.api_key = static_cast<int16_t>((static_cast<uint8_t>(p[0]) << 8) | static_cast<uint8_t>(p[1]));
  h.api_version =
      static_cast<int16_t>((static_cast<uint8_t>(p[2]) << 8) | static_cast<uint8_t>(p[3]));
  h.correlation_id = loadInt32(p + 4);
  return h;
}

RequestHeader decodeRequestHeader(Reader& r) {
  RequestHeader h;
  h.api_key = r.readInt16();
  h.api_version = r.readInt16();
  h.correlation_id = r.readInt32();
  h.client_id = r.readNullableString(/*compact=*/false);
  if (requestHeaderVersion(h.api_key, h.api_version) >= 2) {
    r.readTaggedFields([&](uint32_t tag, std::string_view data) {
      h.unknown_tags.push_back({tag, std::string(data)});
    });
  }
  return h;
}

void encodeRequestHeader(Writer& w, const RequestHeader& h) {
  w.writeInt16(h.api_key);
  w.writeInt16(h.api_version);
  w.writeInt32(h.correlation_id);
  w.writeNullableString(h.client_id, /*compact=*/false);
  if (requestHeaderVersion(h.api_key, h.api_version) >= 2) w.writeTaggedFields(h.unknown_tags);
}

ResponseHeader decodeResponseHeader(Reader& r, int header_version) {
  ResponseHeader h;
  h.correlation_id = r.readInt32();
  if (header_version >= 1) {
    r.readTaggedFields([&](uint32_t tag, std::string_view data) {
      h.unknown_tags.push_back({tag, std::string(data)});
    });
  }
  return h;
}

void encodeResponseHeader(Writer& w, const ResponseHeader& h, int header_version) {
  w.writeInt32(h.correlation_id);
  if (header_version >= 1) w.writeTaggedFields(h.unknown_tags);
}

}  // namespace tidemark::kafka
