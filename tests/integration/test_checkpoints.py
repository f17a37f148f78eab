"""Checkpoints end to end: state over HTTP, sealing by offset commits, the
application's Kafka commits recorded through the proxy, restore after a crash,
and the invariant that upstream group offsets never run ahead of the latest
durable checkpoint."""

import json
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from harness.tidemark import Sidecar, client_env, committed_offsets

MANUAL = {"checkpoint.interval": "24h", "checkpoint.max_messages": "0"}


def call(sidecar, method, path, body=None, headers=None):
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(sidecar.url(path), data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def error_code(raw):
    return json.loads(raw)["error"]["code"]


@pytest.fixture
def sidecar(cluster, sidecar_factory):
    return sidecar_factory(cluster, settings={**MANUAL, "http.max_blob_bytes": "4KiB"})


def test_state_should_be_staged_until_an_offset_commit_seals_it(sidecar):
    status, headers, _ = call(sidecar, "PUT", "/v1/state/counts/word", "42",
                              {"Content-Type": "text/plain"})
    assert status == 204 and headers["ETag"].startswith('"')
    assert call(sidecar, "GET", "/v1/state/counts/word")[0] == 404
    status, headers2, body = call(sidecar, "GET", "/v1/state/counts/word?view=staged")
    assert (status, body, headers2["ETag"]) == (200, b"42", headers["ETag"])
    offsets = [{"group": "g", "topic": "demo", "partition": 1, "offset": 7}]
    assert call(sidecar, "POST", "/v1/offsets", json.dumps(offsets))[0] == 200
    status, headers3, body = call(sidecar, "GET", "/v1/state/counts/word")
    assert (status, body, headers3["Content-Type"]) == (200, b"42", "text/plain")


def test_state_api_should_answer_every_error_with_a_json_code(sidecar):
    assert error_code(call(sidecar, "PUT", "/v1/state/a%2F..%2Fb", "x")[2]) == "invalid_key"
    assert error_code(call(sidecar, "PUT", "/v1/state/bad%00key", "x")[2]) == "bad_request"
    assert error_code(call(sidecar, "PUT", "/v1/state/sp%20ace", "x")[2]) == "invalid_key"
    assert error_code(call(sidecar, "PUT", "/v1/state/bad%zzescape", "x")[2]) == "bad_request"
    status, _, raw = call(sidecar, "GET", "/v1/state/missing?view=staged")
    assert status == 404 and error_code(raw) == "not_found"
    status, _, raw = call(sidecar, "POST", "/v1/state/k", "x")
    assert status == 405 and error_code(raw) == "method_not_allowed"
    status, _, raw = call(sidecar, "POST", "/v1/offsets", "{not json")
    assert status == 400 and error_code(raw) == "malformed_json"
    status, _, raw = call(sidecar, "POST", "/v1/offsets", '[{"group": "g"}]')
    assert status == 400 and error_code(raw) == "invalid_offsets"
    status, _, raw = call(sidecar, "PUT", "/v1/state/big", "x" * 4097)
    assert status == 413 and error_code(raw) == "payload_too_large"
    assert call(sidecar, "PUT", "/v1/state/fits", "x" * 4096)[0] == 204
    # Far beyond any route's limit: refused from the headers, before the body is read.
    host, port = sidecar.http.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(b"PUT /v1/state/huge HTTP/1.1\r\nHost: x\r\nContent-Length: 4194304\r\n\r\n")
        assert s.recv(64).startswith(b"HTTP/1.1 413")
    status, _, raw = call(sidecar, "GET", "/v1/state?view=sideways")
    assert status == 400


def test_commit_should_hold_state_values_to_the_same_limit_as_put(sidecar):
    import base64
    big = base64.b64encode(b"x" * 4097).decode()
    status, _, raw = call(sidecar, "POST", "/v1/commit",
                          json.dumps({"offsets": [], "state": {"put": {"k": big}}}))
    assert status == 413 and error_code(raw) == "payload_too_large"
    assert "http.max_blob_bytes" in json.loads(raw)["error"]["message"]
    fits = base64.b64encode(b"x" * 4096).decode()
    assert call(sidecar, "POST", "/v1/commit",
                json.dumps({"offsets": [], "state": {"put": {"k": fits}}}))[0] == 200


def test_partition_state_should_be_its_own_scope_sealed_and_restored_with_its_partition(
        cluster, sidecar):
    base = "/v1/groups/orders%2Fv1/topics/demo/partitions/3/state"
    assert call(sidecar, "PUT", base + "/counts/a", "7")[0] == 204
    assert call(sidecar, "PUT", "/v1/state/counts/a", "instance")[0] == 204
    assert call(sidecar, "GET", base + "/counts/a")[0] == 404  # staged only
    offsets = [{"group": "orders/v1", "topic": "demo", "partition": 3, "offset": 70}]
    assert call(sidecar, "POST", "/v1/offsets", json.dumps(offsets))[0] == 200
    assert call(sidecar, "GET", base + "/counts/a")[2] == b"7"
    assert call(sidecar, "GET", "/v1/state/counts/a")[2] == b"instance"
    listed = json.loads(call(sidecar, "GET", base + "?prefix=counts/")[2])["keys"]
    assert [k["key"] for k in listed] == ["counts/a"]
    listed = json.loads(call(sidecar, "GET", "/v1/state")[2])["keys"]
    assert [k["key"] for k in listed] == ["counts/a"]  # the instance's key only
    other = "/v1/groups/orders%2Fv1/topics/demo/partitions/4/state/counts/a"
    assert call(sidecar, "GET", other)[0] == 404
    status, _, raw = call(sidecar, "POST", "/v1/checkpoints")
    detail = json.loads(call(sidecar, "GET", f"/v1/checkpoints/{json.loads(raw)['id']}")[2])
    scoped = [s for s in detail["state"] if "partition" in s]
    assert scoped and scoped[0]["key"] == "counts/a"
    assert scoped[0]["partition"] == {"group": "orders/v1", "topic": "demo", "partition": 3}
    for bad in ("/v1/groups/g/topics/bad%20topic/partitions/1/state/k",
                "/v1/groups/g/topics/demo/partitions/-1/state/k",
                "/v1/groups/g/topics/demo/partitions/99999999999/state/k"):
        status, _, raw = call(sidecar, "GET", bad)
        assert status == 400 and error_code(raw) == "invalid_partition", bad
    sidecar.proc.kill()
    sidecar.proc.wait()
    again = Sidecar(sidecar.workdir, cluster.bootstrap, {**MANUAL})
    try:
        assert call(again, "GET", base + "/counts/a")[2] == b"7"
        assert call(again, "GET", "/v1/state/counts/a")[2] == b"instance"
    finally:
        again.stop()


def test_if_match_should_give_optimistic_concurrency(sidecar):
    _, h1, _ = call(sidecar, "PUT", "/v1/state/k", "v1")
    status, h2, _ = call(sidecar, "PUT", "/v1/state/k", "v2", {"If-Match": h1["ETag"]})
    assert status == 204
    status, _, raw = call(sidecar, "PUT", "/v1/state/k", "v3", {"If-Match": h1["ETag"]})
    assert status == 409 and error_code(raw) == "precondition_failed"
    assert call(sidecar, "DELETE", "/v1/state/k", headers={"If-Match": h1["ETag"]})[0] == 409
    assert call(sidecar, "DELETE", "/v1/state/k", headers={"If-Match": h2["ETag"]})[0] == 204
    assert call(sidecar, "GET", "/v1/state/k?view=staged")[0] == 404


def test_list_should_filter_by_prefix_in_either_view(sidecar):
    for key in ("a/1", "a/2", "b/1"):
        call(sidecar, "PUT", f"/v1/state/{key}", key)
    _, _, raw = call(sidecar, "GET", "/v1/state?prefix=a/&view=staged")
    assert [k["key"] for k in json.loads(raw)["keys"]] == ["a/1", "a/2"]
    _, _, raw = call(sidecar, "GET", "/v1/state?prefix=a/")
    assert json.loads(raw)["keys"] == []


def test_commit_should_apply_state_and_offsets_in_one_request(sidecar):
    body = {"offsets": [{"group": "g", "topic": "t.with.dots", "partition": 0, "offset": 5,
                         "metadata": "m"}],
            "state": {"put": {"blob": "AAEC/w=="}, "delete": []}}
    assert call(sidecar, "POST", "/v1/commit", json.dumps(body))[0] == 200
    status, _, data = call(sidecar, "GET", "/v1/state/blob")
    assert (status, data) == (200, b"\x00\x01\x02\xff")
    bad = {"offsets": [], "state": {"put": {"x": "not base64!"}}}
    assert error_code(call(sidecar, "POST", "/v1/commit", json.dumps(bad))[2]) == "invalid_commit"


def test_checkpoint_should_persist_and_restore_state_and_offsets(cluster, sidecar, tmp_path):
    call(sidecar, "PUT", "/v1/state/model", "weights-v1")
    offsets = [{"group": "g", "topic": "demo", "partition": 2, "offset": 100, "leader_epoch": 3}]
    call(sidecar, "POST", "/v1/offsets", json.dumps(offsets))
    status, _, raw = call(sidecar, "POST", "/v1/checkpoints")
    assert status == 201
    checkpoint_id = json.loads(raw)["id"]
    _, _, raw = call(sidecar, "GET", f"/v1/checkpoints/{checkpoint_id}")
    detail = json.loads(raw)
    assert detail["offsets"] == [{"group": "g", "topic": "demo", "partition": 2, "offset": 100,
                                  "leader_epoch": 3, "metadata": None}]
    assert detail["state"][0]["key"] == "model" and detail["state"][0]["size"] == 10
    call(sidecar, "PUT", "/v1/state/model", "weights-v2")  # staged only: not in any checkpoint
    sidecar.proc.kill()
    sidecar.proc.wait()
    again = Sidecar(sidecar.workdir, cluster.bootstrap, {**MANUAL})
    try:
        assert call(again, "GET", "/v1/state/model")[2] == b"weights-v1"
        assert call(again, "GET", "/v1/state/model?view=staged")[2] == b"weights-v1"
        _, _, raw = call(again, "GET", "/v1/checkpoints")
        assert json.loads(raw)["checkpoints"][0]["id"] == checkpoint_id
        assert any("msg=restored" in l for l in again.log.lines)
    finally:
        again.stop()


CONSUMER = r"""
import json, sys, confluent_kafka as ck
bootstrap, group, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                 "auto.offset.reset": "earliest", "session.timeout.ms": 6000})
if count:
    c.subscribe(["demo"])  # count 0: only read the group's committed offsets, without joining
seen = []
while len(seen) < count:
    m = c.poll(15)
    if m is None:
        break
    if m.error() is None:
        seen.append(m.value().decode())
if count:
    c.commit(asynchronous=False)
parts = [ck.TopicPartition("demo", p) for p in range(6)]
committed = {tp.partition: tp.offset for tp in c.committed(parts, timeout=15)}
print(json.dumps({"seen": seen, "committed": committed}), flush=True)
if len(sys.argv) > 4:  # "crash": stay in the group until killed, never leaving it
    sys.stdin.readline()
c.close()
"""


def consume(bootstrap, group, count):
    out = subprocess.run(["/usr/bin/python3", "-c", CONSUMER, bootstrap, group, str(count)],
                         capture_output=True, text=True, timeout=120, env=client_env("debian"))
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def consume_and_crash(bootstrap, group, count):
    """Consumes and commits, then dies with SIGKILL: no LeaveGroup, so no checkpoint follows."""
    proc = subprocess.Popen(["/usr/bin/python3", "-c", CONSUMER, bootstrap, group, str(count),
                             "crash"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env=client_env("debian"))
    line = proc.stdout.readline()
    proc.kill()
    proc.wait()
    return json.loads(line)


def produce(bootstrap, start, count):
    script = ("import sys, confluent_kafka as ck\n"
              "p = ck.Producer({'bootstrap.servers': sys.argv[1]})\n"
              "for i in range(int(sys.argv[2]), int(sys.argv[2]) + int(sys.argv[3])):\n"
              "    p.produce('demo', value=f'v{i}', partition=i % 6)\n"
              "assert p.flush(30) == 0\n")
    subprocess.run(["/usr/bin/python3", "-c", script, bootstrap, str(start), str(count)],
                   check=True, timeout=60, env=client_env("debian"))


def total(committed):
    return sum(max(o, 0) for o in committed.values())


def test_upstream_offsets_should_never_run_ahead_of_the_durable_checkpoint(cluster, sidecar):
    proxy = sidecar.fields["proxy"]
    produce(proxy, 0, 60)
    first = consume(proxy, "wc", 30)  # its LeaveGroup makes a checkpoint first
    assert total(first["committed"]) == 30  # OffsetFetch answered from the sealed commit
    assert total(consume(cluster.bootstrap, "wc", 0)["committed"]) == 30  # mirrored once durable
    second = consume_and_crash(proxy, "wc", 30)  # sealed; no checkpoint holds it yet
    assert total(second["committed"]) == 60
    assert set(first["seen"]).isdisjoint(second["seen"])
    # Upstream (what lag tools read) holds the durable checkpoint's offsets, not more.
    assert total(consume(cluster.bootstrap, "wc", 0)["committed"]) == 30
    # A crash loses the sealed-but-not-durable commit: the app resumes from the checkpoint.
    sidecar.proc.kill()
    sidecar.proc.wait()
    again = Sidecar(sidecar.workdir, cluster.bootstrap, {**MANUAL})
    try:
        resumed = consume(again.fields["proxy"], "wc", 30)
        assert sorted(resumed["seen"]) == sorted(second["seen"])
    finally:
        again.stop()


def test_sigterm_should_take_a_final_checkpoint(cluster, sidecar):
    proxy = sidecar.fields["proxy"]
    produce(proxy, 0, 12)
    consume(proxy, "final", 12)
    assert sidecar.terminate(signal.SIGTERM) == 0
    assert any("final checkpoint durable" in l for l in sidecar.log.lines)
    again = Sidecar(sidecar.workdir, cluster.bootstrap, {**MANUAL})
    try:
        assert total(consume(again.fields["proxy"], "final", 0)["committed"]) == 12
    finally:
        again.stop()


def test_sync_mode_should_hold_the_commit_until_durable(cluster, sidecar_factory):
    sidecar = sidecar_factory(cluster, settings={**MANUAL, "offsets.commit_mode": "sync"},
                              name="sync")
    proxy = sidecar.fields["proxy"]
    produce(proxy, 0, 18)
    consume(proxy, "sync-group", 18)
    _, _, raw = call(sidecar, "GET", "/v1/checkpoints")
    assert any(c["trigger"] == "commit" for c in json.loads(raw)["checkpoints"])
    # Forwarded after durability: upstream holds the same offsets.
    assert total(consume(cluster.bootstrap, "sync-group", 0)["committed"]) == 18


def test_offsets_marked_over_http_should_reach_the_group_only_once_durable(cluster, sidecar):
    offsets = [{"group": "g-marked", "topic": "demo", "partition": p, "offset": 40 + p,
                "metadata": "m"} for p in (2, 3)]
    assert call(sidecar, "POST", "/v1/offsets", json.dumps(offsets))[0] == 200
    assert committed_offsets(cluster.bootstrap, "g-marked", "demo", [2, 3]) == {2: -1001, 3: -1001}
    assert call(sidecar, "POST", "/v1/checkpoints")[0] == 201
    deadline = time.time() + 20  # sent once durable, on the sidecar's own connection
    while (got := committed_offsets(cluster.bootstrap, "g-marked", "demo", [2, 3])) != {2: 42, 3: 43}:
        assert time.time() < deadline, (got, sidecar.log.lines[-10:])
        time.sleep(0.2)
