"""The HTTP API's server on the wire: keep-alive, pipelining, 100-continue,
size limits answered before the body is read, chunked bodies, framing errors,
and the bearer token (missing, wrong, rotated, path tricks). Raw sockets, so
that what is tested is the bytes any client would see."""

import json
import socket
import subprocess
import time

import pytest

from harness.tidemark import binary

MANUAL = {"checkpoint.interval": "24h", "checkpoint.max_messages": "0"}
TOKEN = "t0ken-for-tests"


class Conn:
    """One keep-alive connection reading answers by their Content-Length."""

    def __init__(self, sidecar):
        host, port = sidecar.http.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        self.buf = b""

    def send(self, raw):
        self.sock.sendall(raw)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        self.buf += chunk

    def answer(self, to_head=False):
        """(status, headers with lower-case names, body) of the next answer;
        `to_head`: it answers a HEAD, so no body follows its Content-Length."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {k.lower(): v for k, v in (l.split(": ", 1) for l in lines[1:])}
        length = 0 if to_head else int(headers.get("content-length", "0"))
        while len(self.buf) < length:
            self._fill()
        body, self.buf = self.buf[:length], self.buf[length:]
        return status, headers, body

    def closed_by_peer(self):
        try:
            self.sock.settimeout(5)
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()


def request(method, path, body=b"", headers=None):
    lines = [f"{method} {path} HTTP/1.1", "Host: test"]
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
    if body or method in ("PUT", "POST"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def code_of(body):
    return json.loads(body)["error"]["code"]


@pytest.fixture
def sidecar(cluster, sidecar_factory):
    return sidecar_factory(cluster, settings={**MANUAL, "http.max_blob_bytes": "4KiB",
                                              "http.max_request_bytes": "2KiB"})


@pytest.fixture
def conn(sidecar):
    c = Conn(sidecar)
    yield c
    c.close()


def test_should_answer_pipelined_requests_in_order_even_when_one_waits(conn):
    # POST /v1/checkpoints answers only once its checkpoint is durable; the
    # requests behind it are answered at once but must not overtake it.
    conn.send(request("PUT", "/v1/state/a", b"1") + request("POST", "/v1/checkpoints") +
              request("GET", "/healthz") + request("GET", "/v1/state/a?view=staged"))
    answers = [conn.answer() for _ in range(4)]
    assert [a[0] for a in answers] == [204, 201, 200, 200]
    assert "id" in json.loads(answers[1][2])
    assert answers[3][2] == b"1"


def test_should_refuse_an_oversized_body_from_its_length_and_keep_the_connection(conn):
    conn.send(request("PUT", "/v1/state/big", b"x" * 5000))
    status, headers, body = conn.answer()
    assert status == 413 and code_of(body) == "payload_too_large"
    assert "4096" in json.loads(body)["error"]["message"]
    assert "connection" not in headers  # the body was skipped, the connection lives on
    conn.send(request("GET", "/healthz"))
    assert conn.answer()[0] == 200


def test_should_limit_every_route_not_only_state(conn):
    offsets = json.dumps([{"group": "g", "topic": "t", "partition": p, "offset": 1}
                          for p in range(100)]).encode()
    assert len(offsets) > 2048
    conn.send(request("POST", "/v1/offsets", offsets))
    status, _, body = conn.answer()
    assert status == 413 and code_of(body) == "payload_too_large"


def test_should_answer_expect_continue_before_the_body_is_sent(conn):
    conn.send(b"PUT /v1/state/c HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
              b"Content-Length: 3\r\n\r\n")
    assert conn.answer()[0] == 100
    conn.send(b"abc")
    assert conn.answer()[0] == 204
    # Refused from the headers: the client never sends the body.
    conn.send(b"PUT /v1/state/d HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
              b"Content-Length: 999999\r\n\r\n")
    assert conn.answer()[0] == 413
    conn.send(request("GET", "/v1/state/c?view=staged"))
    assert conn.answer()[2] == b"abc"


def test_should_read_chunked_bodies_and_bound_them(conn):
    conn.send(b"PUT /v1/state/ch HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"3\r\nabc\r\n4;x=y\r\ndefg\r\n0\r\n\r\n")
    assert conn.answer()[0] == 204
    conn.send(request("GET", "/v1/state/ch?view=staged"))
    assert conn.answer()[2] == b"abcdefg"
    conn.send(b"PUT /v1/state/ch HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"1001\r\n" + b"x" * 4097 + b"\r\n0\r\n\r\n")
    status, headers, body = conn.answer()
    assert status == 413 and headers["connection"] == "close"
    assert conn.closed_by_peer()


def test_should_serve_head_as_get_without_the_body(conn):
    conn.send(request("PUT", "/v1/state/h", b"hello") + request("HEAD", "/v1/state/h?view=staged"))
    assert conn.answer()[0] == 204
    status, headers, _ = conn.answer(to_head=True)
    assert status == 200 and headers["content-length"] == "5"
    conn.send(request("GET", "/healthz"))  # no body bytes were left behind
    assert conn.answer()[0] == 200


@pytest.mark.parametrize("raw,status", [
    (b"GET / HTTP/2.0\r\n\r\n", 505),
    (b"POST /v1/offsets HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    (b"GET /healthz HTTP/1.1\r\nX: a\r\n  folded\r\n\r\n", 400),
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400),  # TLS on the plain port
    (b"GET /healthz HTTP/1.1\r\nX: " + b"a" * 70000 + b"\r\n\r\n", 431),
])
def test_should_answer_a_framing_error_in_json_and_close(conn, raw, status):
    conn.send(raw)
    got, headers, body = conn.answer()
    assert got == status and headers["connection"] == "close"
    assert json.loads(body)["error"]["message"]
    assert conn.closed_by_peer()


def test_should_close_after_the_answer_when_asked(conn):
    conn.send(b"GET /healthz HTTP/1.0\r\n\r\n")
    assert conn.answer()[0] == 200
    assert conn.closed_by_peer()


# ------------------------------------------------------------------ auth

@pytest.fixture
def token_file(tmp_path):
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    return path


@pytest.fixture
def secured(cluster, sidecar_factory, token_file):
    return sidecar_factory(cluster, settings={**MANUAL, "http.token_file": str(token_file)})


def status_of(sidecar, raw):
    c = Conn(sidecar)
    try:
        c.send(raw)
        return c.answer()
    finally:
        c.close()


def test_should_refuse_requests_without_the_token(secured):
    status, headers, body = status_of(secured, request("GET", "/v1/state"))
    assert status == 401 and code_of(body) == "unauthenticated"
    assert headers["www-authenticate"] == "Bearer"
    wrong = {"Authorization": "Bearer not-it"}
    assert status_of(secured, request("GET", "/v1/state", headers=wrong))[0] == 401
    right = {"Authorization": f"Bearer {TOKEN}"}
    assert status_of(secured, request("GET", "/v1/state", headers=right))[0] == 200
    # A refused body is skipped, not executed.
    assert status_of(secured, request("PUT", "/v1/state/x", b"v"))[0] == 401
    assert status_of(secured, request("GET", "/v1/state/x?view=staged", headers=right))[0] == 404


@pytest.mark.parametrize("path", ["/healthz/../v1/state", "/v1/state?x=/healthz", "/healthz/",
                                  "//healthz", "/HEALTHZ", "/healthz%2F..%2Fv1%2Fstate",
                                  "/readyz/../metrics", "/metrics"])
def test_should_exempt_only_the_exact_health_paths(secured, path):
    assert status_of(secured, request("GET", path))[0] == 401


def test_should_answer_health_without_a_token(secured):
    assert status_of(secured, request("GET", "/healthz"))[0] == 200
    assert status_of(secured, request("GET", "/readyz?verbose=1"))[0] == 200
    assert status_of(secured, request("POST", "/healthz"))[0] == 401


def test_should_take_a_rotated_token_without_restart(secured, token_file):
    tmp = token_file.with_name("token.new")
    tmp.write_text("rotated-token\n")
    tmp.rename(token_file)  # how a Secret's projected file is swapped
    new = {"Authorization": "Bearer rotated-token"}
    deadline = time.time() + 10
    while status_of(secured, request("GET", "/v1/state", headers=new))[0] != 200:
        assert time.time() < deadline, "the rotated token was never taken"
        time.sleep(0.2)
    old = {"Authorization": f"Bearer {TOKEN}"}
    assert status_of(secured, request("GET", "/v1/state", headers=old))[0] == 401


def test_should_refuse_a_remote_address_without_a_token(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text('proxy:\n  upstream:\n    bootstrap_servers: "127.0.0.1:9092"\n'
                      'http:\n  listen: "0.0.0.0:8770"\n')
    r = subprocess.run([binary(), "config", "check", str(config)],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert "http.listen: 0.0.0.0:8770 is not a loopback address; set http.token_file" in r.stderr
    config.write_text(config.read_text() + "  allow_insecure_remote: true\n")
    r = subprocess.run([binary(), "config", "check", str(config)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_should_answer_valid_utf8_json_when_an_error_quotes_bytes_that_are_not_utf8(conn):
    conn.send(request("GET", "/v1/checkpoints/%FF"))
    status, _, body = conn.answer()
    assert status == 404
    body.decode("utf-8")  # strict: no raw 0xFF byte quoted back
    assert "\ufffd" in json.loads(body)["error"]["message"]


def test_should_count_made_up_methods_as_other_so_metrics_stay_bounded(sidecar, conn):
    from harness.api import call
    from prometheus_client.parser import text_string_to_metric_families
    for i in range(40):
        conn.send(request(f"BREW{i}", "/v1/state/a"))
        assert conn.answer()[0] == 405
    _, raw = call(sidecar, "GET", "/metrics")
    methods = {}
    for family in text_string_to_metric_families(raw.decode()):
        for s in family.samples:
            if s.name == "tidemark_http_requests_total":
                methods[s.labels["method"]] = methods.get(s.labels["method"], 0) + s.value
    assert methods.get("OTHER") == 40
    assert not [m for m in methods if m.startswith("BREW")]


@pytest.fixture
def impatient(cluster, sidecar_factory):
    """A sidecar whose requests must arrive whole within 1 s of their first byte."""
    return sidecar_factory(cluster, settings={**MANUAL, "http.request_timeout": "1s"})


def trickle(conn, data, every=0.2, limit=8.0):
    """Sends `data` a byte every `every` seconds (so the connection is never idle) until
    the sidecar answers or `limit` seconds pass; (seconds until the answer, bytes sent)."""
    conn.sock.setblocking(False)
    started, sent = time.monotonic(), 0
    try:
        while time.monotonic() - started < limit:
            try:
                chunk = conn.sock.recv(65536)
                if chunk:
                    conn.buf += chunk
                    if b"\r\n\r\n" in conn.buf:
                        return time.monotonic() - started, sent
            except BlockingIOError:
                pass
            if sent < len(data):
                conn.sock.send(data[sent:sent + 1])
                sent += 1
            time.sleep(every)
        return None, sent
    finally:
        conn.sock.setblocking(True)
        conn.sock.settimeout(10)


def test_should_answer_408_and_close_when_a_head_trickles_in_slower_than_the_timeout(impatient):
    """Slowloris: a head sent a byte every 200 ms never completes. The
    connection is answered 408 once the timeout has passed, and
    closed; another client is served all the while."""
    slow, other = Conn(impatient), Conn(impatient)
    try:
        took, sent = trickle(slow, request("GET", "/healthz", headers={"X-Pad": "a" * 100}))
        assert took is not None, f"no answer after {sent} bytes trickled"
        assert 1.0 <= took < 6.0, took  # the timeout, not a deadline: loose for loaded machines
        status, headers, body = slow.answer()
        assert (status, code_of(body)) == (408, "request_timeout")
        assert headers["connection"] == "close"
        assert slow.closed_by_peer()
        other.send(request("GET", "/healthz"))
        assert other.answer()[0] == 200
    finally:
        slow.close()
        other.close()


def test_should_answer_408_and_store_nothing_when_a_body_trickles_in_slower_than_the_timeout(
        impatient):
    """The head arrives at once, then 8 of the body's 64 bytes, then a byte
    every 200 ms: 408, the connection closed, and nothing stored."""
    from harness.api import call
    slow = Conn(impatient)
    try:
        slow.send(b"PUT /v1/state/slow HTTP/1.1\r\nHost: test\r\nContent-Length: 64\r\n\r\n"
                  + b"x" * 8)
        took, _ = trickle(slow, b"y" * 56)
        assert took is not None and took < 6.0, took
        status, _, body = slow.answer()
        assert (status, code_of(body)) == (408, "request_timeout")
        assert slow.closed_by_peer()
        assert call(impatient, "GET", "/v1/state/slow")[0] == 404
    finally:
        slow.close()


def test_should_not_time_out_a_keep_alive_connection_between_requests(impatient):
    """The clock runs only while a request is arriving: a connection quiet
    between requests for longer than the timeout is still served."""
    conn = Conn(impatient)
    try:
        conn.send(request("GET", "/healthz"))
        assert conn.answer()[0] == 200
        time.sleep(1.6)
        conn.send(request("GET", "/healthz"))
        assert conn.answer()[0] == 200
    finally:
        conn.close()
