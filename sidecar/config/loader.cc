#include "sidecar/config/loader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

#include "google/protobuf/duration.pb.h"
#include "sidecar/config/reflect.h"
#include "sidecar/config/scalars.h"

namespace tidemark::config {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// "file.yaml:7" from a node's position; yaml-cpp counts lines from 0.
std::string where(std::string_view source, const YAML::Node& node) {
  std::string out(source);
  // An override is one line of its own; its position inside the value says nothing.
  if (source.rfind("--set ", 0) == 0) return out;
  const YAML::Mark mark = node.Mark();
  if (mark.line >= 0) out += ":" + std::to_string(mark.line + 1);
  return out;
}

std::string knownFields(const Descriptor* d) {
  std::string out;
  for (int i = 0; i < d->field_count(); ++i) {
    if (i) out += ", ";
    out += d->field(i)->name();
  }
  return out;
}

std::string typeOf(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Null:
      return "nothing";
    default:
      return "\"" + node.Scalar() + "\"";
  }
}

Status applyMessage(Message* msg, const YAML::Node& node, const std::string& path,
                    std::string_view source);

Status applyField(Message* msg, const FieldDescriptor* field, const YAML::Node& node,
                  const std::string& path, std::string_view source) {
  const bool is_struct =
      field->type() == FieldDescriptor::TYPE_MESSAGE && !isScalarMessage(field->message_type());
  if (is_struct) {
    if (!node.IsMap() && !node.IsNull()) {
      return invalidArgument(where(source, node) + ": " + path + ": expected a mapping, got " +
                             typeOf(node));
    }
    return applyMessage(msg->GetReflection()->MutableMessage(msg, field), node, path, source);
  }
  if (!node.IsScalar()) {
    return invalidArgument(where(source, node) + ": " + path + ": expected " +
                           describeExpected(field) + ", got " + typeOf(node));
  }
  Status s = setScalar(msg, field, node.Scalar());
  if (!s.isOk()) return invalidArgument(where(source, node) + ": " + path + ": " + s.message());
  return Status::ok();
}

Status applyMessage(Message* msg, const YAML::Node& node, const std::string& path,
                    std::string_view source) {
  if (node.IsNull()) return Status::ok();
  const Descriptor* d = msg->GetDescriptor();
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) {
      return invalidArgument(where(source, kv.first) + ": " + path + ": keys must be plain names");
    }
    const std::string& key = kv.first.Scalar();
    const std::string child = path.empty() ? key : path + "." + key;
    const FieldDescriptor* field = d->FindFieldByName(key);
    if (field == nullptr) {
      return invalidArgument(where(source, kv.first) + ": " + child + ": unknown field (" +
                             (path.empty() ? std::string("top level") : path) +
                             " has: " + knownFields(d) + ")");
    }
    TM_RETURN_IF_ERROR(applyField(msg, field, kv.second, child, source));
  }
  return Status::ok();
}

// Sets every field that has a default, recursively.
void applyDefaults(Message* msg) {
  const Descriptor* d = msg->GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* field = d->field(i);
    if (field->type() == FieldDescriptor::TYPE_MESSAGE && !isScalarMessage(field->message_type())) {
      applyDefaults(msg->GetReflection()->MutableMessage(msg, field));
      continue;
    }
    const std::string& def = ruleOf(field).default_();
    if (def.empty()) continue;
    Status s = setScalar(msg, field, def);
    // A bad default is a schema bug; tests load defaults() and would fail first.
    assert(s.isOk() && "config schema default does not pass its own rule");
    (void)s;
  }
}

Status applyOverride(Config* config, const Override& o) {
  const std::string source = "--set " + o.path + "=" + o.value;
  // Quoted only when valid: the message must not carry the bad bytes on.
  if (firstInvalidUtf8(o.path)) return invalidArgument("--set ...: the path is not valid UTF-8");
  if (firstInvalidUtf8(o.value)) {
    return invalidArgument("--set " + o.path +
                           "=...: the value is not valid UTF-8 (config values are UTF-8 text)");
  }
  YAML::Node value;
  try {
    value = YAML::Load(o.value);
  } catch (const YAML::Exception& e) {
    return invalidArgument(source + ": invalid YAML value: " + e.msg);
  }
  Message* msg = config;
  std::string path;
  std::string_view rest = o.path;
  while (true) {
    size_t dot = rest.find('.');
    std::string key(rest.substr(0, dot));
    const std::string child = path.empty() ? key : path + "." + key;
    const FieldDescriptor* field = msg->GetDescriptor()->FindFieldByName(key);
    if (field == nullptr) {
      return invalidArgument(source + ": " + child + ": unknown field (" +
                             (path.empty() ? std::string("top level") : path) +
                             " has: " + knownFields(msg->GetDescriptor()) + ")");
    }
    if (dot == std::string_view::npos) return applyField(msg, field, value, child, source);
    if (field->type() != FieldDescriptor::TYPE_MESSAGE || isScalarMessage(field->message_type())) {
      return invalidArgument(source + ": " + child + ": is a value, not a section");
    }
    msg = msg->GetReflection()->MutableMessage(msg, field);
    path = child;
    rest = rest.substr(dot + 1);
  }
}

Status checkRequired(const Message& msg, const std::string& path, std::string_view source) {
  const Descriptor* d = msg.GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* field = d->field(i);
    const std::string child = path.empty() ? field->name() : path + "." + field->name();
    if (field->type() == FieldDescriptor::TYPE_MESSAGE && !isScalarMessage(field->message_type())) {
      TM_RETURN_IF_ERROR(checkRequired(msg.GetReflection()->GetMessage(msg, field), child, source));
      continue;
    }
    if (ruleOf(field).required() && isEmpty(msg, field)) {
      return invalidArgument(std::string(source) + ": " + child + ": is required (" +
                             describeExpected(field) + ")");
    }
  }
  return Status::ok();
}

StatusOr<Config> finish(Config config, const std::vector<Override>& overrides,
                        std::string_view source) {
  for (const Override& o : overrides) TM_RETURN_IF_ERROR(applyOverride(&config, o));
  TM_RETURN_IF_ERROR(validate(config, source));
  return config;
}

// Errors are one line (loader.h), even when they quote a value or a --set
// path that holds line breaks: those are written as \n and \r.
StatusOr<Config> oneLine(StatusOr<Config> result) {
  if (result.isOk()) return result;
  std::string message;
  for (char c : result.status().message()) {
    if (c == '\n') {
      message += "\\n";
    } else if (c == '\r') {
      message += "\\r";
    } else {
      message += c;
    }
  }
  return Status(result.status().code(), std::move(message));
}

}  // namespace

StatusOr<Override> parseOverride(std::string_view arg) {
  size_t eq = arg.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return invalidArgument("--set " + std::string(arg) + ": expected path=value, e.g. " +
                           "checkpoint.interval=30s");
  }
  return Override{std::string(arg.substr(0, eq)), std::string(arg.substr(eq + 1))};
}

Config defaults() {
  Config config;
  applyDefaults(&config);
  return config;
}

namespace {
StatusOr<Config> loadYamlText(std::string_view yaml, std::string_view source,
                              const std::vector<Override>& overrides) {
  if (auto at = firstInvalidUtf8(yaml)) {
    const auto line = 1 + std::count(yaml.begin(), yaml.begin() + *at, '\n');
    const size_t newline = *at == 0 ? std::string_view::npos : yaml.rfind('\n', *at - 1);
    const size_t column = newline == std::string_view::npos ? *at + 1 : *at - newline;
    return invalidArgument(std::string(source) + ":" + std::to_string(line) +
                           ": not valid UTF-8 at column " + std::to_string(column) +
                           " (config files are UTF-8 text)");
  }
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::ParserException& e) {
    return invalidArgument(std::string(source) + ":" + std::to_string(e.mark.line + 1) +
                           ": invalid YAML: " + e.msg);
  } catch (const YAML::Exception& e) {
    return invalidArgument(std::string(source) + ": invalid YAML: " + e.msg);
  }
  if (!root.IsMap() && !root.IsNull()) {
    return invalidArgument(where(source, root) + ": expected a mapping of sections (proxy:, " +
                           "checkpoint:, ...) at the top level, got " + typeOf(root));
  }
  Config config = defaults();
  TM_RETURN_IF_ERROR(applyMessage(&config, root, "", source));
  return finish(std::move(config), overrides, source);
}
}  // namespace

StatusOr<Config> loadYaml(std::string_view yaml, std::string_view source,
                          const std::vector<Override>& overrides) {
  return oneLine(loadYamlText(yaml, source, overrides));
}

StatusOr<Config> loadFile(const std::string& path, const std::vector<Override>& overrides) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return invalidArgument(path + ": cannot read config file: " + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return invalidArgument(path + ": cannot read config file: read failed");
  return loadYaml(text.str(), path, overrides);
}

StatusOr<Config> loadOverrides(const std::vector<Override>& overrides) {
  return oneLine(finish(defaults(), overrides, "--set"));
}

Status validate(const Config& config, std::string_view source) {
  TM_RETURN_IF_ERROR(checkRequired(config, "", source));
  // Both listeners bind on this host: the same address twice cannot work.
  if (config.proxy().listen() == config.http().listen() &&
      parseHostPort(config.http().listen())->port != 0) {
    return invalidArgument(std::string(source) + ": http.listen: " + config.http().listen() +
                           " is already proxy.listen; give the HTTP API its own port");
  }
  // Whoever reaches the HTTP API can rewrite the application's state.
  const auto http = parseHostPort(config.http().listen());
  if (http.isOk() && !isLoopback(http->host) && config.http().token_file().empty() &&
      !config.http().allow_insecure_remote()) {
    return invalidArgument(std::string(source) + ": http.listen: " + config.http().listen() +
                           " is not a loopback address; set http.token_file (or " +
                           "http.allow_insecure_remote: true to serve it unauthenticated)");
  }
  const auto& tls = config.proxy().upstream().tls();
  if (tls.cert_file().empty() != tls.key_file().empty()) {
    return invalidArgument(std::string(source) + ": proxy.upstream.tls: cert_file and key_file " +
                           "go together (mutual TLS needs both)");
  }
  return Status::ok();
}

std::string renderYaml(const Config& config) {
  YAML::Emitter out;
  emitMessage(out, config);
  return std::string(out.c_str()) + "\n";
}

}  // namespace tidemark::config
