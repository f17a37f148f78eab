"""The foundation every later test stands on: the embedded cluster is a real
Kafka-protocol server (in both generations) that unmodified clients use, and
`tidemark serve` / `tidemark dev` start, report where they listen, and stop
cleanly on a signal."""

import json
import re
import signal
import subprocess
import urllib.request

import pytest

from harness.tidemark import (EmbeddedKafka, Sidecar, _LineReader, binary, client_env, free_port,
                              free_port_range)


def kcat_metadata(bootstrap, generation):
    out = subprocess.run(["kcat", "-L", "-J", "-b", bootstrap], capture_output=True, text=True,
                         timeout=60, env=client_env(generation), check=True)
    return json.loads(out.stdout)


def test_should_serve_metadata_to_kcat_in_each_generation(kafka):
    meta = kcat_metadata(kafka.bootstrap, kafka.generation)
    assert len(meta["brokers"]) == 3
    demo = [t for t in meta["topics"] if t["topic"] == "demo"]
    assert len(demo) == 1 and len(demo[0]["partitions"]) == 6
    expected = "2.0.2" if kafka.generation == "debian" else "2.15.1"
    assert kafka.librdkafka == expected


def test_should_round_trip_messages_with_confluent_kafka(kafka):
    script = r"""
import sys, confluent_kafka as ck
bootstrap = sys.argv[1]
p = ck.Producer({"bootstrap.servers": bootstrap})
for i in range(50):
    p.produce("demo", key=str(i), value=f"v{i}", partition=i % 6)
assert p.flush(30) == 0
c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": "g1", "auto.offset.reset": "earliest"})
c.subscribe(["demo"])
seen = set()
while len(seen) < 50:
    m = c.poll(10)
    assert m is not None, f"only {len(seen)} messages"
    assert m.error() is None, m.error()
    seen.add(m.value().decode())
c.commit(asynchronous=False)
c.close()
print(ck.libversion()[0], len(seen))
"""
    out = subprocess.run(["/usr/bin/python3", "-c", script, kafka.bootstrap], capture_output=True,
                         text=True, timeout=120, env=client_env(kafka.generation))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [kafka.librdkafka, "50"]


def test_should_take_a_broker_down_and_bring_it_back(kafka):
    kafka.broker_down(2)
    kafka.broker_up(2)
    meta = kcat_metadata(kafka.bootstrap, kafka.generation)
    assert len(meta["brokers"]) == 3


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, json.loads(r.read())


def test_serve_should_report_health_and_stop_with_exit_0_on_sigterm(tmp_path):
    cluster = EmbeddedKafka("debian", brokers=1, topics=())
    try:
        sidecar = Sidecar(tmp_path, cluster.bootstrap)
        assert get_json(sidecar.url("/healthz")) == (200, {"status": "ok"})
        assert sidecar.terminate(signal.SIGTERM) == 0
        assert any("msg=stopped" in line for line in sidecar.log.lines)
    finally:
        cluster.stop()


def test_serve_should_exit_1_when_its_port_is_taken(tmp_path):
    cluster = EmbeddedKafka("debian", brokers=1, topics=())
    try:
        first = Sidecar(tmp_path / "a", cluster.bootstrap)
        port = first.http.rsplit(":", 1)[1]
        with pytest.raises(EOFError):
            Sidecar(tmp_path / "b", cluster.bootstrap, {"http.listen": f"127.0.0.1:{port}"})
        first.stop()
    finally:
        cluster.stop()


def test_serve_should_exit_2_on_a_bad_config(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("proxy: {upstream: {bootstrap_servers: nope}}\n")
    result = subprocess.run([binary(), "serve", "--config", str(path)], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "proxy.upstream.bootstrap_servers" in result.stderr


def test_dev_should_print_where_to_connect_and_stop_cleanly_on_ctrl_c(tmp_path):
    http_port = free_port()
    proc = subprocess.Popen(
        [binary(), "dev", "--brokers", "3", "--topic", "demo:6", "--topic", "orders.v1:2",
         "--data-dir", str(tmp_path / "data"), "--set", f"http.listen=127.0.0.1:{http_port}",
         "--set", f"proxy.listen=127.0.0.1:{free_port()}",
         "--set", f"proxy.broker_port_base={free_port_range(16)}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out = _LineReader(proc.stdout)
        _LineReader(proc.stderr)
        out.wait_for(lambda l: l.startswith("Press Ctrl-C"), 30, "dev banner")
        banner = "\n".join(out.lines)
        bootstrap = re.search(r"bootstrap\.servers=(\S+)", banner).group(1)
        assert bootstrap.startswith("127.0.0.1:")  # the sidecar's listener, not the cluster
        assert f"http://127.0.0.1:{http_port}" in banner
        assert str(tmp_path / "data") in banner
        meta = kcat_metadata(bootstrap, "debian")
        topics = {t["topic"]: len(t["partitions"]) for t in meta["topics"]}
        assert topics["demo"] == 6 and topics["orders.v1"] == 2
        assert get_json(f"http://127.0.0.1:{http_port}/healthz")[0] == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
