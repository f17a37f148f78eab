#include "protocol/kafka/wire.h"

#include <algorithm>
#include <cstring>

namespace tidemark::kafka {

void Reader::fail(std::string_view why) {
  if (error_.empty()) error_ = std::string(why) + " at byte " + std::to_string(pos_);
  pos_ = data_.size();
}

bool Reader::need(size_t n) {
  if (!ok()) return false;
  if (remaining() < n) {
    fail("truncated: need " + std::to_string(n) + " more bytes, have " +
         std::to_string(remaining()));
    return false;
  }
  return true;
}

namespace {
template <typename U>
U loadBigEndian(const char* p) {
  U v = 0;
  for (size_t i = 0; i < sizeof(U); ++i) v = static_cast<U>((v << 8) | static_cast<uint8_t>(p[i]));
  return v;
}
template <typename U>
void storeBigEndian(std::string& out, U v) {
  char buf[sizeof(U)];
  for (size_t i = 0; i < sizeof(U); ++i) buf[i] = static_cast<char>(v >> (8 * (sizeof(U) - 1 - i)));
  out.append(buf, sizeof(U));
}
}  // namespace

int8_t Reader::readInt8() {
  if (!need(1)) return 0;
  return static_cast<int8_t>(data_[pos_++]);
}

int16_t Reader::readInt16() {
  if (!need(2)) return 0;
  auto v = loadBigEndian<uint16_t>(data_.data() + pos_);
  pos_ += 2;
  return static_cast<int16_t>(v);
}

uint16_t Reader::readUint16() { return static_cast<uint16_t>(readInt16()); }

int32_t Reader::readInt32() {
  if (!need(4)) return 0;
  auto v = loadBigEndian<uint32_t>(data_.data() + pos_);
  pos_ += 4;
  return static_cast<int32_t>(v);
}

int64_t Reader::readInt64() {
  if (!need(8)) return 0;
  auto v = loadBigEndian<uint64_t>(data_.data() + pos_);
  pos_ += 8;
  return static_cast<int64_t>(v);
}

double Reader::readFloat64() {
  uint64_t bits = static_cast<uint64_t>(readInt64());
  double d;
  std::memcpy(&d, &bits, sizeof(d));
  return d;
}

bool Reader::readBool() { return readInt8() != 0; }

Uuid Reader::readUuid() {
  Uuid u{};
  if (!need(16)) return u;
  std::memcpy(u.data(), data_.data() + pos_, 16);
  pos_ += 16;
  return u;
}

uint32_t Reader::readUnsignedVarint() {
  uint32_t value = 0;
  for (int shift = 0; shift < 35; shift += 7) {
    if (!need(1)) return 0;
    uint8_t b = static_cast<uint8_t>(data_[pos_++]);
    if (shift == 28 && (b & 0xf0) != 0) {
      fail("varint overflows 32 bits");
      return 0;
    }
    value |= static_cast<uint32_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return value;
  }
  fail("varint longer than 5 bytes");
  return 0;
}

int32_t Reader::readVarint() {
  uint32_t raw = readUnsignedVarint();
  return static_cast<int32_t>((raw >> 1) ^ (~(raw & 1) + 1));
}

int64_t Reader::readVarlong() {
  uint64_t raw = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (!need(1)) return 0;
    uint8_t b = static_cast<uint8_t>(data_[pos_++]);
    if (shift == 63 && (b & 0xfe) != 0) {
      fail("varlong overflows 64 bits");
      return 0;
    }
    raw |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return static_cast<int64_t>((raw >> 1) ^ (~(raw & 1) + 1));
  }
  fail("varlong longer than 10 bytes");
  return 0;
}

std::optional<std::string_view> Reader::readLengthPrefixed(bool compact, bool wide,
                                                           const char* what) {
  int64_t len;
  if (compact) {
    len = static_cast<int64_t>(readUnsignedVarint()) - 1;
  } else {
    len = wide ? readInt32() : readInt16();
  }
  if (!ok()) return std::nullopt;
  if (len < -1) {
    fail(std::string("negative ") + what + " length");
    return std::nullopt;
  }
  if (len == -1) return std::nullopt;
  if (!need(static_cast<size_t>(len))) return std::nullopt;
  std::string_view v = data_.substr(pos_, static_cast<size_t>(len));
  pos_ += static_cast<size_t>(len);
  return v;
}

std::optional<std::string> Reader::readNullableString(bool compact) {
  auto v = readLengthPrefixed(compact, false, "string");
  if (!v) return std::nullopt;
  return std::string(*v);
}

std::string Reader::readString(bool compact) {
  auto v = readLengthPrefixed(compact, false, "string");
  if (!v) {
    if (ok()) fail("null string where one is required");
    return {};
  }
  return std::string(*v);
}

std::optional<std::string> Reader::readNullableBytes(bool compact) {
  auto v = readLengthPrefixed(compact, true, "bytes");
  if (!v) return std::nullopt;
  return std::string(*v);
}

std::string Reader::readBytes(bool compact) {
  auto v = readLengthPrefixed(compact, true, "bytes");
  if (!v) {
    if (ok()) fail("null bytes where they are required");
    return {};
  }
  return std::string(*v);
}

std::optional<std::string_view> Reader::readRecords(bool compact) {
  return readLengthPrefixed(compact, true, "records");
}

int32_t Reader::readArrayLength(bool compact) {
  int64_t n = compact ? static_cast<int64_t>(readUnsignedVarint()) - 1 : readInt32();
  if (!ok()) return -1;
  if (n < -1) {
    fail("negative array length");
    return -1;
  }
  // Every element takes at least one byte on the wire, so a larger count is a lie.
  if (n > static_cast<int64_t>(remaining())) {
    fail("array length " + std::to_string(n) + " exceeds the " + std::to_string(remaining()) +
         " bytes left");
    return -1;
  }
  return static_cast<int32_t>(n);
}

std::string_view Reader::readRaw(size_t n) {
  if (!need(n)) return {};
  std::string_view v = data_.substr(pos_, n);
  pos_ += n;
  return v;
}

void Writer::fail(std::string_view why) {
  if (error_.empty()) error_ = std::string(why);
}

void Writer::writeInt8(int8_t v) { out_.push_back(static_cast<char>(v)); }
void Writer::writeInt16(int16_t v) { storeBigEndian(out_, static_cast<uint16_t>(v)); }
void Writer::writeUint16(uint16_t v) { storeBigEndian(out_, v); }
void Writer::writeInt32(int32_t v) { storeBigEndian(out_, static_cast<uint32_t>(v)); }
void Writer::writeInt64(int64_t v) { storeBigEndian(out_, static_cast<uint64_t>(v)); }

void Writer::writeFloat64(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof(bits));
  storeBigEndian(out_, bits);
}

void Writer::writeUuid(const Uuid& v) {
  out_.append(reinterpret_cast<const char*>(v.data()), v.size());
}

void Writer::writeUnsignedVarint(uint32_t v) {
  while (v >= 0x80) {
    out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out_.push_back(static_cast<char>(v));
}

void Writer::writeVarint(int32_t v) {
  writeUnsignedVarint((static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31));
}

void Writer::writeVarlong(int64_t v) {
  uint64_t z = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  while (z >= 0x80) {
    out_.push_back(static_cast<char>((z & 0x7f) | 0x80));
    z >>= 7;
  }
  out_.push_back(static_cast<char>(z));
}

void Writer::writeString(std::string_view v, bool compact) {
  if (compact) {
    writeUnsignedVarint(static_cast<uint32_t>(v.size() + 1));
  } else {
    if (v.size() > 0x7fff) return fail("string longer than 32767 bytes");
    writeInt16(static_cast<int16_t>(v.size()));
  }
  out_.append(v);
}

void Writer::writeNullableString(const std::optional<std::string>& v, bool compact) {
  if (v) return writeString(*v, compact);
  if (compact) {
    writeUnsignedVarint(0);
  } else {
    writeInt16(-1);
  }
}

void Writer::writeBytes(std::string_view v, bool compact) {
  if (compact) {
    writeUnsignedVarint(static_cast<uint32_t>(v.size() + 1));
  } else {
    writeInt32(static_cast<int32_t>(v.size()));
  }
  out_.append(v);
}

void Writer::writeNullableBytes(const std::optional<std::string>& v, bool compact) {
  if (v) return writeBytes(*v, compact);
  if (compact) {
    writeUnsignedVarint(0);
  } else {
    writeInt32(-1);
  }
}

void Writer::writeRecords(const std::optional<std::string_view>& v, bool compact) {
  if (v) return writeBytes(*v, compact);
  if (compact) {
    writeUnsignedVarint(0);
  } else {
    writeInt32(-1);
  }
}

void Writer::writeArrayLength(int32_t count, bool compact) {
  if (compact) {
    writeUnsignedVarint(static_cast<uint32_t>(count + 1));
  } else {
    writeInt32(count);
  }
}

void Writer::writeTaggedFields(std::vector<TaggedField> fields) {
  std::sort(fields.begin(), fields.end(),
            [](const TaggedField& a, const TaggedField& b) { return a.tag < b.tag; });
  writeUnsignedVarint(static_cast<uint32_t>(fields.size()));
  for (const TaggedField& f : fields) {
    writeUnsignedVarint(f.tag);
    writeUnsignedVarint(static_cast<uint32_t>(f.data.size()));
    out_.append(f.data);
  }
}

size_t unsignedVarintSize(uint32_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

}  // namespace tidemark::kafka
