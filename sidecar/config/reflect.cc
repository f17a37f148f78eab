#include "sidecar/config/reflect.h"

#include <algorithm>
#include <cctype>
#include <limits>

#include "google/protobuf/duration.pb.h"
#include "sidecar/config/scalars.h"

namespace tidemark::config {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::Duration;
using google::protobuf::EnumDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using Kind = v1::FieldRule::Kind;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

bool isDuration(const FieldDescriptor* f) {
  return f->type() == FieldDescriptor::TYPE_MESSAGE &&
         f->message_type()->full_name() == Duration::descriptor()->full_name();
}

// Parses a bound or a value of a numeric-like field into a comparable number.
StatusOr<long double> numericValue(const FieldDescriptor* f, std::string_view text) {
  if (isDuration(f)) {
    TM_ASSIGN_OR_RETURN(int64_t v, parseDuration(text));
    return static_cast<long double>(v);
  }
  if (ruleOf(f).kind() == v1::FieldRule::KIND_BYTES) {
    TM_ASSIGN_OR_RETURN(uint64_t v, parseBytes(text));
    return static_cast<long double>(v);
  }
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_UINT32:
    case FieldDescriptor::CPPTYPE_UINT64: {
      TM_ASSIGN_OR_RETURN(uint64_t v, parseUint(text));
      return static_cast<long double>(v);
    }
    default: {
      TM_ASSIGN_OR_RETURN(int64_t v, parseInt(text));
      return static_cast<long double>(v);
    }
  }
}

Status checkBounds(const FieldDescriptor* f, std::string_view text) {
  const v1::FieldRule& rule = ruleOf(f);
  if (rule.min().empty() && rule.max().empty()) return Status::ok();
  TM_ASSIGN_OR_RETURN(long double v, numericValue(f, text));
  if (!rule.min().empty() && v < *numericValue(f, rule.min())) {
    return outOfRange("must be at least " + rule.min() + ", got \"" + std::string(text) + "\"");
  }
  if (!rule.max().empty() && v > *numericValue(f, rule.max())) {
    return outOfRange("must be at most " + rule.max() + ", got \"" + std::string(text) + "\"");
  }
  return Status::ok();
}

bool matchesName(std::string_view s, size_t max_len) {
  if (s.empty() || s.size() > max_len) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

Status checkKind(const FieldDescriptor* f, std::string_view text) {
  const std::string got = ", got \"" + std::string(text) + "\"";
  switch (ruleOf(f).kind()) {
    case v1::FieldRule::KIND_HOST_PORT:
      return parseHostPort(text).status();
    case v1::FieldRule::KIND_HOST_PORT_LIST:
      return parseHostPortList(text).status();
    case v1::FieldRule::KIND_HOST:
      return checkHost(text);
    case v1::FieldRule::KIND_KAFKA_TOPIC:
      if (!isKafkaTopicName(text)) {
        return invalidArgument("expected a Kafka topic name ([A-Za-z0-9._-], 1-249 chars)" + got);
      }
      return Status::ok();
    case v1::FieldRule::KIND_IDENTIFIER:
      if (!matchesName(text, 128)) {
        return invalidArgument("expected an identifier ([A-Za-z0-9._-], 1-128 chars)" + got);
      }
      return Status::ok();
    case v1::FieldRule::KIND_HTTP_URL:
      return parseHttpUrl(text).status();
    case v1::FieldRule::KIND_PATH:
      if (text.empty() || text.find('\0') != std::string_view::npos) {
        return invalidArgument("expected a file path" + got);
      }
      return Status::ok();
    default:
      return Status::ok();
  }
}

Status setEnum(Message* msg, const FieldDescriptor* f, std::string_view text) {
  const EnumDescriptor* e = f->enum_type();
  std::string want = lower(std::string(text));
  for (int i = 0; i < e->value_count(); ++i) {
    if (e->value(i)->number() != 0 && lower(e->value(i)->name()) == want) {
      msg->GetReflection()->SetEnumValue(msg, f, e->value(i)->number());
      return Status::ok();
    }
  }
  return invalidArgument("expected " + describeExpected(f) + ", got \"" + std::string(text) + "\"");
}

std::string enumName(const FieldDescriptor* f, int number) {
  const auto* v = f->enum_type()->FindValueByNumber(number);
  return v ? lower(v->name()) : std::to_string(number);
}

}  // namespace

const v1::FieldRule& ruleOf(const FieldDescriptor* field) {
  return field->options().GetExtension(v1::rule);
}

bool isScalarMessage(const Descriptor* d) {
  return d->full_name() == Duration::descriptor()->full_name();
}

std::string describeExpected(const FieldDescriptor* f) {
  if (isDuration(f)) return "a duration like 60s or 250ms";
  switch (ruleOf(f).kind()) {
    case v1::FieldRule::KIND_HOST_PORT:
      return "host:port";
    case v1::FieldRule::KIND_HOST_PORT_LIST:
      return "a comma-separated host:port list";
    case v1::FieldRule::KIND_HOST:
      return "a host name or IP address";
    case v1::FieldRule::KIND_BYTES:
      return "a byte size like 64MiB";
    case v1::FieldRule::KIND_KAFKA_TOPIC:
      return "a Kafka topic name";
    case v1::FieldRule::KIND_IDENTIFIER:
      return "an identifier";
    case v1::FieldRule::KIND_PATH:
      return "a file path";
    case v1::FieldRule::KIND_HTTP_URL:
      return "an http:// URL";
    default:
      break;
  }
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_BOOL:
      return "true or false";
    case FieldDescriptor::CPPTYPE_STRING:
      return "a string";
    case FieldDescriptor::CPPTYPE_UINT32:
    case FieldDescriptor::CPPTYPE_UINT64:
      return "a non-negative integer";
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64:
      return "an integer";
    case FieldDescriptor::CPPTYPE_ENUM: {
      std::string out = "one of: ";
      const EnumDescriptor* e = f->enum_type();
      for (int i = 1; i < e->value_count(); ++i) {
        out += (i > 1 ? ", " : "") + lower(e->value(i)->name());
      }
      return out;
    }
    default:
      return "a value";
  }
}

Status setScalar(Message* msg, const FieldDescriptor* f, std::string_view text) {
  const auto* r = msg->GetReflection();
  if (isDuration(f)) {
    TM_ASSIGN_OR_RETURN(int64_t nanos, parseDuration(text));
    TM_RETURN_IF_ERROR(checkBounds(f, text));
    auto* d = static_cast<Duration*>(r->MutableMessage(msg, f));
    d->set_seconds(nanos / 1'000'000'000);
    d->set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
    return Status::ok();
  }
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      if (!text.empty() || ruleOf(f).required()) TM_RETURN_IF_ERROR(checkKind(f, text));
      r->SetString(msg, f, std::string(text));
      return Status::ok();
    case FieldDescriptor::CPPTYPE_BOOL:
      if (text != "true" && text != "false") {
        return invalidArgument("expected true or false, got \"" + std::string(text) + "\"");
      }
      r->SetBool(msg, f, text == "true");
      return Status::ok();
    case FieldDescriptor::CPPTYPE_ENUM:
      return setEnum(msg, f, text);
    case FieldDescriptor::CPPTYPE_UINT32:
    case FieldDescriptor::CPPTYPE_UINT64:
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64:
      break;
    default:
      return internalError("config field " + f->full_name() + " has an unsupported type");
  }
  TM_ASSIGN_OR_RETURN(long double v, numericValue(f, text));
  TM_RETURN_IF_ERROR(checkBounds(f, text));
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_UINT32:
      if (v > std::numeric_limits<uint32_t>::max()) return outOfRange("value is too large");
      r->SetUInt32(msg, f, static_cast<uint32_t>(v));
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      r->SetUInt64(msg, f, static_cast<uint64_t>(v));
      break;
    case FieldDescriptor::CPPTYPE_INT32:
      if (v > std::numeric_limits<int32_t>::max() || v < std::numeric_limits<int32_t>::min()) {
        return outOfRange("value is out of range");
      }
      r->SetInt32(msg, f, static_cast<int32_t>(v));
      break;
    default:
      r->SetInt64(msg, f, static_cast<int64_t>(v));
      break;
  }
  return Status::ok();
}

bool isEmpty(const Message& msg, const FieldDescriptor* f) {
  const auto* r = msg.GetReflection();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      return r->GetString(msg, f).empty();
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return !r->HasField(msg, f);
    default:
      return !r->HasField(msg, f);  // proto3 scalars: "has" means non-zero
  }
}

void emitMessage(YAML::Emitter& out, const Message& msg) {
  const auto* d = msg.GetDescriptor();
  const auto* r = msg.GetReflection();
  out << YAML::BeginMap;
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    out << YAML::Key << f->name() << YAML::Value;
    if (isDuration(f)) {
      const auto& dur = static_cast<const Duration&>(r->GetMessage(msg, f));
      out << formatDuration(dur.seconds() * 1'000'000'000 + dur.nanos());
      continue;
    }
    const bool bytes = ruleOf(f).kind() == v1::FieldRule::KIND_BYTES;
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_MESSAGE:
        emitMessage(out, r->GetMessage(msg, f));
        break;
      case FieldDescriptor::CPPTYPE_STRING:
        out << YAML::DoubleQuoted << r->GetString(msg, f);
        break;
      case FieldDescriptor::CPPTYPE_BOOL:
        out << r->GetBool(msg, f);
        break;
      case FieldDescriptor::CPPTYPE_ENUM:
        out << enumName(f, r->GetEnumValue(msg, f));
        break;
      case FieldDescriptor::CPPTYPE_UINT32:
        out << r->GetUInt32(msg, f);
        break;
      case FieldDescriptor::CPPTYPE_UINT64:
        if (bytes) {
          out << formatBytes(r->GetUInt64(msg, f));
        } else {
          out << r->GetUInt64(msg, f);
        }
        break;
      case FieldDescriptor::CPPTYPE_INT32:
        out << r->GetInt32(msg, f);
        break;
      case FieldDescriptor::CPPTYPE_INT64:
        out << r->GetInt64(msg, f);
        break;
      default:
        out << YAML::Null;
        break;
    }
  }
  out << YAML::EndMap;
}

}  // namespace tidemark::config
