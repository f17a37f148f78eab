"""Runs tests/conformance/cases.json through the Python client's public API,
as tests/conformance/README.md specifies: one sidecar with the file's
settings (and http.token_file holding its token), a fresh client per case,
every step's expectation checked. The runner is strict: an op, argument or
check it does not know fails the case instead of passing it unchecked."""

import base64
import json
import pathlib

import pytest

import tidemark

CASES_FILE = pathlib.Path(__file__).resolve().parents[3] / "tests" / "conformance" / "cases.json"
DOC = json.loads(CASES_FILE.read_text())
assert DOC["version"] == 1, f"cases.json version {DOC['version']}: this runner knows version 1"

CASE_FIELDS = {"name", "about", "steps", "client"}
VALUE_ARGS = {"value", "value_base64", "value_repeat"}
OP_ARGS = {
    "put_state": {"key", "content_type", "if_match", "partition"} | VALUE_ARGS,
    "get_state": {"key", "view", "partition"},
    "delete_state": {"key", "if_match", "partition"},
    "list_state": {"prefix", "view", "partition"},
    "mark_offsets": {"offsets"},
    "commit": {"offsets", "put", "delete"},
    "checkpoint": set(),
    "checkpoints": set(),
    "get_checkpoint": {"id"},
}
CHECKS = {"value", "value_base64", "content_type", "etag", "absent", "keys", "partitions",
          "count_at_least", "trigger", "partition_entry", "save"}
# The typed error each status must arrive as.
ERROR_TYPES = {400: tidemark.BadRequest, 401: tidemark.Unauthenticated, 404: tidemark.NotFound,
               409: tidemark.Conflict, 413: tidemark.PayloadTooLarge}


def resolve(value, saved):
    """Replaces "$name" strings (at any depth) by what a step saved as `name`."""
    if isinstance(value, str) and value.startswith("$"):
        assert value[1:] in saved, f"{value} was not saved by an earlier step"
        return saved[value[1:]]
    if isinstance(value, list):
        return [resolve(v, saved) for v in value]
    if isinstance(value, dict):
        return {k: resolve(v, saved) for k, v in value.items()}
    return value


def step_value(step):
    """The value argument of a step: text (str, sent as UTF-8) or bytes."""
    given = VALUE_ARGS & step.keys()
    assert len(given) == 1, f"a put_state step needs exactly one of {sorted(VALUE_ARGS)}"
    if "value" in step:
        return step["value"]
    if "value_base64" in step:
        return base64.b64decode(step["value_base64"], validate=True)
    repeat = step["value_repeat"]
    assert set(repeat) == {"byte", "count"}, repeat
    return repeat["byte"].encode("utf-8") * repeat["count"]


def expected_bytes(expect):
    if "value" in expect:
        return expect["value"].encode("utf-8")
    return base64.b64decode(expect["value_base64"], validate=True)


def make_client(sidecar, token_file, token, kind):
    url = f"http://{sidecar.http}"
    if kind == "valid":
        return tidemark.Client(url, token_file=token_file)
    if kind == "none":
        return tidemark.Client(url)
    if kind == "wrong":
        return tidemark.Client(url, token=token + "-wrong")
    raise AssertionError(f"unknown client token kind {kind!r}")


def state_scope(client, args):
    """The client (instance scope), or its partition scope for a step with a
    "partition": {group, topic, partition} argument."""
    if "partition" not in args:
        return client
    p = args["partition"]
    assert set(p) == {"group", "topic", "partition"}, f"partition argument {p!r}"
    return client.partition(p["group"], p["topic"], p["partition"])


def run_op(client, op, args):
    if op in ("put_state", "get_state", "delete_state", "list_state"):
        client = state_scope(client, args)
    if op == "put_state":
        return client.put_state(args["key"], step_value(args),
                                content_type=args.get("content_type"),
                                if_match=args.get("if_match"))
    if op == "get_state":
        return client.get_state(args["key"], **({"view": args["view"]} if "view" in args else {}))
    if op == "delete_state":
        return client.delete_state(args["key"], if_match=args.get("if_match"))
    if op == "list_state":
        return client.list_state(**{k: args[k] for k in ("prefix", "view") if k in args})
    if op == "mark_offsets":
        return client.mark_offsets(args["offsets"])
    if op == "commit":
        return client.commit(args["offsets"], put=args.get("put"), delete=args.get("delete"))
    if op == "checkpoint":
        return client.checkpoint()
    if op == "checkpoints":
        return client.checkpoints()
    if op == "get_checkpoint":
        return client.get_checkpoint(args["id"])
    raise AssertionError(f"unknown op {op!r}")


def check_result(op, result, expect, saved, where):
    for check, want in expect.items():
        if check == "absent":
            assert want is True, f"{where}: absent must be true"
            assert result is None, f"{where}: expected no state, got {result!r}"
        elif check in ("value", "value_base64"):
            assert result is not None, f"{where}: expected a value, got none"
            assert result.value == expected_bytes(expect), f"{where}: value {result.value!r}"
        elif check == "content_type":
            assert result is not None and result.content_type == want, f"{where}: {result!r}"
        elif check == "etag":
            assert result is not None and result.etag == resolve(want, saved), \
                f"{where}: etag {result and result.etag!r}, want {resolve(want, saved)!r}"
        elif check == "keys":
            assert [i.key for i in result] == want, f"{where}: keys {[i.key for i in result]}"
        elif check == "partitions":
            assert result["partitions"] == want, f"{where}: {result!r}"
        elif check == "count_at_least":
            assert len(result) >= want, f"{where}: {len(result)} checkpoints"
        elif check == "trigger":
            assert result["trigger"] == want, f"{where}: {result!r}"
        elif check == "partition_entry":
            assert set(want) == {"key", "group", "topic", "partition"}, f"{where}: {want!r}"
            part = {k: want[k] for k in ("group", "topic", "partition")}
            entries = [s for s in result["state"] if s.get("partition") == part]
            assert any(s["key"] == want["key"] for s in entries), \
                f"{where}: no state entry {want!r} in {result['state']!r}"
        elif check == "save":
            for what, name in want.items():
                if what == "etag":
                    value = result if op == "put_state" else result.etag
                    assert isinstance(value, str) and value.startswith('"'), f"{where}: {value!r}"
                elif what == "id":
                    value = result
                    assert isinstance(value, str) and value, f"{where}: checkpoint id {value!r}"
                else:
                    raise AssertionError(f"{where}: unknown save {what!r}")
                saved[name] = value
        else:
            raise AssertionError(f"{where}: unknown check {check!r}")


@pytest.mark.parametrize("case", DOC["cases"], ids=[c["name"] for c in DOC["cases"]])
def test_client_should_satisfy_conformance_case(case, conformance_sidecar):
    sidecar, token_file, token = conformance_sidecar
    assert set(case) <= CASE_FIELDS, f"unknown case fields {set(case) - CASE_FIELDS}"
    kind = case.get("client", {}).get("token", "valid")
    saved = {}
    with make_client(sidecar, token_file, token, kind) as client:
        for i, step in enumerate(case["steps"]):
            op = step["op"]
            where = f"{case['name']} step {i} ({op})"
            assert op in OP_ARGS, f"{where}: unknown op"
            args = {k: resolve(v, saved) for k, v in step.items() if k not in ("op", "expect")}
            assert set(args) <= OP_ARGS[op], f"{where}: unknown arguments {set(args) - OP_ARGS[op]}"
            expect = step["expect"]
            if "error" in expect:
                assert set(expect) == {"error"}, f"{where}: error and checks together"
                want = expect["error"]
                with pytest.raises(tidemark.TidemarkError) as raised:
                    run_op(client, op, args)
                err = raised.value
                assert (err.status, err.code) == (want["status"], want["code"]), \
                    f"{where}: got {err!r}"
                assert isinstance(err, ERROR_TYPES.get(want["status"], tidemark.TidemarkError)), \
                    f"{where}: {type(err).__name__} for status {err.status}"
            else:
                result = run_op(client, op, args)
                check_result(op, result, expect, saved, where)
