"""Parser for our Kafka message definitions (*.kdef; format in README.md).

Shared by the code generator (codegen.py) and the reference cross-check test.
Errors name the file and line: a definition that does not parse fails the build.
"""

import dataclasses
import pathlib
import re

PRIMITIVES = ("bool", "int8", "int16", "int32", "int64", "uint16", "float64", "uuid", "string",
              "bytes", "records")


class DefinitionError(Exception):
    pass


def parse_range(text):
    """'3+' -> (3, None); '0-2' -> (0, 2); '7' -> (7, 7); 'none' -> None."""
    text = text.strip()
    if text == "none":
        return None
    m = re.fullmatch(r"(\d+)\+", text)
    if m:
        return (int(m.group(1)), None)
    m = re.fullmatch(r"(\d+)-(\d+)", text)
    if m:
        return (int(m.group(1)), int(m.group(2)))
    m = re.fullmatch(r"(\d+)", text)
    if m:
        return (int(m.group(1)), int(m.group(1)))
    raise ValueError(f"bad version range {text!r}")


def in_range(rng, version):
    return rng is not None and rng[0] <= version and (rng[1] is None or version <= rng[1])


@dataclasses.dataclass
class Field:
    name: str
    type: str                 # as written: 'int32', '[]int32', '[]Broker', 'Leader'
    versions: tuple
    nullable: tuple = None
    tag: int = None
    default: str = None
    struct: "Struct" = None   # for struct and []struct types
    line: int = 0

    @property
    def is_array(self):
        return self.type.startswith("[]")

    @property
    def element(self):
        return self.type[2:] if self.is_array else self.type

    @property
    def is_struct(self):
        return self.element not in PRIMITIVES


@dataclasses.dataclass
class Struct:
    name: str
    fields: list


@dataclasses.dataclass
class Api:
    name: str
    key: int
    versions: tuple
    flexible: tuple
    request: Struct = None
    response: Struct = None
    path: str = ""


_FIELD = re.compile(r"([a-z][a-z0-9_]*) (\S+)((?: [a-z]+=\S+)*)$")


def parse_file(path):
    path = pathlib.Path(path)
    return parse_text(path.read_text(), str(path))


def parse_text(text, source="<text>"):
    api = None
    body = None          # the Struct being filled (request or response)
    stack = []           # (indent, Struct) of open structs
    structs = {}         # struct name -> Struct, per message body

    def fail(lineno, msg):
        raise DefinitionError(f"{source}:{lineno}: {msg}")

    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        content = line.strip()
        if indent == 0:
            if content.startswith("api "):
                m = re.fullmatch(r"api ([A-Z][A-Za-z0-9]*) key=(\d+) versions=(\S+) flexible=(\S+)",
                                 content)
                if not m:
                    fail(lineno, "expected: api NAME key=K versions=RANGE flexible=RANGE|none")
                try:
                    api = Api(m.group(1), int(m.group(2)), parse_range(m.group(3)),
                              parse_range(m.group(4)), path=source)
                except ValueError as e:
                    fail(lineno, str(e))
                continue
            if content in ("request", "response"):
                if api is None:
                    fail(lineno, f"{content} before api line")
                body = Struct(api.name + content.capitalize(), [])
                setattr(api, content, body)
                stack = [(0, body)]
                structs = {}
                continue
            fail(lineno, f"unexpected {content!r}")
        if body is None:
            fail(lineno, "field outside request/response")
        if indent % 2:
            fail(lineno, "indent by two spaces per level")
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if not stack or stack[-1][0] != indent - 2:
            fail(lineno, "field indented deeper than its parent allows")
        parent = stack[-1][1]
        if parent is None:
            fail(lineno, "a struct's fields are given only at its first use")
        m = _FIELD.fullmatch(content)
        if not m:
            fail(lineno, "expected: name type v=RANGE [null=RANGE] [tag=N] [default=X]")
        attrs = dict(a.split("=", 1) for a in m.group(3).split())
        unknown = set(attrs) - {"v", "null", "tag", "default"}
        if unknown or "v" not in attrs:
            fail(lineno, f"attributes must be v=, null=, tag=, default= (v= required)")
        try:
            field = Field(m.group(1), m.group(2), parse_range(attrs["v"]),
                          parse_range(attrs["null"]) if "null" in attrs else None,
                          int(attrs["tag"]) if "tag" in attrs else None,
                          attrs.get("default"), line=lineno)
        except ValueError as e:
            fail(lineno, str(e))
        element = field.element
        if field.is_struct:
            if not re.fullmatch(r"[A-Z][A-Za-z0-9]*", element):
                fail(lineno, f"unknown type {field.type!r}")
            if element in structs:
                field.struct = structs[element]
                stack.append((indent, None))  # a later use: children would be a mistake
            else:
                field.struct = structs[element] = Struct(element, [])
                stack.append((indent, field.struct))
        if any(f.name == field.name for f in parent.fields):
            fail(lineno, f"duplicate field {field.name}")
        parent.fields.append(field)
    if api is None or api.request is None or api.response is None:
        raise DefinitionError(f"{source}: needs an api line, a request and a response")
    _check_structs_defined(api.request, source)
    _check_structs_defined(api.response, source)
    return api


def _check_structs_defined(struct, source, seen=None):
    seen = seen if seen is not None else set()
    for f in struct.fields:
        if f.is_struct and f.struct.name not in seen:
            if not f.struct.fields:
                raise DefinitionError(f"{source}:{f.line}: struct {f.struct.name} has no fields")
            seen.add(f.struct.name)
            _check_structs_defined(f.struct, source, seen)
