#!/usr/bin/env python3
"""Generates the Kafka codec (C++) from our message definitions (*.kdef).

    codegen.py OUT_DIR DEF...

Writes into OUT_DIR:
  messages.h          one struct per request/response, the API registry
  messages_<api>.cc   decode/encode for one API
  registry.cc         the registry and the generic round trip
  testing.h/.cc       randomised instances for tests (not linked into the sidecar)

The generated code follows kdef semantics (protocol/kafka/README.md): fields are
on the wire only in their versions; compact forms in flexible versions; tagged
fields in the tagged section, omitted at their default; unknown tags kept.
"""

import pathlib
import re
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import kdef  # noqa: E402

SCALARS = {
    "bool": "bool", "int8": "int8_t", "int16": "int16_t", "int32": "int32_t",
    "int64": "int64_t", "uint16": "uint16_t", "float64": "double", "uuid": "Uuid",
}
READ = {
    "bool": "r.readBool()", "int8": "r.readInt8()", "int16": "r.readInt16()",
    "int32": "r.readInt32()", "int64": "r.readInt64()", "uint16": "r.readUint16()",
    "float64": "r.readFloat64()", "uuid": "r.readUuid()",
}
WRITE = {
    "bool": "writeBool", "int8": "writeInt8", "int16": "writeInt16", "int32": "writeInt32",
    "int64": "writeInt64", "uint16": "writeUint16", "float64": "writeFloat64",
    "uuid": "writeUuid",
}


def snake(name):
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()


def cond(rng, var="version"):
    """C++ condition for `var` in the range; None if never."""
    if rng is None:
        return None
    lo, hi = rng
    parts = []
    if lo > 0:
        parts.append(f"{var} >= {lo}")
    if hi is not None:
        parts.append(f"{var} <= {hi}")
    return " && ".join(parts) if parts else "true"


def element_cpp(f):
    if f.is_struct:
        return f.element
    if f.element in SCALARS:
        return SCALARS[f.element]
    if f.element == "records":
        return "std::string_view"
    return "std::string"


def cpp_type(f):
    if f.is_array:
        t = f"std::vector<{element_cpp(f)}>"
        return f"std::optional<{t}>" if f.nullable else t
    if f.element in ("string", "bytes"):
        return "std::optional<std::string>" if f.nullable else "std::string"
    if f.element == "records":
        return "std::optional<std::string_view>"
    return element_cpp(f)


def is_optional(f):
    return cpp_type(f).startswith("std::optional")


def initializer(f):
    d = f.default
    if f.is_array:
        if is_optional(f):
            return " = std::nullopt" if d == "null" else f" = {cpp_type(f)[14:-1]}()"
        return ""
    if f.element in ("string", "bytes"):
        if d == "null":
            return " = std::nullopt"
        if d is not None:
            return f" = std::string({quote(d)})"
        return " = std::string()" if is_optional(f) else ""
    if f.element == "records":
        return " = std::nullopt" if d == "null" else " = std::string_view()"
    if f.is_struct or f.element == "uuid":
        return ""
    if f.element == "bool":
        return " = true" if d == "true" else " = false"
    if f.element == "float64":
        return f" = {float(d)}" if d else " = 0"
    if d is None:
        return " = 0"
    value = int(d, 16) if d.lower().startswith("0x") else int(d)
    return f" = static_cast<{SCALARS[f.element]}>({value}LL)"


def quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def structs_post_order(body):
    """Nested struct types of a message body, each after the structs it contains."""
    seen, order = set(), []

    def visit(struct):
        for f in struct.fields:
            if f.is_struct and f.struct.name not in seen:
                seen.add(f.struct.name)
                visit(f.struct)
                order.append(f.struct)

    visit(body)
    return order


# ---------------------------------------------------------------- declarations

def declare_struct(out, struct, indent, top=None):
    pad = " " * indent
    out.append(f"{pad}struct {struct.name} {{")
    if top:
        api, kind = top
        out.append(f"{pad}  static constexpr int16_t kApiKey = {api.key};")
        out.append(f"{pad}  static constexpr bool kIsRequest = {'true' if kind == 'request' else 'false'};")
        for nested in structs_post_order(struct):
            declare_struct(out, nested, indent + 2)
    for f in struct.fields:
        out.append(f"{pad}  {cpp_type(f)} {f.name}{initializer(f)};")
    out.append(f"{pad}  TaggedFields unknown_tags;")
    out.append("")
    out.append(f"{pad}  void decode(Reader& r, int16_t version, bool flexible);")
    out.append(f"{pad}  void encode(Writer& w, int16_t version, bool flexible) const;")
    if top:
        out.append(f"{pad}  // Decodes a whole body; fails on trailing bytes.")
        out.append(f"{pad}  Status parse(std::string_view body, int16_t version);")
        out.append(f"{pad}  // Encodes the body (no header) for `version`.")
        out.append(f"{pad}  StatusOr<std::string> serialize(int16_t version) const;")
    out.append(f"{pad}  bool operator==(const {struct.name}&) const = default;")
    out.append(f"{pad}}};")
    out.append("")


# ---------------------------------------------------------------- decode

def decode_value(f, target, reader, pad, scope):
    """Lines decoding one value of field f into `target` from `reader`."""
    lines = []
    e = f.element
    flex = "flexible"
    if f.is_array:
        inner = target + ("->" if is_optional(f) else ".")
        lines.append(f"{pad}{{")
        lines.append(f"{pad}  int32_t n = {reader}.readArrayLength({flex});")
        null_ok = cond(f.nullable)
        if is_optional(f):
            lines.append(f"{pad}  if (n < 0) {{")
            lines.append(f"{pad}    {target} = std::nullopt;")
            if null_ok != "true":
                lines.append(f"{pad}    if ({reader}.ok() && !({null_ok or 'false'})) "
                             f"{reader}.fail(\"{f.name} is null\");")
            lines.append(f"{pad}  }} else {{")
            lines.append(f"{pad}    {target}.emplace();")
        else:
            lines.append(f"{pad}  if (n < 0) {{")
            lines.append(f"{pad}    if ({reader}.ok()) {reader}.fail(\"{f.name} is null\");")
            lines.append(f"{pad}  }} else {{")
            lines.append(f"{pad}    {target}.clear();")
        lines.append(f"{pad}    {inner}reserve(static_cast<size_t>(n));")
        lines.append(f"{pad}    for (int32_t i = 0; i < n && {reader}.ok(); ++i) {{")
        if f.is_struct:
            lines.append(f"{pad}      {scope}{e} item;")
            lines.append(f"{pad}      item.decode({reader}, version, flexible);")
            lines.append(f"{pad}      {inner}push_back(std::move(item));")
        elif e in READ:
            lines.append(f"{pad}      {inner}push_back({READ[e].replace('r.', reader + '.')});")
        elif e == "string":
            lines.append(f"{pad}      {inner}push_back({reader}.readString(flexible));")
        else:
            raise SystemExit(f"codegen: arrays of {e} are not supported ({f.name})")
        lines.append(f"{pad}    }}")
        lines.append(f"{pad}  }}")
        lines.append(f"{pad}}}")
        return lines
    if f.is_struct:
        return [f"{pad}{target}.decode({reader}, version, flexible);"]
    if e in READ:
        return [f"{pad}{target} = {READ[e].replace('r.', reader + '.')};"]
    if e in ("string", "bytes", "records"):
        kind = {"string": "String", "bytes": "Bytes", "records": "Records"}[e]
        if is_optional(f):
            call = f"read{'Nullable' if e != 'records' else ''}{kind}(flexible)"
            lines.append(f"{pad}{target} = {reader}.{call};")
            null_ok = cond(f.nullable)
            if null_ok != "true":
                lines.append(f"{pad}if (!{target} && {reader}.ok() && !({null_ok or 'false'})) "
                             f"{reader}.fail(\"{f.name} is null\");")
            return lines
        return [f"{pad}{target} = {reader}.read{kind}(flexible);"]
    raise SystemExit(f"codegen: unsupported type {f.type}")


def define_decode(out, struct, scope):
    out.append(f"void {scope}{struct.name}::decode(Reader& r, int16_t version, bool flexible) {{")
    out.append("  (void)version;")
    for f in struct.fields:
        c = cond(f.versions)
        if c is None or f.tag is not None:
            continue
        out.append(f"  if ({c}) {{")
        out.extend(decode_value(f, f.name, "r", "    ", scope))
        out.append("  }")
    out.append("  if (!flexible) return;")
    tagged = [f for f in struct.fields if f.tag is not None and f.versions is not None]
    out.append("  r.readTaggedFields([&](uint32_t tag, std::string_view data) {")
    if tagged:
        out.append("    switch (tag) {")
        for f in tagged:
            out.append(f"      case {f.tag}:")
            out.append(f"        if ({cond(f.versions)}) {{")
            out.append("          Reader sub(data);")
            out.extend(decode_value(f, f.name, "sub", "          ", scope))
            out.append("          if (sub.ok() && sub.remaining() != 0) sub.fail(\"trailing bytes\");")
            out.append(f"          if (!sub.ok()) r.fail(\"tagged field {f.name}: \" + sub.error());")
            out.append("          return;")
            out.append("        }")
            out.append("        break;")
        out.append("      default:")
        out.append("        break;")
        out.append("    }")
    out.append("    unknown_tags.push_back({tag, std::string(data)});")
    out.append("  });")
    out.append("}")
    out.append("")


# ---------------------------------------------------------------- encode

def encode_value(f, value, writer, pad):
    lines = []
    e = f.element
    if f.is_array:
        null_ok = cond(f.nullable)
        if is_optional(f):
            lines.append(f"{pad}if (!{value}) {{")
            if null_ok != "true":
                lines.append(f"{pad}  if (!({null_ok or 'false'})) {writer}.fail(\"{f.name} is null\");")
            lines.append(f"{pad}  {writer}.writeArrayLength(-1, flexible);")
            lines.append(f"{pad}}} else {{")
            items = f"*{value}"
        else:
            lines.append(f"{pad}{{")
            items = value
        lines.append(f"{pad}  {writer}.writeArrayLength(static_cast<int32_t>(({items}).size()), flexible);")
        lines.append(f"{pad}  for (const auto& item : {items}) {{")
        if f.is_struct:
            lines.append(f"{pad}    item.encode({writer}, version, flexible);")
        elif e in WRITE:
            lines.append(f"{pad}    {writer}.{WRITE[e]}(item);")
        else:
            lines.append(f"{pad}    {writer}.writeString(item, flexible);")
        lines.append(f"{pad}  }}")
        lines.append(f"{pad}}}")
        return lines
    if f.is_struct:
        return [f"{pad}{value}.encode({writer}, version, flexible);"]
    if e in WRITE:
        return [f"{pad}{writer}.{WRITE[e]}({value});"]
    kind = {"string": "String", "bytes": "Bytes", "records": "Records"}[e]
    if is_optional(f):
        null_ok = cond(f.nullable)
        if null_ok != "true":
            lines.append(f"{pad}if (!{value} && !({null_ok or 'false'})) {writer}.fail(\"{f.name} is null\");")
        call = f"write{'Nullable' if e != 'records' else ''}{kind}"
        lines.append(f"{pad}{writer}.{call}({value}, flexible);")
        return lines
    return [f"{pad}{writer}.write{kind}({value}, flexible);"]


def define_encode(out, struct, scope):
    out.append(f"void {scope}{struct.name}::encode(Writer& w, int16_t version, bool flexible) const {{")
    out.append("  (void)version;")
    for f in struct.fields:
        c = cond(f.versions)
        if c is None or f.tag is not None:
            continue
        out.append(f"  if ({c}) {{")
        out.extend(encode_value(f, f.name, "w", "    "))
        out.append("  }")
    out.append("  if (!flexible) return;")
    tagged = [f for f in struct.fields if f.tag is not None and f.versions is not None]
    out.append("  std::vector<TaggedField> tags = unknown_tags;")
    if tagged:
        out.append(f"  static const {scope}{struct.name} kDefault;")
        for f in tagged:
            out.append(f"  if (({cond(f.versions)}) && !({f.name} == kDefault.{f.name})) {{")
            out.append("    std::string buf;")
            out.append("    Writer sub(buf);")
            out.extend(encode_value(f, f.name, "sub", "    "))
            out.append("    if (!sub.ok()) w.fail(sub.error());")
            out.append(f"    tags.push_back({{{f.tag}, std::move(buf)}});")
            out.append("  }")
    out.append("  w.writeTaggedFields(std::move(tags));")
    out.append("}")
    out.append("")


def define_top(out, api, kind, name):
    flex = cond(api.flexible) or "false"
    out.append(f"Status {name}::parse(std::string_view body, int16_t version) {{")
    out.append(f"  if (!({cond(api.versions)})) {{")
    out.append(f"    return invalidArgument(\"{name} version \" + std::to_string(version) + \" is not supported\");")
    out.append("  }")
    out.append("  Reader r(body);")
    out.append(f"  decode(r, version, {flex});")
    out.append("  if (r.ok() && r.remaining() != 0) r.fail(\"trailing bytes\");")
    out.append(f"  if (!r.ok()) return invalidArgument(\"{name} v\" + std::to_string(version) + \": \" + r.error());")
    out.append("  return Status::ok();")
    out.append("}")
    out.append("")
    out.append(f"StatusOr<std::string> {name}::serialize(int16_t version) const {{")
    out.append("  std::string out;")
    out.append("  Writer w(out);")
    out.append(f"  encode(w, version, {flex});")
    out.append(f"  if (!w.ok()) return invalidArgument(\"{name} v\" + std::to_string(version) + \": \" + w.error());")
    out.append("  return out;")
    out.append("}")
    out.append("")


# ---------------------------------------------------------------- testing

def randomize_value(f, target, pad, scope):
    e = f.element
    lines = []
    null_ok = cond(f.nullable) or "false"
    if f.is_array:
        if is_optional(f):
            lines.append(f"{pad}if (({null_ok}) && rng.chance(4)) {{")
            lines.append(f"{pad}  {target} = std::nullopt;")
            lines.append(f"{pad}}} else {{")
            lines.append(f"{pad}  {target}.emplace();")
            items = f"(*{target})"
        else:
            lines.append(f"{pad}{{")
            items = target
        lines.append(f"{pad}  size_t n = rng.below(4);")
        lines.append(f"{pad}  for (size_t i = 0; i < n; ++i) {{")
        if f.is_struct:
            lines.append(f"{pad}    {scope}{e} item;")
            lines.append(f"{pad}    randomize(item, version, flexible, rng);")
            lines.append(f"{pad}    {items}.push_back(std::move(item));")
        elif e == "string":
            lines.append(f"{pad}    {items}.push_back(rng.text());")
        else:
            lines.append(f"{pad}    {items}.push_back(rng.number<{SCALARS[e]}>());")
        lines.append(f"{pad}  }}")
        lines.append(f"{pad}}}")
        return lines
    if f.is_struct:
        return [f"{pad}randomize({target}, version, flexible, rng);"]
    if e == "bool":
        return [f"{pad}{target} = rng.chance(2);"]
    if e == "uuid":
        return [f"{pad}{target} = rng.uuid();"]
    if e in SCALARS:
        return [f"{pad}{target} = rng.number<{SCALARS[e]}>();"]
    value = {"string": "rng.text()", "bytes": "rng.text()", "records": "rng.view()"}[e]
    if is_optional(f):
        return [f"{pad}if (({null_ok}) && rng.chance(4)) {{",
                f"{pad}  {target} = std::nullopt;",
                f"{pad}}} else {{",
                f"{pad}  {target} = {value};",
                f"{pad}}}"]
    return [f"{pad}{target} = {value};"]


def define_randomize(out, struct, qualified, scope):
    out.append(f"void randomize({qualified}& m, int16_t version, bool flexible, Rng& rng) {{")
    out.append("  (void)version;")
    out.append("  (void)rng;")
    for f in struct.fields:
        c = cond(f.versions)
        if c is None:
            continue
        if f.tag is not None:
            c = f"({c}) && flexible"
        out.append(f"  if ({c}) {{")
        out.extend(randomize_value(f, f"m.{f.name}", "    ", scope))
        out.append("  }")
    out.append("  if (flexible && rng.chance(5)) m.unknown_tags.push_back({static_cast<uint32_t>(1000 + rng.below(5)), rng.text()});")
    out.append("  if (m.unknown_tags.size() == 2 && m.unknown_tags[0].tag == m.unknown_tags[1].tag) m.unknown_tags.pop_back();")
    out.append("}")
    out.append("")


# ---------------------------------------------------------------- files

HEADER_PRELUDE = """// Generated by protocol/kafka/codegen.py from protocol/kafka/messages/*.kdef.
// Do not edit; change the definitions instead.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/kafka/wire.h"
#include "sidecar/base/status.h"

namespace tidemark::kafka {
"""


def write_if_changed(path, text):
    path = pathlib.Path(path)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def generate(out_dir, apis):
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    h = [HEADER_PRELUDE]
    for api in apis:
        h.append(f"// ---- {api.name} (key {api.key}) ----")
        h.append("")
        for kind in ("request", "response"):
            declare_struct(h, getattr(api, kind), 0, (api, kind))
    h.append("""// One entry per API the sidecar decodes. Drives dispatch, version checks
// and the ApiVersions answer, so they cannot drift apart.
struct ApiInfo {
  int16_t key;
  const char* name;
  int16_t min_version;
  int16_t max_version;
  int16_t first_flexible;  // -1: never flexible
};
""")
    h.append(f"inline constexpr ApiInfo kApis[] = {{")
    for api in sorted(apis, key=lambda a: a.key):
        flex = api.flexible[0] if api.flexible else -1
        h.append(f"    {{{api.key}, \"{api.name}\", {api.versions[0]}, {api.versions[1]}, {flex}}},")
    h.append("};")
    h.append("")
    h.append("// The entry for `key`, or nullptr if the sidecar does not decode that API.")
    h.append("const ApiInfo* findApi(int16_t key);")
    h.append("")
    h.append("// Decodes a request or response body and encodes it again at the same version:")
    h.append("// the codec's contract in one call, for tests and fuzzing.")
    h.append("StatusOr<std::string> roundTrip(int16_t key, int16_t version, bool request,")
    h.append("                                std::string_view body);")
    h.append("")
    h.append("// Decodes one message from the start of `data` and returns the bytes it used;")
    h.append("// whatever follows is left alone (framing decides what trailing bytes mean).")
    h.append("StatusOr<size_t> decodePrefix(int16_t key, int16_t version, bool request,")
    h.append("                              std::string_view data);")
    h.append("")
    h.append("}  // namespace tidemark::kafka")
    write_if_changed(out_dir / "messages.h", "\n".join(h) + "\n")

    for api in apis:
        cc = ['// Generated by protocol/kafka/codegen.py. Do not edit.',
              '#include "protocol/kafka/messages.h"', "", "namespace tidemark::kafka {", ""]
        for kind in ("request", "response"):
            body = getattr(api, kind)
            scope = body.name + "::"
            for nested in structs_post_order(body):
                define_decode(cc, nested, scope)
                define_encode(cc, nested, scope)
            define_decode(cc, body, "")
            define_encode(cc, body, "")
            define_top(cc, api, kind, body.name)
        cc.append("}  // namespace tidemark::kafka")
        write_if_changed(out_dir / f"messages_{snake(api.name)}.cc", "\n".join(cc) + "\n")

    reg = ['// Generated by protocol/kafka/codegen.py. Do not edit.',
           '#include "protocol/kafka/messages.h"', "", "namespace tidemark::kafka {", "",
           "const ApiInfo* findApi(int16_t key) {",
           "  for (const ApiInfo& api : kApis) {",
           "    if (api.key == key) return &api;",
           "  }",
           "  return nullptr;",
           "}", "",
           "namespace {",
           "template <typename M>",
           "StatusOr<std::string> reencode(int16_t version, std::string_view body) {",
           "  M m;",
           "  TM_RETURN_IF_ERROR(m.parse(body, version));",
           "  return m.serialize(version);",
           "}",
           "template <typename M>",
           "StatusOr<size_t> prefix(int16_t version, bool flexible, std::string_view data) {",
           "  M m;",
           "  Reader r(data);",
           "  m.decode(r, version, flexible);",
           "  if (!r.ok()) return invalidArgument(r.error());",
           "  return r.consumed();",
           "}",
           "}  // namespace", "",
           "StatusOr<size_t> decodePrefix(int16_t key, int16_t version, bool request,",
           "                              std::string_view data) {",
           "  const ApiInfo* api = findApi(key);",
           "  if (api == nullptr || version < api->min_version || version > api->max_version) {",
           "    return invalidArgument(\"API key/version is not decoded\");",
           "  }",
           "  const bool flexible = api->first_flexible >= 0 && version >= api->first_flexible;",
           "  switch (key) {"] + sum([[f"    case {api.key}:",
           f"      return request ? prefix<{api.name}Request>(version, flexible, data)",
           f"                     : prefix<{api.name}Response>(version, flexible, data);"] for api in apis], []) + [
           "    default:",
           "      return invalidArgument(\"API key is not decoded\");",
           "  }",
           "}", "",
           "StatusOr<std::string> roundTrip(int16_t key, int16_t version, bool request,",
           "                                std::string_view body) {",
           "  switch (key) {"]
    for api in apis:
        reg.append(f"    case {api.key}:")
        reg.append(f"      return request ? reencode<{api.name}Request>(version, body)")
        reg.append(f"                     : reencode<{api.name}Response>(version, body);")
    reg += ["    default:",
            "      return invalidArgument(\"API key \" + std::to_string(key) + \" is not decoded\");",
            "  }", "}", "", "}  // namespace tidemark::kafka"]
    write_if_changed(out_dir / "registry.cc", "\n".join(reg) + "\n")

    th = ["// Generated by protocol/kafka/codegen.py. Do not edit.",
          "// Randomised, version-valid instances of every message, for codec tests.",
          "#pragma once", "", '#include "protocol/kafka/messages.h"',
          '#include "protocol/kafka/testing_rng.h"', "",
          "namespace tidemark::kafka::testing {", ""]
    tc = ['// Generated by protocol/kafka/codegen.py. Do not edit.',
          '#include "protocol/kafka/testing.h"', "", "namespace tidemark::kafka::testing {", ""]
    for api in apis:
        for kind in ("request", "response"):
            body = getattr(api, kind)
            scope = body.name + "::"
            for nested in structs_post_order(body):
                th.append(f"void randomize({scope}{nested.name}& m, int16_t version, bool flexible, Rng& rng);")
                define_randomize(tc, nested, scope + nested.name, scope)
            th.append(f"void randomize({body.name}& m, int16_t version, bool flexible, Rng& rng);")
            define_randomize(tc, body, body.name, scope)
    th += ["", "// Encodes a random instance of (key, version, request?) into `out`.",
           "Status randomBody(int16_t key, int16_t version, bool request, Rng& rng, std::string* out);",
           "", "}  // namespace tidemark::kafka::testing"]
    tc += ["Status randomBody(int16_t key, int16_t version, bool request, Rng& rng, std::string* out) {",
           "  switch (key) {"]
    for api in apis:
        flex = cond(api.flexible) or "false"
        for kind in ("request", "response"):
            name = getattr(api, kind).name
        tc.append(f"    case {api.key}: {{")
        tc.append(f"      const bool flexible = {flex};")
        tc.append("      StatusOr<std::string> body = request ? [&] {")
        tc.append(f"        {api.name}Request m; randomize(m, version, flexible, rng); return m.serialize(version);")
        tc.append("      }() : [&] {")
        tc.append(f"        {api.name}Response m; randomize(m, version, flexible, rng); return m.serialize(version);")
        tc.append("      }();")
        tc.append("      if (!body.isOk()) return body.status();")
        tc.append("      *out = std::move(body).value();")
        tc.append("      return Status::ok();")
        tc.append("    }")
    tc += ["    default:", "      return invalidArgument(\"unknown API key\");", "  }", "}", "",
           "}  // namespace tidemark::kafka::testing"]
    write_if_changed(out_dir / "testing.h", "\n".join(th) + "\n")
    write_if_changed(out_dir / "testing.cc", "\n".join(tc) + "\n")


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        apis = [kdef.parse_file(p) for p in sorted(argv[2:])]
    except kdef.DefinitionError as e:
        print(f"codegen: {e}", file=sys.stderr)
        return 1
    keys = [a.key for a in apis]
    if len(set(keys)) != len(keys):
        print("codegen: two definitions share an API key", file=sys.stderr)
        return 1
    generate(argv[1], apis)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
