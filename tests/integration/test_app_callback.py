"""Samza's checkpoint flow (checkpoint.app_callback): each checkpoint first asks
the application for its offsets and state; what it answers is sealed and
committed together. Failures and timeouts of the application count as failed
checkpoints, and in sync mode a commit whose checkpoint failed is refused
to the application with a retriable error and never reaches upstream."""

import base64
import http.server
import json
import subprocess
import threading
import time

import pytest

from harness.api import call
from harness.tidemark import client_env, committed_offsets

MANUAL = {"checkpoint.interval": "24h", "checkpoint.max_messages": "0"}


class App:
    """The application's side of the callback: a real HTTP server that records
    each request and answers with whatever the test sets in `answer`."""

    def __init__(self):
        self.requests = []
        self.answer = (204, b"")
        self.delay = 0.0
        app = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                app.requests.append((self.path, self.headers["Content-Type"], json.loads(body)))
                time.sleep(app.delay)
                status, payload = app.answer
                self.send_response(status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tidemark/checkpoint"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def app():
    a = App()
    yield a
    a.stop()


def commit_document(offset, counts):
    return json.dumps({
        "offsets": [{"group": "wc", "topic": "demo", "partition": 3, "offset": offset}],
        "state": {"put": {"counts": base64.b64encode(json.dumps(counts).encode()).decode()}},
    }).encode()


def test_checkpoint_should_commit_what_the_application_answers(cluster, sidecar_factory, app):
    sidecar = sidecar_factory(cluster, {**MANUAL, "checkpoint.app_callback": app.url,
                                        "job.id": "wordcount"})
    app.answer = (200, commit_document(17, {"kafka": 3}))
    status, raw = call(sidecar, "POST", "/v1/checkpoints")
    assert status == 201, raw
    checkpoint_id = json.loads(raw)["id"]
    path, content_type, request = app.requests[-1]
    assert (path, content_type) == ("/tidemark/checkpoint", "application/json")
    assert request == {"trigger": "request", "job_id": "wordcount", "last_checkpoint_id": None}

    _, raw = call(sidecar, "GET", f"/v1/checkpoints/{checkpoint_id}")
    detail = json.loads(raw)
    assert [(o["topic"], o["partition"], o["offset"]) for o in detail["offsets"]] == [("demo", 3, 17)]
    assert call(sidecar, "GET", "/v1/state/counts") == (200, b'{"kafka": 3}')

    # 204: nothing new; the checkpoint proceeds with what is sealed and says so.
    app.answer = (204, b"")
    status, raw = call(sidecar, "POST", "/v1/checkpoints")
    assert status == 201
    assert app.requests[-1][2]["last_checkpoint_id"] == checkpoint_id


def test_checkpoint_should_fail_with_the_reason_when_the_application_answers_an_error(
        cluster, sidecar_factory, app):
    sidecar = sidecar_factory(cluster, {**MANUAL, "checkpoint.app_callback": app.url,
                                        "checkpoint.tolerable_failures": "1"})
    app.answer = (500, b"model not loaded")
    status, raw = call(sidecar, "POST", "/v1/checkpoints")
    assert status == 503
    error = json.loads(raw)["error"]
    assert error["code"] == "unavailable" and "answered 500: model not loaded" in error["message"]
    app.answer = (200, b'{"offsets": "not a list"}')
    status, raw = call(sidecar, "POST", "/v1/checkpoints")
    assert status == 503 and "invalid_offsets" in json.loads(raw)["error"]["message"]
    # Two consecutive failures exceed checkpoint.tolerable_failures = 1.
    status, raw = call(sidecar, "GET", "/readyz")
    assert status == 503 and b"consecutive checkpoint failures" in raw
    app.answer = (204, b"")
    deadline = time.time() + 15  # the retry (with backoff) succeeds and readiness returns
    while call(sidecar, "GET", "/readyz")[0] != 200 and time.time() < deadline:
        time.sleep(0.1)
    assert call(sidecar, "GET", "/readyz")[0] == 200


def test_checkpoint_should_time_out_when_the_application_does_not_answer_in_time(
        cluster, sidecar_factory, app):
    sidecar = sidecar_factory(cluster, {**MANUAL, "checkpoint.app_callback": app.url,
                                        "checkpoint.timeout": "300ms"})
    app.delay = 2.0
    status, raw = call(sidecar, "POST", "/v1/checkpoints")
    assert status == 504 and json.loads(raw)["error"]["code"] == "checkpoint_timeout"
    sidecar.log.wait_for(lambda l: "checkpoint failed" in l and "DeadlineExceeded" in l, 5)


def test_checkpoint_should_fail_when_the_application_is_not_listening(cluster, sidecar_factory):
    sidecar = sidecar_factory(cluster, {**MANUAL,
                                        "checkpoint.app_callback": "http://127.0.0.1:9/cp"})
    status, raw = call(sidecar, "POST", "/v1/checkpoints")
    assert status == 503 and "no connection" in json.loads(raw)["error"]["message"]


COMMITTER = r"""
import json, sys, confluent_kafka as ck
bootstrap, group = sys.argv[1], sys.argv[2]
c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
tp = ck.TopicPartition("demo", 1, 5)
try:
    result = c.commit(offsets=[tp], asynchronous=False)
    print(json.dumps({"error": None, "partition_error": str(result[0].error)}))
except ck.KafkaException as e:
    print(json.dumps({"error": e.args[0].name()}))
c.close()
"""


def test_sync_commit_should_be_refused_and_kept_from_upstream_when_its_checkpoint_fails(
        cluster, sidecar_factory, app, tmp_path):
    sidecar = sidecar_factory(cluster, {**MANUAL, "checkpoint.app_callback": app.url,
                                        "offsets.commit_mode": "sync"})
    app.answer = (500, b"not now")
    script = tmp_path / "commit.py"
    script.write_text(COMMITTER)

    def commit_through(bootstrap):
        out = subprocess.run(["/usr/bin/python3", str(script), bootstrap, "g-sync"],
                             capture_output=True, text=True, timeout=60, env=client_env("debian"))
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout.strip().splitlines()[-1])

    result = commit_through(sidecar.fields["proxy"])
    assert result["error"] == "REQUEST_TIMED_OUT", result
    # Upstream never saw it.
    assert committed_offsets(cluster.bootstrap, "g-sync", "demo", [1]) == {1: -1001}

    app.answer = (204, b"")
    result = commit_through(sidecar.fields["proxy"])
    assert result["error"] is None and result["partition_error"] == "None", result
