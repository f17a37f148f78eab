"""Our Kafka message definitions (protocol/kafka/messages/*.kdef) agree with
Kafka 3.8's JSON schemas (../shared/kafka-protocol/, reference data kept
outside the project): same APIs, keys, versions, flexible versions, and for
every field the same name, order, type, versions, nullability, tag and default."""

import json
import os
import pathlib
import re
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "protocol" / "kafka"))
import kdef  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[2]
REFERENCE = pathlib.Path(os.environ.get("TIDEMARK_KAFKA_REFERENCE",
                                        REPO.parent / "shared" / "kafka-protocol"))
DEFS = sorted((REPO / "protocol" / "kafka" / "messages").glob("*.kdef"))


PRIMITIVES = {"bool", "int8", "int16", "int32", "int64", "uint16", "float64", "uuid", "string",
              "bytes", "records"}


def snake(name):
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
    return s.lower()


def load_reference(name):
    text = (REFERENCE / f"{name}.json").read_text()
    return json.loads("\n".join(l for l in text.splitlines() if not l.strip().startswith("//")))


def shape(type_name):
    """'[]int32' -> ('array', 'int32'); '[]Foo' -> ('array', 'struct'); 'Foo' -> ('struct',)."""
    if type_name.startswith("[]"):
        inner = type_name[2:]
        return ("array", inner if inner in PRIMITIVES else "struct")
    return (type_name,) if type_name in PRIMITIVES else ("struct",)


def norm_default(field):
    d = field.get("default")
    if d is None:
        return None
    d = str(d)
    zero = {"0", "false", "", "0.0"}
    return None if d in zero else d


def compare_fields(ours, theirs, where, common):
    names_ours = [f.name for f in ours]
    names_theirs = [snake(f["name"]) for f in theirs]
    assert names_ours == names_theirs, f"{where}: field names/order differ"
    for o, t in zip(ours, theirs):
        at = f"{where}.{o.name}"
        assert shape(o.type) == shape(t["type"]), f"{at}: type {o.type} vs {t['type']}"
        assert o.versions == kdef.parse_range(t.get("versions", "none")), f"{at}: versions"
        assert o.nullable == kdef.parse_range(t.get("nullableVersions", "none")), f"{at}: null="
        assert o.tag == t.get("tag"), f"{at}: tag"
        if "tag" in t:
            assert o.versions == kdef.parse_range(t["taggedVersions"]), f"{at}: tagged versions"
        assert o.default == norm_default(t), f"{at}: default {o.default} vs {norm_default(t)}"
        if shape(t["type"])[-1] == "struct":
            struct_name = t["type"].removeprefix("[]")
            children = t.get("fields")
            if children is None:
                children = common[struct_name]
            compare_fields(o.struct.fields, children, at, common)


@pytest.mark.parametrize("path", DEFS, ids=[p.stem for p in DEFS])
def test_definition_should_match_kafka_reference(path):
    if not REFERENCE.is_dir():
        pytest.skip(f"reference schemas not present at {REFERENCE}")
    api = kdef.parse_file(path)
    for kind in ("request", "response"):
        ref = load_reference(f"{api.name}{kind.capitalize()}")
        assert api.key == ref["apiKey"], "api key"
        assert api.versions == kdef.parse_range(ref["validVersions"]), "versions"
        assert api.flexible == kdef.parse_range(ref["flexibleVersions"]), "flexible versions"
        common = {s["name"]: s["fields"] for s in ref.get("commonStructs", [])}
        compare_fields(getattr(api, kind).fields, ref["fields"], f"{api.name}{kind.capitalize()}",
                       common)


def test_should_define_every_api_the_sidecar_must_decode():
    names = {kdef.parse_file(p).name for p in DEFS}
    required = {"ApiVersions", "Metadata", "FindCoordinator", "DescribeCluster", "OffsetCommit",
                "OffsetFetch", "TxnOffsetCommit", "JoinGroup", "SyncGroup", "LeaveGroup",
                "Heartbeat", "Fetch", "Produce", "EndTxn"}
    assert required <= names, sorted(required - names)


def test_api_names_should_match_the_reference_for_every_api_it_has():
    if not REFERENCE.is_dir():
        pytest.skip(f"reference schemas not present at {REFERENCE}")
    table = (REPO / "protocol" / "kafka" / "api_names.cc").read_text()
    ours = {int(k): n for n, k in re.findall(r'"(\w+)",\s*//\s*(\d+)', table)}
    assert sorted(ours) == list(range(len(ours)))
    checked = 0
    for path in sorted(REFERENCE.glob("*Request.json")):
        ref = load_reference(path.stem)
        assert ours[ref["apiKey"]] == ref["name"][: -len("Request")], path.name
        checked += 1
    assert checked >= 20
