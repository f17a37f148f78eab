"""GET /metrics after a known workload, read with Prometheus' own text-format
parser (prometheus_client), never by string matching."""

import json
import socket
import struct
import subprocess
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from harness.tidemark import client_env

MANUAL = {"checkpoint.interval": "24h", "checkpoint.max_messages": "0"}
LAG_PERIOD_S = 5  # server/lag_monitor.h kPeriod


def call(sidecar, method, path, body=None):
    req = urllib.request.Request(sidecar.url(path), data=body, method=method)
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, r.headers, r.read()


def scrape(sidecar):
    """{(sample name, frozenset(labels)): value} and the families' types."""
    _, headers, raw = call(sidecar, "GET", "/metrics")
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples, types = {}, {}
    for family in text_string_to_metric_families(raw.decode()):
        types[family.name] = family.type
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples, types


def test_metrics_should_count_checkpoints_bytes_and_requests_of_a_known_workload(
        cluster, sidecar_factory):
    sidecar = sidecar_factory(cluster, MANUAL)
    state = b"s" * 1000
    call(sidecar, "PUT", "/v1/state/model", state)
    for offset in (5, 6):  # the second checkpoint references the unchanged blob
        body = json.dumps([{"group": "g", "topic": "demo", "partition": 0, "offset": offset}])
        call(sidecar, "POST", "/v1/offsets", body.encode())
        assert call(sidecar, "POST", "/v1/checkpoints")[0] == 201

    m, types = scrape(sidecar)
    completed = frozenset({("trigger", "request"), ("outcome", "completed")})
    assert m[("tidemark_checkpoints_total", completed)] == 2
    assert types["tidemark_checkpoints"] == "counter"
    assert m[("tidemark_checkpoint_duration_seconds_count", frozenset())] == 2
    assert types["tidemark_checkpoint_duration_seconds"] == "histogram"
    assert m[("tidemark_checkpoint_written_bytes_total", frozenset())] == len(state)
    assert m[("tidemark_checkpoint_deduplicated_bytes_total", frozenset())] == len(state)
    assert m[("tidemark_checkpoint_consecutive_failures", frozenset())] == 0
    assert 0 <= m[("tidemark_checkpoint_seconds_since_last_completed", frozenset())] < 60
    assert m[("tidemark_checkpoint_last_completed_id", frozenset())] > 0
    assert m[("tidemark_restore_bytes", frozenset())] == 0
    assert m[("tidemark_proxy_connections", frozenset())] == 0
    # SQLite's heap: at least the statements and pages two checkpoints used.
    assert 64 * 1024 < m[("tidemark_store_memory_bytes", frozenset())] < 256 * 1024 * 1024
    put = frozenset({("route", "/v1/state/{key...}"), ("method", "PUT"), ("code", "204")})
    assert m[("tidemark_http_requests_total", put)] == 1
    offsets = frozenset({("route", "/v1/offsets"), ("method", "POST"), ("code", "200")})
    assert m[("tidemark_http_requests_total", offsets)] == 2
    assert m[("tidemark_http_request_duration_seconds_count",
              frozenset({("route", "/v1/checkpoints")}))] == 2


def test_metrics_should_count_failed_checkpoints_by_trigger(cluster, sidecar_factory):
    # An application callback that is not listening: every checkpoint fails.
    sidecar = sidecar_factory(cluster, {**MANUAL,
                                        "checkpoint.app_callback": "http://127.0.0.1:9/cp"})
    try:
        call(sidecar, "POST", "/v1/checkpoints")
    except urllib.error.HTTPError as e:
        assert e.code == 503
    m, _ = scrape(sidecar)
    failed = frozenset({("trigger", "request"), ("outcome", "failed")})
    assert m[("tidemark_checkpoints_total", failed)] == 1
    assert m[("tidemark_checkpoint_consecutive_failures", frozenset())] == 1


def test_metrics_should_count_proxy_requests_by_api_and_rejected_frames(cluster, sidecar_factory):
    sidecar = sidecar_factory(cluster, MANUAL)
    out = subprocess.run(["kcat", "-L", "-b", sidecar.fields["proxy"], "-t", "demo"],
                         capture_output=True, text=True, timeout=60, env=client_env("debian"))
    assert out.returncode == 0, out.stderr
    host, port = sidecar.fields["proxy"].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        # Metadata v99: a version the sidecar does not decode closes the connection.
        s.sendall(struct.pack(">ihhih", 10, 3, 99, 1, -1))
        assert s.recv(16) == b""
    m, _ = scrape(sidecar)
    assert m[("tidemark_proxy_requests_total", frozenset({("api", "Metadata")}))] >= 1
    assert m[("tidemark_proxy_requests_total", frozenset({("api", "ApiVersions")}))] >= 1
    assert m[("tidemark_proxy_frames_rejected_total", frozenset({("api", "Metadata")}))] == 1
    assert m[("tidemark_proxy_bytes_total", frozenset({("direction", "to_client")}))] > 0
    assert m[("tidemark_proxy_bytes_total", frozenset({("direction", "to_upstream")}))] > 0


def test_metrics_should_show_each_partitions_committed_offset_high_watermark_and_lag(
        cluster, sidecar_factory):
    import time
    import confluent_kafka as ck
    sidecar = sidecar_factory(cluster, MANUAL)
    proxy = sidecar.fields["proxy"]
    p = ck.Producer({"bootstrap.servers": proxy})
    for i in range(30):
        p.produce("demo", value=str(i).encode(), partition=2)
    assert p.flush(30) == 0
    c = ck.Consumer({"bootstrap.servers": proxy, "group.id": "lagging",
                     "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    c.assign([ck.TopicPartition("demo", 2, 0)])
    got = 0
    deadline = time.time() + 30
    while got < 12 and time.time() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            got += 1
            if got == 12:
                c.commit(message=m, asynchronous=False)  # next offset to read: 12
    c.close()
    labels = frozenset({"group": "lagging", "topic": "demo", "partition": "2"}.items())
    deadline = time.time() + 20  # the monitor looks every 5 s
    while True:
        samples, types = scrape(sidecar)
        lag = samples.get(("tidemark_partition_lag", labels))
        if lag is not None or time.time() > deadline:
            break
        time.sleep(0.5)
    assert samples[("tidemark_partition_committed_offset", labels)] == 12
    assert samples[("tidemark_partition_high_watermark",
                    frozenset({"topic": "demo", "partition": "2"}.items()))] == 30
    assert lag == 18
    assert types["tidemark_partition_lag"] == "gauge"
    assert types["tidemark_processed_messages"] == "counter"


# A consumer that reads `count` messages of one partition through the proxy,
# commits after the last, prints "committed", then keeps fetching (committing
# nothing more) until its stdin closes.
FETCHING_CONSUMER = """
import confluent_kafka as ck, select, sys
proxy, group, partition, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
c = ck.Consumer({"bootstrap.servers": proxy, "group.id": group, "enable.auto.commit": False,
                 "fetch.wait.max.ms": 100})
c.assign([ck.TopicPartition("demo", partition, 0)])
got = 0
while True:
    m = c.poll(0.2)
    if m is not None and not m.error():
        got += 1
        if got == count:
            c.commit(message=m, asynchronous=False)
            print("committed", flush=True)
    if select.select([sys.stdin], [], [], 0)[0] and not sys.stdin.read(1):
        break
c.close()
"""


def produce_direct(cluster, partition, count):
    import confluent_kafka as ck
    p = ck.Producer({"bootstrap.servers": cluster.bootstrap})
    for i in range(count):
        p.produce("demo", value=str(i).encode(), partition=partition)
    assert p.flush(30) == 0


def lag_samples(sidecar, group, partition):
    samples, _ = scrape(sidecar)
    labels = frozenset({"group": group, "topic": "demo", "partition": str(partition)}.items())
    high = frozenset({"topic": "demo", "partition": str(partition)}.items())

    def updates(source):
        return samples.get(("tidemark_partition_watermark_updates_total",
                            frozenset({("source", source)})), 0)
    return (samples.get(("tidemark_partition_high_watermark", high)),
            samples.get(("tidemark_partition_lag", labels)), updates("fetch"), updates("cluster"))


def wait_for_lag(sidecar, group, partition, high, lag, timeout):
    """Until the partition's gauges show `high` and `lag` (the monitor looks every 5 s)."""
    import time
    deadline = time.time() + timeout
    while lag_samples(sidecar, group, partition)[:2] != (high, lag):
        assert time.time() < deadline, (f"gauges {lag_samples(sidecar, group, partition)[:2]}, "
                                        f"want {(high, lag)}")
        time.sleep(0.5)


# The high watermark comes from the Fetch answers the application is already
# getting (streamed through in the Debian generation, Fetch v11; buffered and
# by topic id in the modern one, Fetch v16), not from asking the cluster.
def test_lag_should_come_from_the_applications_fetch_answers_while_it_fetches(
        kafka, generation, sidecar_factory):
    import time
    sidecar = sidecar_factory(kafka, MANUAL)
    produce_direct(kafka, 1, 40)
    app = subprocess.Popen(["/usr/bin/python3", "-c", FETCHING_CONSUMER, sidecar.fields["proxy"],
                            "fetching", "1", "10"], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, text=True, env=client_env(generation))
    try:
        assert app.stdout.readline().strip() == "committed"
        produce_direct(kafka, 1, 25)  # the app fetches these too, but commits nothing more
        wait_for_lag(sidecar, "fetching", 1, high=65, lag=55, timeout=30)
        _, _, fetch_before, cluster_before = lag_samples(sidecar, "fetching", 1)
        time.sleep(LAG_PERIOD_S + 1)  # at least one more look by the monitor
        _, _, fetch_after, cluster_after = lag_samples(sidecar, "fetching", 1)
        assert fetch_after > fetch_before
        assert cluster_after == cluster_before
    finally:
        app.stdin.close()
        app.wait(timeout=30)


# Lag matters most when the application stops fetching: the cluster is asked.
def test_lag_should_be_asked_of_the_cluster_once_the_application_stops_fetching(
        cluster, sidecar_factory):
    import time
    sidecar = sidecar_factory(cluster, MANUAL)
    produce_direct(cluster, 3, 20)
    app = subprocess.Popen(["/usr/bin/python3", "-c", FETCHING_CONSUMER, sidecar.fields["proxy"],
                            "stopping", "3", "5"], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, text=True, env=client_env("debian"))
    assert app.stdout.readline().strip() == "committed"
    app.stdin.close()
    app.wait(timeout=30)
    produce_direct(cluster, 3, 30)  # no one fetches these
    wait_for_lag(sidecar, "stopping", 3, high=50, lag=45, timeout=45)
    assert lag_samples(sidecar, "stopping", 3)[3] > 0  # watermarks from the cluster
