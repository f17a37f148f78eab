#pragma once

// Protobuf-reflection helpers behind the config loader: how one YAML scalar
// becomes one field value under that field's rule, and how a value is printed
// back. Kept apart from loader.cc so the walk over YAML stays readable.

#include <yaml-cpp/yaml.h>

#include <string>
#include <string_view>

#include "google/protobuf/message.h"
#include "protocol/config/rules.pb.h"
#include "sidecar/base/status.h"

namespace tidemark::config {

const v1::FieldRule& ruleOf(const google::protobuf::FieldDescriptor* field);

// Messages written as one scalar in YAML (google.protobuf.Duration: "60s").
bool isScalarMessage(const google::protobuf::Descriptor* d);

// Parses `text` per the field's type and rule (kind, min, max) and sets it.
// The error message says what was expected; the caller adds where.
Status setScalar(google::protobuf::Message* msg, const google::protobuf::FieldDescriptor* field,
                 std::string_view text);

// "a duration like 60s", "host:port like ...", "one of: trace, debug, ...".
std::string describeExpected(const google::protobuf::FieldDescriptor* field);

// The field holds its proto zero value (empty string, 0, unset message).
bool isEmpty(const google::protobuf::Message& msg, const google::protobuf::FieldDescriptor* field);

// Emits every field of `msg` as a YAML mapping, values in their config spelling.
void emitMessage(YAML::Emitter& out, const google::protobuf::Message& msg);

}  // namespace tidemark::config
