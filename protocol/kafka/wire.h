#pragma once

// Kafka's primitive encodings, for the generated codec and the few hand-written
// peeks on the hot path. All integers are big-endian; "compact" forms (flexible
// versions) use unsigned varints holding N+1 with 0 meaning null.
//
// Reader never throws and never reads out of bounds: the first problem makes it
// fail (sticky), every later read returns a zero value, and callers check ok()
// once at the end. Array and byte lengths are checked against the bytes that
// remain before anything is allocated, so a hostile length cannot make us
// reserve gigabytes.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tidemark::kafka {

using Uuid = std::array<uint8_t, 16>;

// A tagged field the codec does not know, kept so re-encoding is byte-exact.
struct TaggedField {
  uint32_t tag = 0;
  std::string data;
  bool operator==(const TaggedField&) const = default;
};
using TaggedFields = std::vector<TaggedField>;

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  size_t remaining() const { return data_.size() - pos_; }
  size_t consumed() const { return pos_; }
  // Records the first failure; later ones are ignored. Consumes nothing more.
  void fail(std::string_view why);

  int8_t readInt8();
  int16_t readInt16();
  int32_t readInt32();
  int64_t readInt64();
  uint16_t readUint16();
  double readFloat64();
  bool readBool();
  Uuid readUuid();
  uint32_t readUnsignedVarint();
  int32_t readVarint();   // zigzag
  int64_t readVarlong();  // zigzag

  std::string readString(bool compact);  // null is an error
  std::optional<std::string> readNullableString(bool compact);
  std::string readBytes(bool compact);  // null is an error
  std::optional<std::string> readNullableBytes(bool compact);
  // A view into the input: record data is never copied.
  std::optional<std::string_view> readRecords(bool compact);
  // -1 for a null array. Fails if the count exceeds the bytes that remain.
  int32_t readArrayLength(bool compact);
  std::string_view readRaw(size_t n);

  // Reads a flexible struct's tagged-field header and each field's raw bytes;
  // `onField(tag, data)` decodes known tags. Tags must strictly ascend.
  template <typename OnField>
  void readTaggedFields(OnField&& onField) {
    uint32_t count = readUnsignedVarint();
    int64_t last = -1;
    for (uint32_t i = 0; i < count && ok(); ++i) {
      uint32_t tag = readUnsignedVarint();
      uint32_t size = readUnsignedVarint();
      std::string_view data = readRaw(size);
      if (!ok()) return;
      if (static_cast<int64_t>(tag) <= last) return fail("tagged fields out of order");
      last = tag;
      onField(tag, data);
    }
  }

 private:
  bool need(size_t n);
  std::optional<std::string_view> readLengthPrefixed(bool compact, bool wide, const char* what);

  std::string_view data_;
  size_t pos_ = 0;
  std::string error_;
};

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  void fail(std::string_view why);
  size_t size() const { return out_.size(); }

  void writeInt8(int8_t v);
  void writeInt16(int16_t v);
  void writeInt32(int32_t v);
  void writeInt64(int64_t v);
  void writeUint16(uint16_t v);
  void writeFloat64(double v);
  void writeBool(bool v) { writeInt8(v ? 1 : 0); }
  void writeUuid(const Uuid& v);
  void writeUnsignedVarint(uint32_t v);
  void writeVarint(int32_t v);
  void writeVarlong(int64_t v);

  void writeString(std::string_view v, bool compact);
  void writeNullableString(const std::optional<std::string>& v, bool compact);
  void writeBytes(std::string_view v, bool compact);
  void writeNullableBytes(const std::optional<std::string>& v, bool compact);
  void writeRecords(const std::optional<std::string_view>& v, bool compact);
  void writeArrayLength(int32_t count, bool compact);  // -1 for null
  void writeRaw(std::string_view v) { out_.append(v); }

  // Writes a tagged-field section from (tag, bytes) pairs given in any order.
  void writeTaggedFields(std::vector<TaggedField> fields);

 private:
  std::string& out_;
  std::string error_;
};

// Size of v as an unsigned varint (1..5).
size_t unsignedVarintSize(uint32_t v);

}  // namespace tidemark::kafka
