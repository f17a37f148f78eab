"""Graceful shutdown and readiness, as an operator relies on them: SIGTERM
serves the application until it has left (its last commit lands in the final
checkpoint), then exits 0; shutdown.timeout and a second signal exit at once
with the store intact; /readyz names every check and why it fails."""

import json
import signal
import socket
import time
import urllib.error
import urllib.request

import confluent_kafka as ck

from harness.fake_server import FakeServer
from harness.tidemark import Sidecar, free_port, free_port_range

MANUAL = {"checkpoint.interval": "24h", "checkpoint.max_messages": "0"}


def get(sidecar, path):
    try:
        with urllib.request.urlopen(sidecar.url(path), timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def produce(bootstrap, count, topic="demo"):
    p = ck.Producer({"bootstrap.servers": bootstrap})
    for i in range(count):
        p.produce(topic, value=str(i).encode(), partition=i % 6)
    assert p.flush(30) == 0


def consumer(bootstrap, group):
    c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                     "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    c.subscribe(["demo"])
    return c


def consume(c, count):
    got = []
    deadline = time.time() + 60
    while len(got) < count and time.time() < deadline:
        m = c.poll(0.5)
        if m is not None and m.error() is None:
            got.append(m)
    assert len(got) == count
    return got


def latest_checkpoint(sidecar):
    _, listing = get(sidecar, "/v1/checkpoints")
    newest = listing["checkpoints"][0]["id"]
    return get(sidecar, f"/v1/checkpoints/{newest}")[1]


def test_sigterm_should_serve_the_application_until_it_leaves_then_checkpoint_its_last_commit(
        cluster, sidecar_factory):
    sidecar = sidecar_factory(cluster, settings={**MANUAL, "shutdown.timeout": "20s"})
    proxy = sidecar.fields["proxy"]
    produce(proxy, 30)
    app = consumer(proxy, "drain")
    first = consume(app, 20)
    app.commit(asynchronous=False)
    sidecar.proc.send_signal(signal.SIGTERM)
    sidecar.log.wait_for(lambda l: "shutting down" in l, 10, "the drain to start")
    assert get(sidecar, "/readyz")[1]["checks"]["shutdown"] == "shutting down"
    # The application, told to stop at the same moment (a classic sidecar),
    # finishes its batch, commits and leaves, all through the draining proxy.
    rest = consume(app, 10)
    app.commit(asynchronous=False)
    app.close()
    assert sidecar.wait(timeout=30) == 0
    assert not any("drain time over" in l for l in sidecar.log.lines)
    done = {(m.partition(), m.offset()) for m in first + rest}
    expected = {p: max(o for q, o in done if q == p) + 1 for p, _ in done}
    again = Sidecar(sidecar.workdir, cluster.bootstrap, MANUAL)
    try:
        # The newest checkpoint: the one LeaveGroup triggered (checkpoint
        # first, then forward) or the final one, whichever saw the last commit.
        cp = latest_checkpoint(again)
        assert cp["trigger"] in ("leave-group", "shutdown")
        assert {o["partition"]: o["offset"] for o in cp["offsets"]
                if o["group"] == "drain"} == expected
    finally:
        again.stop()


def test_sigterm_should_stop_waiting_for_open_connections_after_half_the_timeout(
        cluster, sidecar_factory):
    sidecar = sidecar_factory(cluster, settings={**MANUAL, "shutdown.timeout": "4s"})
    host, port = sidecar.fields["proxy"].rsplit(":", 1)
    idle = socket.create_connection((host, int(port)))  # an application that never leaves
    try:
        started = time.time()
        sidecar.proc.send_signal(signal.SIGTERM)
        assert sidecar.wait(timeout=10) == 0
        assert 1.5 <= time.time() - started < 4
        assert any("drain time over" in l for l in sidecar.log.lines)
        assert any("final checkpoint durable" in l for l in sidecar.log.lines)
    finally:
        idle.close()


def silent_app():
    """An application callback endpoint that accepts and never answers."""
    return FakeServer(lambda conn: None)


def test_shutdown_timeout_should_exit_at_once_and_leave_the_store_intact(
        cluster, sidecar_factory):
    app = silent_app()
    settings = {**MANUAL, "shutdown.timeout": "2s", "checkpoint.timeout": "1h",
                "checkpoint.app_callback": f"http://127.0.0.1:{app.port}/checkpoint"}
    sidecar = sidecar_factory(cluster, settings=settings)
    started = time.time()
    sidecar.proc.send_signal(signal.SIGTERM)
    assert sidecar.wait(timeout=10) == 1
    assert time.time() - started < 5
    assert any("shutdown.timeout reached" in l for l in sidecar.log.lines)
    again = Sidecar(sidecar.workdir, cluster.bootstrap, MANUAL)  # opens: integrity ok
    again.stop()


def test_second_signal_should_exit_at_once(cluster, sidecar_factory):
    app = silent_app()
    settings = {**MANUAL, "shutdown.timeout": "1h", "checkpoint.timeout": "1h",
                "checkpoint.app_callback": f"http://127.0.0.1:{app.port}/checkpoint"}
    sidecar = sidecar_factory(cluster, settings=settings)
    sidecar.proc.send_signal(signal.SIGTERM)
    sidecar.log.wait_for(lambda l: "shutting down" in l, 10, "the shutdown to start")
    sidecar.proc.send_signal(signal.SIGINT)
    assert sidecar.wait(timeout=10) == 1
    assert any("second stop signal" in l for l in sidecar.log.lines)


def test_readyz_should_name_every_check_when_ready(cluster, sidecar_factory):
    sidecar = sidecar_factory(cluster, settings=MANUAL)
    status, body = get(sidecar, "/readyz")
    assert status == 200 and body["status"] == "ready"
    assert body["checks"] == {"shutdown": "ok", "restore": "ok", "checkpoints": "ok",
                              "store": "ok", "upstream": "ok", "broker_listeners": "ok"}


def test_readyz_should_fail_while_the_upstream_cluster_is_unreachable(tmp_path):
    dead = free_port()  # nothing listens here
    sidecar = Sidecar(tmp_path / "s", f"127.0.0.1:{dead}", MANUAL)
    try:
        deadline = time.time() + 15
        while get(sidecar, "/readyz")[0] != 503:
            assert time.time() < deadline, "readiness never noticed the missing cluster"
            time.sleep(0.2)
        body = get(sidecar, "/readyz")[1]
        assert body["checks"]["upstream"].startswith(f"upstream unreachable: cannot connect to "
                                                     f"127.0.0.1:{dead}")
        assert body["reason"] == body["checks"]["upstream"]
    finally:
        sidecar.stop()


def test_readyz_should_fail_when_a_broker_listener_cannot_open(cluster, sidecar_factory):
    base = free_port_range(16)
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", base + 2))  # node 2's port, taken before the sidecar starts
    squatter.listen(1)
    try:
        sidecar = sidecar_factory(cluster, settings={**MANUAL, "proxy.broker_port_base": str(base)})
        # Listeners open at start, for every broker the cluster lists.
        assert any("cannot open broker listener" in l for l in sidecar.log.lines)
        status, body = get(sidecar, "/readyz")
        assert status == 503
        assert body["checks"]["broker_listeners"] == "no listener for broker(s) 2 (port taken)"
    finally:
        squatter.close()


def test_broker_listeners_should_open_at_start_for_every_broker(cluster, sidecar_factory):
    base = free_port_range(16)
    sidecar_factory(cluster, settings={**MANUAL, "proxy.broker_port_base": str(base)})
    for node in range(1, cluster.brokers + 1):  # before any client asked for metadata
        socket.create_connection(("127.0.0.1", base + node), timeout=5).close()
