"""The proxy's robustness: bad frames, vanishing peers and dying brokers close
only the connection concerned, with one log line naming the peer, API key and
version; the sidecar keeps serving everyone else."""

import json
import os
import socket
import struct
import subprocess
import time

import pytest

from harness.fake_server import FakeServer
from harness.tidemark import client_env


@pytest.fixture
def sidecar(cluster, sidecar_factory):
    return sidecar_factory(cluster, settings={"proxy.max_frame_bytes": "64KiB"})


def connect(sidecar):
    host, port = sidecar.fields["proxy"].rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=10)
    return s


def request(api_key, version, correlation_id, body=b"", client_id=b"t", flexible=False):
    header = struct.pack(">hhih", api_key, version, correlation_id, len(client_id)) + client_id
    if flexible:
        header += b"\x00"
    payload = header + body
    return struct.pack(">i", len(payload)) + payload


def read_frame(sock):
    head = b""
    while len(head) < 4:
        chunk = sock.recv(4 - len(head))
        if not chunk:
            return None
        head += chunk
    n = struct.unpack(">i", head)[0]
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def closed_by_peer(sock, timeout=10):
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def metadata_ok(sidecar):
    out = subprocess.run(["kcat", "-L", "-J", "-b", sidecar.fields["proxy"]], capture_output=True,
                         text=True, timeout=60, env=client_env("debian"))
    return out.returncode == 0 and len(json.loads(out.stdout)["brokers"]) == 3


def closing_lines(sidecar):
    return [l for l in sidecar.log.lines if 'msg="closing connection"' in l]


def wait_for_log(sidecar, needle, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(needle in l for l in sidecar.log.lines):
            return True
        time.sleep(0.05)
    return False


def test_should_close_only_the_connection_with_a_negative_frame_length(sidecar):
    bystander = connect(sidecar)
    bystander.sendall(request(18, 2, 1))
    assert read_frame(bystander) is not None
    bad = connect(sidecar)
    bad.sendall(struct.pack(">i", -5) + b"\x00\x03\x00\x01\x00\x00\x00\x01")
    assert closed_by_peer(bad)
    assert wait_for_log(sidecar, "outside 8..")
    bystander.sendall(request(18, 2, 2))
    assert read_frame(bystander) is not None
    assert metadata_ok(sidecar)


def test_should_close_a_connection_that_sends_an_oversized_frame(sidecar):
    s = connect(sidecar)
    s.sendall(struct.pack(">i", 1 << 30) + struct.pack(">hhi", 0, 9, 77))
    assert closed_by_peer(s)
    assert wait_for_log(sidecar, "request frame size 1073741824 outside 8..65536")
    line = [l for l in closing_lines(sidecar) if "1073741824" in l][0]
    assert "api_key=0" in line and "api_version=9" in line and "peer=127.0.0.1:" in line
    assert metadata_ok(sidecar)


def test_should_close_a_connection_that_speaks_tls_instead_of_kafka(sidecar):
    s = connect(sidecar)
    s.sendall(bytes.fromhex("160301020001000200") + b"\x00" * 64)  # a TLS ClientHello start
    assert closed_by_peer(s)
    assert metadata_ok(sidecar)


def test_should_survive_a_client_that_vanishes_mid_frame(sidecar):
    for cut in (2, 6, 20):
        s = connect(sidecar)
        frame = request(3, 1, 5, body=b"\xff\xff\xff\xff")
        s.sendall(frame[:cut])
        s.close()
    assert metadata_ok(sidecar)
    assert sidecar.proc.poll() is None


def test_should_refuse_a_decoded_api_at_a_version_it_cannot_decode(sidecar):
    s = connect(sidecar)
    s.sendall(request(3, 99, 9))  # Metadata v99
    assert closed_by_peer(s)
    assert wait_for_log(sidecar, "api_key=3 api_version=99")
    assert metadata_ok(sidecar)


def test_should_answer_a_too_new_api_versions_request_itself(sidecar):
    s = connect(sidecar)
    s.sendall(request(18, 7, 1234, body=b"\x01\x01\x00", flexible=True))
    data = read_frame(s)
    correlation_id, error_code, count = struct.unpack(">ihi", data[:10])
    assert (correlation_id, error_code, count) == (1234, 35, 1)
    assert struct.unpack(">hhh", data[10:16]) == (18, 0, 3)
    # The connection stays usable: the client retries with a version it knows.
    s.sendall(request(18, 2, 1235))
    again = read_frame(s)
    assert struct.unpack(">ih", again[:6]) == (1235, 0)


def test_should_keep_responses_in_request_order_when_pipelined(sidecar):
    s = connect(sidecar)
    ids = list(range(100, 140))
    s.sendall(b"".join(request(18 if i % 2 else 3, 2 if i % 2 else 1, i,
                               body=b"" if i % 2 else b"\xff\xff\xff\xff") for i in ids))
    got = [struct.unpack(">i", read_frame(s)[:4])[0] for _ in ids]
    assert got == ids


def test_should_recover_when_a_broker_goes_down_mid_fetch(cluster, sidecar):
    env = client_env("debian")
    script = r"""
import sys, time, confluent_kafka as ck
b = sys.argv[1]
p = ck.Producer({"bootstrap.servers": b})
for i in range(60):
    p.produce("demo", value=f"v{i}", partition=i % 6)
assert p.flush(30) == 0
print("produced", flush=True)
sys.stdin.readline()  # the test takes broker 2 down and up again here
for i in range(60, 120):
    p.produce("demo", value=f"v{i}", partition=i % 6)
assert p.flush(60) == 0
c = ck.Consumer({"bootstrap.servers": b, "group.id": "fail", "auto.offset.reset": "earliest"})
c.subscribe(["demo"])
seen = set()
deadline = time.time() + 90
while len(seen) < 120 and time.time() < deadline:
    m = c.poll(1)
    if m is not None and m.error() is None:
        seen.add(m.value().decode())
print(len(seen), flush=True)
c.close()
"""
    proc = subprocess.Popen(["/usr/bin/python3", "-c", script, sidecar.fields["proxy"]],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout.readline().strip() == "produced"
    cluster.broker_down(2)
    time.sleep(1)
    cluster.broker_up(2)
    proc.stdin.write("\n")
    proc.stdin.flush()
    out, _ = proc.communicate(timeout=150)
    assert out.strip() == "120"
    assert sidecar.proc.poll() is None


def test_should_serve_metadata_to_each_generation_of_librdkafka(kafka, sidecar_factory):
    """Regression: librdkafka 2.15.1 (client and mock) send Metadata v12 frames
    with bytes after the message; the proxy must keep working, as Kafka does."""
    sidecar = sidecar_factory(kafka)
    out = subprocess.run(["kcat", "-L", "-J", "-b", sidecar.fields["proxy"]], capture_output=True,
                         text=True, timeout=60, env=client_env(kafka.generation))
    assert out.returncode == 0, out.stderr
    meta = json.loads(out.stdout)
    assert len(meta["brokers"]) == 3
    assert {t["topic"] for t in meta["topics"]} == {"demo"}
    upstream_ports = {b.rsplit(":", 1)[1] for b in kafka.bootstrap.split(",")}
    assert not any(b["name"].rsplit(":", 1)[1] in upstream_ports for b in meta["brokers"])


# Issue 10's load case: 1,000 client connections open at once through the
# proxy, every one answered in each of three rounds of requests sent to all
# at the same time, and every upstream connection and descriptor released
# when they close. They are opened in batches: librdkafka's mock brokers
# accept new connections slowly (a burst of 1,000 straight at one mock broker
# leaves half unanswered after 30 s, with or without the sidecar).
def test_should_serve_a_thousand_concurrent_connections_and_release_them(cluster, sidecar_factory):
    import resource
    import selectors
    from harness.api import metric, wait_for
    sidecar = sidecar_factory(cluster, settings={"checkpoint.interval": "24h"})
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < 2200:
        pytest.skip(f"needs 2,200 descriptors, the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    fds = lambda: len(os.listdir(f"/proc/{sidecar.proc.pid}/fd"))  # noqa: E731
    baseline = fds()

    def round_trip(socks, correlation_id):
        sel = selectors.DefaultSelector()
        for i, s in enumerate(socks):
            s.sendall(request(18, 0, correlation_id))
            sel.register(s, selectors.EVENT_READ, i)
        answered, bufs, deadline = set(), {}, time.monotonic() + 120
        while len(answered) < len(socks) and time.monotonic() < deadline:
            for key, _ in sel.select(1):
                data = key.fileobj.recv(65536)
                assert data, f"connection {key.data} closed by the sidecar"
                bufs[key.data] = bufs.get(key.data, b"") + data
                b = bufs[key.data]
                if len(b) >= 4 and len(b) >= 4 + struct.unpack(">i", b[:4])[0]:
                    assert struct.unpack(">i", b[4:8])[0] == correlation_id
                    answered.add(key.data)
                    sel.unregister(key.fileobj)
        return len(answered)

    socks = []
    try:
        for _ in range(10):
            batch = [connect(sidecar) for _ in range(100)]
            assert round_trip(batch, 1) == 100
            socks += batch
        assert metric(sidecar, "tidemark_proxy_connections") == 1000
        for correlation_id in (2, 3, 4):
            assert round_trip(socks, correlation_id) == 1000
    finally:
        for s in socks:
            s.close()
    wait_for(lambda: metric(sidecar, "tidemark_proxy_connections") == 0, 30,
             "every connection to be released")
    wait_for(lambda: fds() <= baseline + 5, 30, "the descriptors to be released")
    assert call_ok(sidecar)


def call_ok(sidecar):
    from harness.api import call
    return call(sidecar, "GET", "/readyz")[0] == 200


def test_should_close_the_application_connection_when_the_broker_connect_hangs(tmp_path):
    """A broker whose SYNs are dropped: the application reached the proxy on
    loopback at once, so only the proxy can notice. Its connection is closed
    after proxy.upstream.connect_timeout (the kernel alone would retry the
    SYN for about two minutes), and it is the only one affected."""
    from harness.tidemark import Sidecar
    # A listener whose accept queue is full and never drained: Linux drops
    # further SYNs, so connecting to it hangs like a blackholed broker.
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(0)
    fillers = []
    for _ in range(2):
        f = socket.socket()
        f.setblocking(False)
        f.connect_ex(hole.getsockname())
        fillers.append(f)
    time.sleep(0.2)
    probe = socket.socket()
    probe.settimeout(2)
    with pytest.raises(OSError):  # the hole does hang connects
        probe.connect(hole.getsockname())
    probe.close()
    upstream = "%s:%d" % hole.getsockname()
    side = Sidecar(tmp_path / "s", upstream, {"proxy.upstream.connect_timeout": "1s"})
    try:
        s = connect(side)
        s.sendall(request(18, 0, 1))
        t0 = time.monotonic()
        assert closed_by_peer(s, timeout=60), "the proxy kept the connection"
        assert time.monotonic() - t0 < 30, "closed by something else than the connect timeout"
        assert wait_for_log(side, 'msg="upstream connect timed out"')
        assert any("timeout_ms=1000" in l for l in side.log.lines)
        assert side.proc.poll() is None
    finally:
        side.stop()
        for f in fillers:
            f.close()
        hole.close()


def bad_broker(answer):
    """A broker that answers every request with a frame of its own making:
    `answer(correlation_id) -> payload bytes` (the length prefix is added)."""
    def serve(conn):
        while (frame := read_frame(conn)) is not None:
            correlation_id = struct.unpack(">i", frame[4:8])[0]
            payload = answer(correlation_id)
            conn.sendall(struct.pack(">i", len(payload)) + payload)
    return FakeServer(serve)


@pytest.mark.parametrize("answer, reason", [
    # A Metadata v1 answer cut short: the proxy decodes Metadata to rewrite
    # the brokers' addresses, and cannot.
    (lambda cid: struct.pack(">i", cid) + b"\x00\x00\x00\x05\xff\xff", "cannot decode response"),
    # An answer to a request never sent.
    (lambda cid: struct.pack(">i", cid + 1000) + b"\x00" * 16, "upstream answered correlation id"),
], ids=["truncated-metadata", "wrong-correlation-id"])
def test_should_close_only_that_connection_when_a_broker_answers_garbage(tmp_path, answer,
                                                                        reason):
    """Bad bytes from the broker side: the application's connection is
    closed with one log line naming the API and why, and the sidecar keeps
    serving (its HTTP API answers, and the next connection is handled the
    same way rather than crashing anything)."""
    from harness.api import call
    from harness.tidemark import Sidecar
    broker = bad_broker(answer)
    side = Sidecar(tmp_path / "s", broker.address, {})
    try:
        for attempt in range(2):
            s = connect(side)
            s.sendall(request(3, 1, 7 + attempt, b"\xff\xff\xff\xff"))  # Metadata v1, all topics
            assert closed_by_peer(s), "the proxy passed the bad answer on"
            s.close()
        assert wait_for_log(side, reason)
        line = next(l for l in closing_lines(side) if reason in l)
        assert "api_key=3" in line and "api_version=1" in line, line
        assert side.proc.poll() is None
        assert call(side, "GET", "/healthz")[0] == 200
    finally:
        side.stop()
        broker.close()
