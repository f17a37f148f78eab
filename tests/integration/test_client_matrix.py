"""Real-client matrix for the proxy: every client produces and consumes through
the sidecar in a consumer group, commits, restarts and resumes from its
committed offset, and survives a rebalance between two members, against both
generations of the embedded cluster; the librdkafka-based clients run on both
librdkafka versions. No client ever holds a TCP connection to an upstream
broker port, only to the sidecar's.

Every client is a driver with one CLI shape (tests/integration/clients/,
tests/tools/rdkafka_client.cc; kcat is invoked directly):

    produce --bootstrap B --topic T --count N --prefix P   values P0..P(N-1)
    consume --bootstrap B --topic T --group G [--count N]  values on stdout, one a line,
        until N values or SIGTERM; commits what it printed, leaves, exits 0;
        "assigned: T [p], ..." on stderr at every assignment

One test per client x librdkafka build x cluster generation tells the whole story
(a) -> (b) -> (c), with (d) checked while consumers are connected and, by sampling
/proc every 50 ms, over every client process's life. Timing is set by the mock's
group coordinator: a first join waits 3 s (group.initial.rebalance.delay.ms), a
rebalance waits session.timeout.ms - 1 s for members to rejoin, so every driver
uses session.timeout.ms 3000 and heartbeat.interval.ms 500. The mock also
answers a follower's SyncGroup that arrives after the leader's with
INVALID_REQUEST (librdkafka's mock, both versions, with or without the
sidecar); librdkafka rejoins by itself, the kafka-python and kafkajs drivers
rejoin like a supervised application would, so those two take longer in (c).
"""

import dataclasses
import os
import pathlib
import re
import signal
import subprocess
import threading
import time

import pytest

from harness.tidemark import REPO, _LineReader, binary, client_env

HERE = pathlib.Path(__file__).resolve().parent
CLIENTS = HERE / "clients"
PYTHON = "/usr/bin/python3"
LIBRDKAFKA = {"debian": "2.0.2", "modern": "2.15.1"}
TOPIC = "demo"
PARTITIONS = set(range(6))
WAIT = 30  # seconds for any one expected event (a join takes 2-3 s on the mock)
PRODUCE_WAIT = 20


def node_modules():
    """node_modules holding kafkajs and @confluentinc/kafka-javascript (pinned)."""
    path = os.environ.get("TIDEMARK_NODE_MODULES")
    if not path:
        out = subprocess.run([str(REPO / "scripts" / "setup-node-clients")], check=True,
                             capture_output=True, text=True, timeout=900)
        path = out.stdout.strip().splitlines()[-1]
        os.environ["TIDEMARK_NODE_MODULES"] = path
    return path


@dataclasses.dataclass(frozen=True)
class Client:
    name: str
    kind: str  # "kcat", "python", "node" or "binary": how the driver is started
    driver: str = ""
    libs: tuple = (None,)  # librdkafka builds it runs on (None: not librdkafka-based)

    def argv(self, mode, bootstrap, group=None, count=None, prefix=None):
        """The command line and stdin text for `mode` (produce | consume)."""
        if self.kind == "kcat":
            if mode == "produce":
                lines = "".join(f"{i}:{prefix}{i}\n" for i in range(count))
                return ["kcat", "-P", "-b", bootstrap, "-t", TOPIC, "-K", ":"], lines
            argv = ["kcat", "-b", bootstrap, "-G", group, "-u", "-f", "%s\n",
                    "-X", "auto.offset.reset=earliest", "-X", "session.timeout.ms=3000",
                    "-X", "heartbeat.interval.ms=500"]
            return argv + (["-c", str(count)] if count is not None else []) + [TOPIC], None
        if self.kind == "binary":
            prog = [binary(self.driver)]
        else:
            prog = [PYTHON if self.kind == "python" else "node", str(CLIENTS / self.driver)]
        argv = prog + [mode, "--bootstrap", bootstrap, "--topic", TOPIC]
        if group is not None:
            argv += ["--group", group]
        if count is not None:
            argv += ["--count", str(count)]
        if prefix is not None:
            argv += ["--prefix", prefix]
        return argv, None

    def env(self, lib):
        if self.kind == "node":
            env = client_env("debian")  # no LD_LIBRARY_PATH: its librdkafka is its own
            env["NODE_PATH"] = node_modules()
            return env
        return client_env(lib or "debian")


CLIENT_TABLE = [
    Client("kcat", "kcat", libs=("debian", "modern")),
    Client("confluent-kafka", "python", "confluent_kafka_client.py", libs=("debian", "modern")),
    Client("cpp-librdkafka", "binary", "tidemark-rdkafka-client", libs=("debian", "modern")),
    Client("kafka-python", "python", "kafka_python_client.py"),
    Client("kafkajs", "node", "kafkajs_client.js"),
    Client("confluent-kafka-javascript", "node", "confluent_kafka_javascript_client.js",
           libs=("modern",)),
]
MATRIX = [pytest.param((c, lib), id=c.name + (f"@{LIBRDKAFKA[lib]}" if lib else ""))
          for c in CLIENT_TABLE for lib in c.libs]


# --- who each client process is connected to -------------------------------------------

TCP_STATES = {"01": "ESTABLISHED", "02": "SYN_SENT"}


def _hex_endpoint(text):
    addr, port = text.split(":")
    if len(addr) == 8:
        host = ".".join(str(b) for b in reversed(bytes.fromhex(addr)))
    else:  # IPv6: four little-endian 32-bit words
        words = [bytes.fromhex(addr[i:i + 8])[::-1].hex() for i in range(0, 32, 8)]
        host = ":".join("".join(words)[i:i + 4] for i in range(0, 32, 4))
    return host, int(port, 16)


def socket_inodes(pid):
    """Inodes of the sockets process `pid` holds (its /proc/<pid>/fd links)."""
    inodes = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return inodes
    for fd in fds:
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    return inodes


def tcp_connections():
    """{inode: (host, port)} of every connected or connecting TCP socket on this
    network namespace (/proc/net/tcp{,6}; the clients share ours)."""
    peers = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                cols = line.split()
                if cols[3] in TCP_STATES:
                    peers[cols[9]] = _hex_endpoint(cols[2])
    return peers


def tcp_peers(pid):
    """{(host, port)} process `pid` is connected (or connecting) to."""
    inodes = socket_inodes(pid)
    return {peer for inode, peer in tcp_connections().items() if inode in inodes}


class TcpWatch:
    """Samples every registered client process's TCP peers every 50 ms for as long as
    it lives, so short-lived producers are covered too."""

    def __init__(self):
        self.peers = {}  # label -> {(host, port)}
        self._procs = []
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def add(self, label, proc):
        with self._lock:
            self._procs.append((label, proc))

    def _sample(self):
        with self._lock:
            procs = [(l, p) for l, p in self._procs if p.poll() is None]
        inodes = {label: socket_inodes(p.pid) for label, p in procs}
        if not any(inodes.values()):
            return
        connections = tcp_connections()
        for label, held in inodes.items():
            self.peers.setdefault(label, set()).update(
                connections[i] for i in held if i in connections)

    def _run(self):
        while not self._done.wait(0.05):
            self._sample()

    def stop(self):
        self._done.set()
        self._thread.join()


@pytest.fixture
def tcp_watch():
    watch = TcpWatch()
    yield watch
    watch.stop()


def ports(addresses):
    return {int(a.rsplit(":", 1)[1]) for a in addresses}


def sidecar_ports(sidecar):
    """The bootstrap listener and every per-broker listener the sidecar opened."""
    listening = [m.group(1) for l in sidecar.log.lines
                 if "msg=listening" in l and "node_id=" in l
                 for m in [re.search(r"addr=(\S+)", l)] if m]
    return ports([sidecar.fields["proxy"]] + listening)


def assert_only_sidecar_peers(label, peers, kafka, sidecar, require_sidecar=True):
    upstream = ports(kafka.bootstrap.split(","))
    allowed = sidecar_ports(sidecar)
    leaked = sorted(p for p in peers if p[1] in upstream)
    assert not leaked, f"{label} connected to upstream broker ports {leaked} (upstream {upstream})"
    other = sorted(p for p in peers if p[1] not in allowed)
    assert not other, f"{label} connected to {other}, not a sidecar port ({sorted(allowed)})"
    if require_sidecar:
        assert peers, f"{label}: no TCP connection seen at all"


# --- running a client -------------------------------------------------------------------

class Run:
    """One driver process; stdout (values) and stderr collected on threads."""

    def __init__(self, label, client, lib, watch, mode, bootstrap, **kw):
        self.label = label
        argv, stdin = client.argv(mode, bootstrap, **kw)
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=client.env(lib))
        watch.add(label, self.proc)
        self.out = _LineReader(self.proc.stdout)
        self.err = _LineReader(self.proc.stderr)
        if stdin:
            self.proc.stdin.write(stdin)
            self.proc.stdin.close()

    @property
    def values(self):
        return list(self.out.lines)

    def assignments(self):
        """Every assignment it reported, in order, as sets of partitions."""
        return [{int(p) for p in re.findall(r"\[(\d+)\]", l.split("assigned:", 1)[1])}
                for l in self.err.lines if "assigned:" in l]

    def wait(self, timeout=WAIT):
        """Exit code, once every line it wrote has been collected."""
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        for reader in (self.out, self.err):
            reader.join()
        return rc

    def stop(self, timeout=WAIT):
        """SIGTERM: the driver commits, leaves the group and exits."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def report(self):
        return (f"\n--- {self.label}: {' '.join(self.argv)} (exit {self.proc.poll()})\n"
                f"stdout[-10:]: {self.out.lines[-10:]}\nstderr[-15:]: "
                + "\n  ".join([""] + self.err.lines[-15:]))


class Scenario:
    """The clients of one test, for waiting on them and explaining failures."""

    def __init__(self, client, lib, kafka, sidecar, watch):
        self.client, self.lib, self.kafka, self.sidecar, self.watch = (
            client, lib, kafka, sidecar, watch)
        self.bootstrap = sidecar.fields["proxy"]
        self.runs = []

    def start(self, label, mode, **kw):
        run = Run(label, self.client, self.lib, self.watch, mode, self.bootstrap, **kw)
        self.runs.append(run)
        return run

    def explain(self):
        log = [l for l in self.sidecar.log.lines if "level=debug" not in l][-15:]
        return ("".join(r.report() for r in self.runs)
                + "\n--- sidecar log (non-debug, last 15):\n  " + "\n  ".join(log))

    def check(self, condition, message):
        assert condition, f"{message}{self.explain()}"

    def wait_until(self, predicate, what, timeout=WAIT):
        deadline = time.monotonic() + timeout
        while not predicate():
            dead = [r.label for r in self.runs if r.proc.poll() not in (None, 0)]
            self.check(not dead, f"{dead} exited with an error while waiting for {what}")
            self.check(time.monotonic() < deadline, f"no {what} within {timeout}s")
            time.sleep(0.02)

    def produce(self, label, count, prefix):
        run = self.start(label, "produce", count=count, prefix=prefix)
        try:
            rc = run.wait(PRODUCE_WAIT)
        except subprocess.TimeoutExpired:
            rc = "timeout"
        self.check(rc == 0, f"{label}: producing {count} messages failed (exit {rc})")
        return {f"{prefix}{i}" for i in range(count)}

    def check_librdkafka(self, produced):
        """The librdkafka-based clients really ran on the library version under test."""
        if self.lib is None:
            return
        if self.client.kind == "kcat":
            text = subprocess.run(["kcat", "-V"], capture_output=True, text=True, timeout=10,
                                  env=self.client.env(self.lib)).stdout
        else:
            text = "\n".join(produced.err.lines)
        self.check(re.search(rf"librdkafka {re.escape(LIBRDKAFKA[self.lib])}\b", text),
                   f"not on librdkafka {LIBRDKAFKA[self.lib]}: {text[-300:]!r}")

    def check_peers(self, run):
        """While `run` is connected: its TCP peers are sidecar ports only."""
        peers = tcp_peers(run.proc.pid)
        self.check(run.proc.poll() is None, f"{run.label} exited before its connections were read")
        assert_only_sidecar_peers(run.label, peers, self.kafka, self.sidecar)

    def check_all_peers_seen(self):
        """Over every process's lifetime (sampled), no upstream broker port."""
        for run in self.runs:
            assert_only_sidecar_peers(run.label, self.watch.peers.get(run.label, set()),
                                      self.kafka, self.sidecar, require_sidecar=False)

    def cleanup(self):
        for r in self.runs:
            r.kill()


@pytest.fixture
def scenario(kafka, sidecar_factory, tcp_watch, request):
    client, lib = request.param
    s = Scenario(client, lib, kafka, sidecar_factory(kafka), tcp_watch)
    yield s
    s.cleanup()


# --- the matrix -------------------------------------------------------------------------

@pytest.mark.parametrize("scenario", MATRIX, indirect=True)
def test_client_produces_consumes_commits_resumes_and_rebalances(scenario):
    s = scenario
    # (a) Produce through the sidecar; consume in a group; commit on the way out (SIGTERM).
    first = s.produce("produce-a", 12, "a")
    s.check_librdkafka(s.runs[-1])
    consumer = s.start("consume-a", "consume", group="matrix")
    s.wait_until(lambda: first <= set(consumer.values), "(a) the 12 messages consumed")
    s.check_peers(consumer)  # (d) while it is connected and in the group
    rc = consumer.stop()
    s.check(rc == 0, f"(a) consumer exited {rc} on SIGTERM")
    s.check(sorted(consumer.values) == sorted(first),
            f"(a) consumed {sorted(consumer.values)}, expected each of {sorted(first)} once")
    s.check(consumer.assignments()[:1] == [PARTITIONS],
            f"(a) expected an assignment of all partitions, got {consumer.assignments()}")

    # (b) A new process in the same group resumes from the committed offsets: exactly the
    # new messages. (Meanwhile the first member of (c) joins another group.)
    second = s.produce("produce-b", 6, "b")
    restarted = s.start("consume-b", "consume", group="matrix", count=len(second))
    one = s.start("member-1", "consume", group="pair")
    try:
        rc = restarted.wait()
    except subprocess.TimeoutExpired:
        rc = "timeout"
    s.check(rc == 0, f"(b) restarted consumer exit {rc}")
    s.check(sorted(restarted.values) == sorted(second),
            f"(b) restarted consumer got {sorted(restarted.values)}, expected exactly the new "
            f"{sorted(second)}")

    # (c) Two members: the second joining splits the partitions (a rebalance), it leaving
    # gives them all back (another); together they see every message at least once.
    s.wait_until(lambda: one.assignments()[-1:] == [PARTITIONS],
                 "(c) member-1's assignment of all partitions")
    two = s.start("member-2", "consume", group="pair")

    def split():
        a, b = one.assignments(), two.assignments()
        return (len(a) >= 2 and b and a[-1] and b[-1] and not a[-1] & b[-1]
                and a[-1] | b[-1] == PARTITIONS)
    s.wait_until(split, "(c) a rebalance splitting the partitions between the two members")
    third = s.produce("produce-c", 12, "c")
    everything = first | second | third
    s.wait_until(lambda: everything <= set(one.values) | set(two.values),
                 "(c) every message consumed by the pair")
    s.check_peers(one)  # (d) both connected, both in the group
    s.check_peers(two)
    rc = two.stop()
    s.check(rc == 0, f"(c) member-2 exited {rc} on SIGTERM")
    s.wait_until(lambda: len(one.assignments()) >= 3 and one.assignments()[-1] == PARTITIONS,
                 "(c) a rebalance giving member-1 all partitions back after member-2 left")
    rc = one.stop()
    s.check(rc == 0, f"(c) member-1 exited {rc} on SIGTERM")
    seen = set(one.values) | set(two.values)
    s.check(seen == everything, f"(c) unexpected values {sorted(seen - everything)}")
    s.check(one.values and two.values, "(c) a member consumed nothing: no work was shared")

    # (d) Over every client process's whole life (sampled every 50 ms): sidecar ports only.
    s.check_all_peers_seen()
