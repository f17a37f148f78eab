"""The client without a sidecar: key encoding, request bodies, error mapping,
and the connection's behaviour against a scripted local HTTP server."""

import base64
import json
import os
import socket
import threading
import time

import pytest

import tidemark
from tidemark.client import commit_body
from tidemark.errors import error_for


class FakeSidecar:
    """A scripted HTTP/1.1 server on loopback. Each request gets the next
    scripted answer and is recorded as (method, target, headers, body).
    An answer with `drop=True` is followed by a silent close of the connection
    (no `Connection: close`), as the sidecar's idle sweep closes a keep-alive
    connection; `delay` holds the answer back."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = "http://127.0.0.1:%d" % self.listener.getsockname()[1]
        self.requests = []
        self.connections = 0
        self._answers = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def answer(self, status=200, body=b"", headers=None, drop=False, delay=0.0):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers = {"Content-Type": "application/json", **(headers or {})}
        self._answers.append((status, body, headers or {}, drop, delay))

    def error(self, status, code, message="m", **kwargs):
        self.answer(status, {"error": {"code": code, "message": message}}, **kwargs)

    def close(self):
        self.listener.close()

    def _serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                try:
                    self._serve_connection(conn)
                except OSError:
                    pass

    def _serve_connection(self, conn):
        reader = conn.makefile("rb")
        while True:
            line = reader.readline()
            if not line:
                return
            method, target, _ = line.decode().split(" ", 2)
            headers = {}
            while (line := reader.readline()) not in (b"\r\n", b""):
                name, value = line.decode().split(":", 1)
                headers[name.strip().lower()] = value.strip()
            body = reader.read(int(headers.get("content-length", "0")))
            self.requests.append((method, target, headers, body))
            status, answer, extra, drop, delay = self._answers.pop(0)
            time.sleep(delay)
            head = f"HTTP/1.1 {status} X\r\nContent-Length: {len(answer)}\r\n"
            head += "".join(f"{k}: {v}\r\n" for k, v in extra.items())
            conn.sendall(head.encode() + b"\r\n" + answer)
            if drop:
                return


@pytest.fixture
def fake():
    server = FakeSidecar()
    yield server
    server.close()


# -- encoding --------------------------------------------------------------------


def test_should_percent_encode_each_segment_and_keep_slashes_when_key_has_reserved_characters():
    assert tidemark.encode_key("reserved/a:b@c/d=e+f~g") == "reserved/a%3Ab%40c/d%3De%2Bf~g"


def test_should_encode_spaces_percent_signs_and_utf8_when_key_has_them():
    assert tidemark.encode_key("sp ace/100%/é") == "sp%20ace/100%25/%C3%A9"


def test_should_leave_dot_segments_for_the_sidecar_to_refuse_when_key_has_them():
    assert tidemark.encode_key("a/../b") == "a/../b"


def test_should_refuse_a_key_when_it_is_not_a_str():
    with pytest.raises(TypeError):
        tidemark.encode_key(b"bytes/key")


def test_should_base64_values_and_send_empty_put_and_delete_when_commit_has_no_state():
    doc = json.loads(commit_body([{"group": "g", "topic": "t", "partition": 0, "offset": 1}]))
    assert doc == {"offsets": [{"group": "g", "topic": "t", "partition": 0, "offset": 1}],
                   "state": {"put": {}, "delete": []}}


def test_should_base64_bytes_and_utf8_text_when_commit_puts_values():
    doc = json.loads(commit_body([], put={"bin": b"\x00\xff\x80", "text": "é"}, delete=["old"]))
    assert base64.b64decode(doc["state"]["put"]["bin"]) == b"\x00\xff\x80"
    assert base64.b64decode(doc["state"]["put"]["text"]) == "é".encode()
    assert doc["state"]["delete"] == ["old"]


def test_should_refuse_offsets_when_they_are_not_a_list_of_mappings():
    with pytest.raises(TypeError):
        commit_body("not offsets")
    with pytest.raises(TypeError):
        commit_body([("g", "t", 0, 1)])


# -- error mapping -------------------------------------------------------------------


@pytest.mark.parametrize("status,cls", [
    (400, tidemark.BadRequest), (401, tidemark.Unauthenticated), (404, tidemark.NotFound),
    (405, tidemark.MethodNotAllowed), (409, tidemark.Conflict), (413, tidemark.PayloadTooLarge),
    (500, tidemark.ServerError), (503, tidemark.ServerError), (504, tidemark.ServerError),
    (507, tidemark.ServerError)])
def test_should_raise_the_typed_error_with_status_and_code_when_sidecar_answers_an_error(
        status, cls):
    err = error_for(status, b'{"error":{"code":"some_code","message":"why"}}')
    assert type(err) is cls and isinstance(err, tidemark.TidemarkError)
    assert (err.status, err.code, err.message) == (status, "some_code", "why")


def test_should_raise_the_generic_error_when_status_has_no_subclass():
    err = error_for(418, b'{"error":{"code":"teapot","message":"short"}}')
    assert type(err) is tidemark.TidemarkError and err.code == "teapot"


def test_should_keep_the_body_as_message_when_error_body_is_not_the_api_error_object():
    err = error_for(502, b"<html>bad gateway</html>")
    assert (type(err), err.code, err.message) == (tidemark.ServerError, "unknown",
                                                  "<html>bad gateway</html>")
    assert error_for(404, b"").code == "unknown"


def test_should_keep_transport_errors_apart_from_api_errors():
    assert not issubclass(tidemark.TransportError, tidemark.TidemarkError)
    assert not issubclass(tidemark.TidemarkError, tidemark.TransportError)


# -- requests on the wire ------------------------------------------------------------


def test_should_send_the_value_bytes_content_type_and_if_match_when_putting_state(fake):
    fake.answer(204, headers={"ETag": '"abc"'})
    client = tidemark.Client(fake.url)
    assert client.put_state("a b/c", b"\x00\x01", content_type="x/y", if_match='"old"') == '"abc"'
    method, target, headers, body = fake.requests[0]
    assert (method, target, body) == ("PUT", "/v1/state/a%20b/c", b"\x00\x01")
    assert headers["content-type"] == "x/y" and headers["if-match"] == '"old"'
    assert "authorization" not in headers


def test_should_send_no_content_type_when_none_is_given(fake):
    fake.answer(204, headers={"ETag": '"e"'})
    tidemark.Client(fake.url).put_state("k", "text")
    _, _, headers, body = fake.requests[0]
    assert "content-type" not in headers and body == b"text"


def test_should_return_state_with_type_and_etag_when_key_exists(fake):
    fake.answer(200, b"\xff\x00", {"Content-Type": "application/octet-stream", "ETag": '"e1"'})
    state = tidemark.Client(fake.url).get_state("k", view="staged")
    assert state == tidemark.State(b"\xff\x00", "application/octet-stream", '"e1"')
    assert fake.requests[0][1] == "/v1/state/k?view=staged"


def test_should_return_none_when_key_has_no_state(fake):
    fake.error(404, "not_found")
    assert tidemark.Client(fake.url).get_state("missing") is None
    assert fake.requests[0][1] == "/v1/state/missing"


def test_should_raise_not_found_when_deleting_a_key_without_state(fake):
    fake.error(404, "not_found", "no state k")
    with pytest.raises(tidemark.NotFound) as raised:
        tidemark.Client(fake.url).delete_state("k")
    assert raised.value.message == "no state k"


def test_should_encode_prefix_and_view_in_the_query_when_listing(fake):
    fake.answer(200, {"keys": [{"key": "a/1", "size": 3, "etag": '"e"'}]})
    listed = tidemark.Client(fake.url).list_state(prefix="a/ b", view="staged")
    assert listed == [tidemark.StateInfo("a/1", 3, '"e"')]
    assert fake.requests[0][1] == "/v1/state?prefix=a%2F+b&view=staged"


def test_should_post_json_offsets_and_return_the_seal_when_marking_offsets(fake):
    fake.answer(200, {"seal": 3, "partitions": 1})
    offsets = [{"group": "g", "topic": "t", "partition": 2, "offset": 9, "metadata": None}]
    assert tidemark.Client(fake.url).mark_offsets(offsets) == {"seal": 3, "partitions": 1}
    method, target, headers, body = fake.requests[0]
    assert (method, target, headers["content-type"]) == ("POST", "/v1/offsets", "application/json")
    assert json.loads(body) == offsets


def test_should_return_the_checkpoint_id_when_checkpoint_is_durable(fake):
    fake.answer(201, {"id": "1700000000000000"})
    fake.answer(200, {"checkpoints": [{"id": "1700000000000000"}]})
    fake.answer(200, {"id": "1700000000000000", "trigger": "request"})
    client = tidemark.Client(fake.url)
    assert client.checkpoint() == "1700000000000000"
    assert client.checkpoints() == [{"id": "1700000000000000"}]
    assert client.get_checkpoint(1700000000000000)["trigger"] == "request"
    assert [r[:2] for r in fake.requests] == [("POST", "/v1/checkpoints"),
                                              ("GET", "/v1/checkpoints"),
                                              ("GET", "/v1/checkpoints/1700000000000000")]


def test_should_prefix_every_path_when_base_url_has_a_path(fake):
    fake.error(404, "not_found")
    tidemark.Client(fake.url + "/sidecar/").get_state("k")
    assert fake.requests[0][1] == "/sidecar/v1/state/k"


def test_should_send_the_bearer_token_when_token_is_given(fake):
    fake.answer(200, {"checkpoints": []})
    tidemark.Client(fake.url, token="s3cret").checkpoints()
    assert fake.requests[0][2]["authorization"] == "Bearer s3cret"


def test_should_send_the_rotated_token_when_token_file_changes(fake, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("first\n")
    client = tidemark.Client(fake.url, token_file=token_file)
    fake.answer(200, {"checkpoints": []})
    client.checkpoints()
    replacement = tmp_path / "token.new"  # an atomic swap, as a Secret rotates
    replacement.write_text("second-token\n")
    os.replace(replacement, token_file)
    fake.answer(200, {"checkpoints": []})
    client.checkpoints()
    assert [r[2]["authorization"] for r in fake.requests] == ["Bearer first",
                                                              "Bearer second-token"]


def test_should_keep_the_previous_token_when_token_file_becomes_empty(fake, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("kept")
    client = tidemark.Client(fake.url, token_file=token_file)
    token_file.write_text("")
    fake.answer(200, {"checkpoints": []})
    client.checkpoints()
    assert fake.requests[0][2]["authorization"] == "Bearer kept"


def test_should_refuse_construction_when_token_file_is_missing_or_both_tokens_given(tmp_path):
    with pytest.raises(FileNotFoundError):
        tidemark.Client(token_file=tmp_path / "missing")
    with pytest.raises(ValueError):
        tidemark.Client(token="a", token_file=tmp_path / "missing")
    with pytest.raises(ValueError):
        tidemark.Client("ftp://host:1")


# -- the connection -------------------------------------------------------------------


def test_should_reuse_one_connection_when_requests_follow_each_other(fake):
    client = tidemark.Client(fake.url)
    for _ in range(3):
        fake.answer(200, {"checkpoints": []})
        client.checkpoints()
    assert fake.connections == 1


def test_should_resend_once_on_a_new_connection_when_an_idempotent_request_meets_a_dropped_one(
        fake):
    client = tidemark.Client(fake.url)
    fake.answer(200, {"checkpoints": []}, drop=True)
    client.checkpoints()
    fake.answer(204, headers={"ETag": '"e"'})
    assert client.put_state("k", b"v") == '"e"'
    assert [r[0] for r in fake.requests] == ["GET", "PUT"] and fake.connections == 2


def test_should_raise_transport_error_and_not_resend_when_a_post_meets_a_dropped_idle_connection(
        fake):
    client = tidemark.Client(fake.url)
    fake.answer(200, {"checkpoints": []}, drop=True)
    client.checkpoints()
    fake.answer(200, {"seal": 1, "partitions": 0})
    with pytest.raises(tidemark.TransportError):
        client.mark_offsets([])
    assert [r[0] for r in fake.requests] == ["GET"]
    assert client.mark_offsets([]) == {"seal": 1, "partitions": 0}  # the next call reconnects


def test_should_open_a_new_connection_when_the_kept_one_was_idle_too_long(fake):
    client = tidemark.Client(fake.url)
    client.IDLE_RECONNECT_SECONDS = 0.0
    for _ in range(2):
        fake.answer(200, {"seal": 1, "partitions": 0})
        client.mark_offsets([])
        time.sleep(0.01)
    assert fake.connections == 2


def test_should_raise_transport_error_when_nothing_listens():
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]
    with pytest.raises(tidemark.TransportError) as raised:
        tidemark.Client(f"http://127.0.0.1:{port}").get_state("k")
    assert isinstance(raised.value.__cause__, ConnectionRefusedError)


def test_should_raise_transport_error_when_the_answer_is_later_than_the_timeout(fake):
    fake.answer(200, {"checkpoints": []}, delay=1.0)
    with pytest.raises(tidemark.TransportError):
        tidemark.Client(fake.url, timeout=0.2).checkpoints()


def test_should_raise_transport_error_when_a_success_answer_is_not_json(fake):
    fake.answer(200, b"<html/>")
    with pytest.raises(tidemark.TransportError):
        tidemark.Client(fake.url).checkpoints()
