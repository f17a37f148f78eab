"""Fixtures and checks shared by the reliability suite (docs/reliability.md).

Iteration counts come from TIDEMARK_RELIABILITY_ITERATIONS (sidecar kills,
default 5: the ctest sample) and TIDEMARK_RELIABILITY_APP_CRASHES (application
crashes, default the same); scripts/reliability runs the long suite with 500
and 50. The random
choices come from TIDEMARK_RELIABILITY_SEED (printed by every test that uses
it) so a failing run's choices, though not its timing, can be replayed.
"""

import hashlib
import json
import os
import pathlib
import random
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from harness.tidemark import (EmbeddedKafka, LineReader, Sidecar, binary,  # noqa: E402
                              client_env, free_port, free_port_range)

HERE = pathlib.Path(__file__).resolve().parent
APP = HERE / "apps" / "counting_app.py"
ITERATIONS = int(os.environ.get("TIDEMARK_RELIABILITY_ITERATIONS", "5"))
# Application crashes cost a session timeout each (3 s): their own count,
# ITERATIONS unless set.
APP_CRASHES = int(os.environ.get("TIDEMARK_RELIABILITY_APP_CRASHES", str(ITERATIONS)))
CHECKPOINT_TOPIC = "__tidemark_checkpoints"
# Set by scripts/reliability: tests too slow or timing-bound for the CI sample.
LONG = os.environ.get("TIDEMARK_RELIABILITY_LONG") == "1"


def seed():
    value = int(os.environ.get("TIDEMARK_RELIABILITY_SEED", str(random.randrange(1 << 30))))
    print(f"TIDEMARK_RELIABILITY_SEED={value}")
    return value


class FaultKafka(EmbeddedKafka):
    """The mock cluster in tests/tools/fault_kafka_main.cc: what EmbeddedKafka
    does, plus injected request errors and round-trip time (Debian's
    librdkafka only)."""

    def __init__(self, brokers=3, topics=("demo:6",), checkpoint_topic=True):  # noqa: D107
        super().__init__("debian", brokers, topics, checkpoint_topic, tool="tidemark-fault-kafka")
        self.ports = [int(a.rsplit(":", 1)[1]) for a in self.bootstrap.split(",")]

    def rtt(self, node_id, ms):
        """Delays every answer of broker `node_id` (-1: every broker) by `ms`."""
        self.command(f"rtt {node_id} {ms}")

    def inject_errors(self, api_key, error_code, count):
        """The next `count` requests of `api_key`, to any broker, fail with `error_code`."""
        self.command(f"errors {api_key} {error_code} {count}")

    def all_down(self):
        for node in range(1, self.brokers + 1):
            self.broker_down(node)

    def all_up(self):
        for node in range(1, self.brokers + 1):
            self.broker_up(node)


@pytest.fixture
def cluster():
    """A 3-broker fault-injecting cluster: topic demo (6 partitions) and the
    checkpoint topic."""
    c = FaultKafka()
    yield c
    c.stop()


class Node:
    """A sidecar that can be killed and restarted on the same workdir and the
    same ports (the application keeps its bootstrap address across restarts)."""

    def __init__(self, workdir, cluster, settings=None, env=None):
        self.workdir = pathlib.Path(workdir)
        self.cluster = cluster
        self.env = env
        base = free_port_range(16)
        self.settings = {
            "proxy.listen": f"127.0.0.1:{free_port()}",
            "proxy.broker_port_base": str(base),
            "http.listen": f"127.0.0.1:{free_port()}",
            "checkpoint.interval": "24h",
            "checkpoint.max_messages": "0",
            "checkpoint.retained": "10000",
            **(settings or {}),
        }
        self.sidecar = None
        self.runs = []

    @property
    def db(self):
        return pathlib.Path(self.settings.get("store.path", self.workdir / "tidemark.db"))

    @property
    def proxy(self):
        return self.settings["proxy.listen"]

    @property
    def http(self):
        return self.settings["http.listen"]

    def start(self, ready_timeout=30):
        """Starts `tidemark serve` and waits for its `msg=ready` log line."""
        self.sidecar = Sidecar(self.workdir, self.cluster.bootstrap, self.settings, self.env,
                               ready_timeout)
        self.runs.append(self.sidecar)
        return self.sidecar

    def start_and_kill_early(self, delay):
        """Starts `tidemark serve` on the last config and SIGKILLs it after
        `delay` seconds, whether it got ready or not (a kill during the
        restore, or during the open of the store)."""
        proc = subprocess.Popen([binary(), "serve", "--config", str(self.workdir / "tidemark.yaml")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=self.env)
        time.sleep(delay)
        proc.kill()
        proc.wait(timeout=30)

    def kill(self):
        """SIGKILL; returns the exit status."""
        if self.sidecar is not None and self.sidecar.proc.poll() is None:
            self.sidecar.proc.kill()
        return self.sidecar.proc.wait(timeout=30) if self.sidecar else None

    def stop(self):
        for s in self.runs:
            s.stop()

    def log_tail(self, n=40):
        return "\n".join(self.sidecar.log.lines[-n:]) if self.sidecar else ""


@pytest.fixture
def nodes(tmp_path):
    """nodes(cluster, settings=None, name="node", env=None) -> Node; all killed at the end."""
    made = []

    def make(cluster, settings=None, name="node", env=None):
        n = Node(tmp_path / name, cluster, settings, env)
        made.append(n)
        return n

    yield make
    for n in made:
        n.stop()


@pytest.fixture
def require_root():
    if os.geteuid() != 0:
        pytest.skip("needs root: mounts a tmpfs as the store directory")


# --- the HTTP API ------------------------------------------------------------

def call(http, method, path, body=None, timeout=60):
    """(status, body bytes) from the sidecar at `http` (host:port)."""
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(f"http://{http}{path}", data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def readyz(http):
    status, raw = call(http, "GET", "/readyz", timeout=10)
    return status, json.loads(raw)


def wait_until(predicate, timeout, what):
    deadline = time.time() + timeout
    while True:
        got = predicate()
        if got:
            return got
        assert time.time() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.2)


def wait_not_ready(http, check, timeout=30, contains=""):
    """Waits for /readyz to answer 503 with `check` failing; returns the body.
    The top-level reason must be a failing check's message."""
    def failing():
        status, body = readyz(http)
        if status == 503 and body["checks"].get(check, "ok") != "ok" \
                and contains in body["checks"][check]:
            return body
        return None
    body = wait_until(failing, timeout, f"/readyz to fail on {check!r} ({contains!r})")
    assert body["status"] == "not_ready"
    assert body["reason"] in [v for v in body["checks"].values() if v != "ok"], body
    return body


def wait_ready(http, timeout=30):
    return wait_until(lambda: readyz(http)[0] == 200, timeout, "/readyz to answer 200")


def checkpoint_list(http):
    status, raw = call(http, "GET", "/v1/checkpoints")
    assert status == 200, raw
    return json.loads(raw)["checkpoints"]


def checkpoint_detail(http, cid):
    status, raw = call(http, "GET", f"/v1/checkpoints/{cid}")
    assert status == 200, raw
    return json.loads(raw)


# --- the CLI on a store file ---------------------------------------------------

def cli(*args, check=True):
    out = subprocess.run([binary(), "checkpoints", *args], capture_output=True, text=True,
                         timeout=60)
    if check:
        assert out.returncode == 0, f"tidemark checkpoints {' '.join(args)}: {out.stderr}"
    return out


def store_checkpoints(db):
    """{id: detail} of every checkpoint in the store file, read by
    `tidemark checkpoints list/show --store` (the sidecar need not run)."""
    listing = json.loads(cli("list", "--store", str(db), "--json").stdout)["checkpoints"]
    return {c["id"]: json.loads(cli("show", c["id"], "--store", str(db), "--json").stdout)
            for c in listing}


def sha256(data):
    return hashlib.sha256(data).hexdigest()


# --- the counting application ----------------------------------------------------

class App:
    """tests/reliability/apps/counting_app.py through a node's proxy."""

    def __init__(self, node, group, topic="demo", client="confluent", expect=0, crash_after=0,
                 crash_phase="after-put", batch=50):
        args = [sys.executable, str(APP), "--client", client, "--bootstrap", node.proxy,
                "--http", node.http, "--group", group, "--topic", topic,
                "--expect", str(expect), "--batch", str(batch)]
        if crash_after:
            args += ["--crash-after-batches", str(crash_after), "--crash-phase", crash_phase]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=client_env("debian"))
        self.out = LineReader(self.proc.stdout)
        self.err = LineReader(self.proc.stderr)

    def events(self, kind):
        return [json.loads(l) for l in self.out.lines if l.startswith("{")
                and json.loads(l)["event"] == kind]

    def wait(self, timeout=120):
        """Exit code, once every line it wrote has been collected."""
        try:
            code = self.proc.wait(timeout=timeout)
            self.out.join()
            self.err.join()
            return code
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"the application did not finish within {timeout}s: "
                                 f"{self.out.lines[-5:]} {self.err.lines[-20:]}")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def produce(bootstrap, topic, partitions, per_partition):
    """per_partition messages to each partition, straight to the cluster."""
    import confluent_kafka as ck
    p = ck.Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for i in range(per_partition * partitions):
        p.produce(topic, value=f"m{i}".encode(), partition=i % partitions)
    assert p.flush(30) == 0


def agreeing_count(offset):
    """The bytes counting_app.py PUTs for a partition whose next offset is
    `offset` when state and offsets agree."""
    return json.dumps({"count": offset, "next": offset}).encode()


def partition_state_problems(detail, group, topic="demo"):
    """For a checkpoint written by counting_app.py (a checkpoint detail as
    `GET /v1/checkpoints/{id}` and `checkpoints show --json` print it): every
    partition whose state does not agree with its offset, compared by SHA-256
    (a partition with an offset but no state, or state but no offset, or
    state for other offsets, is a problem). [] when they all agree."""
    offsets = {o["partition"]: o["offset"] for o in detail["offsets"]
               if o["group"] == group and o["topic"] == topic}
    scoped = {s["partition"]["partition"]: s["sha256"] for s in detail["state"]
              if s.get("partition") and s["partition"]["group"] == group
              and s["partition"]["topic"] == topic and s["key"] == "count"}
    problems = []
    for p in sorted(set(offsets) | set(scoped)):
        if p not in offsets:
            problems.append(f"partition {p}: state {scoped[p][:12]} without an offset")
        elif p not in scoped:
            if offsets[p] > 0:
                problems.append(f"partition {p}: offset {offsets[p]} without state")
        elif scoped[p] != sha256(agreeing_count(offsets[p])):
            problems.append(f"partition {p}: offset {offsets[p]} but state {scoped[p][:12]} "
                            f"is not {{count: {offsets[p]}, next: {offsets[p]}}}")
    return problems


def partition_state(http, group, partition, topic="demo"):
    status, raw = call(http, "GET",
                       f"/v1/groups/{group}/topics/{topic}/partitions/{partition}/state/count")
    assert status in (200, 404), raw
    return json.loads(raw) if status == 200 else None


def metric_value(http, name, **labels):
    """The sum of the samples named `name` on /metrics whose labels include
    `labels`; 0 when none."""
    from prometheus_client.parser import text_string_to_metric_families
    _, raw = call(http, "GET", "/metrics")
    return sum(s.value for f in text_string_to_metric_families(raw.decode())
               for s in f.samples if s.name == name
               and all(s.labels.get(k) == v for k, v in labels.items()))


def node_checkpoint(node, value, offset, key="model", group="g", partition=1):
    """PUT `value`, mark `offset`, take a checkpoint that must succeed; its id."""
    assert call(node.http, "PUT", f"/v1/state/{key}", value)[0] == 204
    offsets = [{"group": group, "topic": "demo", "partition": partition, "offset": offset}]
    assert call(node.http, "POST", "/v1/offsets", json.dumps(offsets))[0] == 200
    status, raw = call(node.http, "POST", "/v1/checkpoints")
    assert status == 201, raw
    return json.loads(raw)["id"]
