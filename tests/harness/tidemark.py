"""Test harness: runs the real `tidemark` binary and the embedded Kafka cluster.

Integration tests get, in a few lines, a Kafka cluster speaking the real
protocol on ephemeral loopback ports (either generation) and a `tidemark serve`
process configured against it:

    def test_something(kafka, sidecar_factory):
        sidecar = sidecar_factory(kafka)
        ... real clients against kafka.bootstrap / sidecar.http ...

Generations: "debian" runs the mock on Debian's librdkafka 2.0.2 (pre-flexible
protocol versions); "modern" runs it on librdkafka 2.15.1 built from the npm
package @confluentinc/kafka-javascript (scripts/setup-modern-kafka), which
speaks the flexible versions.
"""

import json
import os
import pathlib
import queue
import random
import re
import signal
import socket
import subprocess
import threading
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
GENERATIONS = ("debian", "modern")


def build_dir():
    return pathlib.Path(os.environ.get("TIDEMARK_BUILD_DIR", REPO / "build"))


def sanitizers():
    """The build's TIDEMARK_SANITIZE ("" for none, "address;undefined", "thread")."""
    cache = build_dir() / "CMakeCache.txt"
    for line in cache.read_text().splitlines() if cache.exists() else []:
        if line.startswith("TIDEMARK_SANITIZE:"):
            value = line.split("=", 1)[1]
            return "" if value.upper() in ("", "OFF", "FALSE", "0") else value
    return ""


def binary(name="tidemark"):
    path = build_dir() / name
    if not path.exists():
        raise RuntimeError(f"{path} is missing: build first (cmake --build --preset default)")
    return str(path)


def modern_librdkafka_dir():
    """Folder holding librdkafka 2.15.1's .so; builds it on first use."""
    env = os.environ.get("TIDEMARK_MODERN_LIBRDKAFKA")
    if env:
        return env
    out = subprocess.run([str(REPO / "scripts" / "setup-modern-kafka")], check=True,
                         capture_output=True, text=True, timeout=900)
    path = out.stdout.strip().splitlines()[-1]
    os.environ["TIDEMARK_MODERN_LIBRDKAFKA"] = path
    return path


def client_env(generation):
    """Environment for a librdkafka-based client (kcat, confluent-kafka) of a generation."""
    env = dict(os.environ)
    if generation == "modern":
        env["LD_LIBRARY_PATH"] = modern_librdkafka_dir()
    else:
        env.pop("LD_LIBRARY_PATH", None)
    return env


COMMITTED = (
    "import confluent_kafka as ck, json, sys\n"
    "c = ck.Consumer({'bootstrap.servers': sys.argv[1], 'group.id': sys.argv[2]})\n"
    "parts = [ck.TopicPartition(sys.argv[3], int(p)) for p in sys.argv[4].split(',')]\n"
    "print(json.dumps({tp.partition: tp.offset for tp in c.committed(parts, timeout=15)}))\n"
    "c.close()\n")


def committed_offsets(bootstrap, group, topic, partitions, generation="debian"):
    """The group's committed offsets as `bootstrap` reports them (-1001: none),
    read by a real confluent-kafka client: {partition: offset}."""
    out = subprocess.run(["/usr/bin/python3", "-c", COMMITTED, bootstrap, group, topic,
                          ",".join(str(p) for p in partitions)],
                         capture_output=True, text=True, timeout=60, env=client_env(generation))
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return {int(k): v for k, v in json.loads(out.stdout.strip().splitlines()[-1]).items()}


def proc_status(pid):
    """A process's /proc/PID/status sizes and counts (VmRSS, VmHWM, RssAnon, Threads, ...: the
    numbers as the kernel gives them, sizes in KiB) and its open descriptors as "fds"."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            first = value.split()[:1]
            if first and first[0].isdigit():
                out[key] = int(first[0])
    out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    return out


def run_perf(*args, folder=None, timeout=300):
    """Runs tidemark-rdkafka-perf (bench/rdkafka_perf.cc) from `folder` (default: the build's)
    with `args`; the finished process, output captured as text."""
    exe = pathlib.Path(folder) / "tidemark-rdkafka-perf" if folder else binary("tidemark-rdkafka-perf")
    return subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def free_port():
    """A port free now, below Linux's ephemeral range (see free_port_range)."""
    return free_port_range(1)


def free_port_range(count):
    """A base port with base..base+count-1 all free, below Linux's ephemeral
    range (32768+), so that no outgoing connection can take one of them later:
    the sidecar opens broker listeners at base + node id lazily, and a sidecar
    restarted on the same ports must find them free. (Binding port 0 gives a
    port in the ephemeral range: once, while a sidecar was down for a restart,
    another test's client connection took its port as its local port.)"""
    for _ in range(200):
        base = random.randrange(20000, 32768 - count)
        socks = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                s.bind(("127.0.0.1", port))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port range")


class LineReader:
    """Collects a pipe's lines on a thread so tests can wait for one without blocking forever."""

    def __init__(self, pipe):
        self.lines = []
        self._queue = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(pipe,), daemon=True)
        self._thread.start()

    def _pump(self, pipe):
        for line in iter(pipe.readline, ""):
            self.lines.append(line.rstrip("\n"))
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, predicate, timeout=30, what="line"):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {what} within {timeout}s; got: {self.lines[-20:]}")
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise EOFError(f"stream closed before {what}; got: {self.lines[-20:]}")
            if predicate(line):
                return line

    def join(self, timeout=10):
        """Waits until the pipe is read to its end. A process's last lines can still be in the
        pipe after it has exited, so read `lines` only after this."""
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"pipe still open {timeout}s later; got: {self.lines[-20:]}")


class EmbeddedKafka:
    """The embedded cluster in its own process (tests/tools/embedded_kafka_main.cc)."""

    def __init__(self, generation="debian", brokers=3, topics=("demo:6",), checkpoint_topic=False,
                 tool="tidemark-embedded-kafka"):
        self.generation = generation
        args = [binary(tool), "--brokers", str(brokers)]
        # checkpoint_topic: for tests with a remote, the checkpoint topic, as
        # an operator would create it: the embedded cluster implements no
        # CreateTopics (the sidecar's attempt would time out, 5 s, before it
        # falls back on the cluster creating the topic).
        if checkpoint_topic:
            topics = (*topics, "__tidemark_checkpoints:8")
        for t in topics:
            args += ["--topic", t]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=client_env(generation))
        self._out = LineReader(self.proc.stdout)
        self._err = LineReader(self.proc.stderr)
        info = json.loads(self._out.wait_for(lambda l: l.startswith("{"), 30, "ready line"))
        self.bootstrap = info["bootstrap"]
        self.librdkafka = info["librdkafka"]
        self.brokers = info["brokers"]

    def command(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        answer = self._out.wait_for(lambda l: True, 30, f"answer to {line!r}")
        if answer != "ok":
            raise RuntimeError(f"embedded kafka: {line!r}: {answer}")

    def create_topic(self, name, partitions, replication=None):
        self.command(f"topic {name} {partitions}" + (f" {replication}" if replication else ""))

    def broker_down(self, node_id):
        self.command(f"down {node_id}")

    def broker_up(self, node_id):
        self.command(f"up {node_id}")

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
            except BrokenPipeError:
                pass
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


_LineReader = LineReader  # the name the tests use


READY = re.compile(r"\bmsg=ready\b")


class Sidecar:
    """A `tidemark serve` process with a config written into `workdir`."""

    def __init__(self, workdir, upstream, settings=None, env=None, ready_timeout=30):
        self.workdir = pathlib.Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.workdir / "tidemark.yaml"
        config = {
            "job.id": "it",
            "proxy.listen": f"127.0.0.1:{free_port()}",
            "proxy.broker_port_base": str(free_port_range(16)),
            "proxy.upstream.bootstrap_servers": upstream,
            "http.listen": "127.0.0.1:0",
            "store.path": str(self.workdir / "tidemark.db"),
            "log.level": "debug",
            # Tests about the remote backend turn it on (tests/integration/
            # test_remote.py); elsewhere it would only add uploads to the
            # embedded cluster that nothing checks.
            "remote.mode": "off",
        }
        config.update(settings or {})
        self.config_path.write_text(_to_yaml(config))
        self.proc = subprocess.Popen([binary(), "serve", "--config", str(self.config_path)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=env)
        self.log = _LineReader(self.proc.stderr)
        self.stdout = _LineReader(self.proc.stdout)
        try:
            ready = self.log.wait_for(lambda l: READY.search(l) is not None, ready_timeout,
                                      "ready log line")
        except (TimeoutError, EOFError) as e:  # never leave it running; say how it ended
            if self.proc.poll() is None:
                self.proc.kill()
            self.exit_code = self.wait()
            e.sidecar = self
            raise
        self.fields = dict(re.findall(r"(\w+)=(\S+)", ready))
        self.http = self.fields["http"]

    def url(self, path):
        return f"http://{self.http}{path}"

    def wait(self, timeout=30):
        """Waits for the process to exit and for its output to be read to the end; returns the
        exit code."""
        code = self.proc.wait(timeout=timeout)
        self.log.join()
        self.stdout.join()
        return code

    def terminate(self, sig=signal.SIGTERM, timeout=30):
        """Sends `sig` and returns the exit code once the output is read to its end."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.wait(timeout=timeout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _to_yaml(dotted):
    """{"a.b": "v"} -> nested YAML with every scalar quoted."""
    tree = {}
    for key, value in dotted.items():
        node = tree
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    lines = []

    def emit(node, indent):
        for k, v in node.items():
            if isinstance(v, dict):
                lines.append(" " * indent + f"{k}:")
                emit(v, indent + 2)
            else:
                lines.append(" " * indent + f"{k}: {json.dumps(str(v))}")

    emit(tree, 0)
    return "\n".join(lines) + "\n"
