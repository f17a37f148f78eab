"""State that follows partitions between application instances, each with its
own sidecar, through the remote checkpoints: a partition's offset and its
partition-scoped state are loaded by its new owner's sidecar before the
application hears of the assignment, whatever happened to the old owner
(graceful scale-down, kill -9 with its disk gone). And fencing: a sidecar
paused until its partitions moved on cannot make its stale checkpoint win.

The application is tests/integration/apps/partition_counter.py: a plain
confluent-kafka consumer counting words per partition, whose counts are its
partition-scoped state (GET on assignment, PUT + commit after each batch)."""

import collections
import json
import pathlib
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import confluent_kafka as ck
from prometheus_client.parser import text_string_to_metric_families

from harness.tidemark import EmbeddedKafka, Sidecar

APP = pathlib.Path(__file__).resolve().parent / "apps" / "partition_counter.py"
GROUP = "counters"
WORDS = ["tide", "mark", "kafka", "state", "offset", "sidecar", "remote"]
SETTINGS = {"checkpoint.interval": "1s", "checkpoint.max_messages": "0",
            "remote.mode": "async", "remote.kafka.timeout": "5s"}


class App:
    """partition_counter.py through `sidecar`, its JSON events collected."""

    def __init__(self, sidecar, topic, tag):
        self.proc = subprocess.Popen(
            [sys.executable, str(APP), "--bootstrap", sidecar.fields["proxy"],
             "--http", sidecar.http, "--group", GROUP, "--topic", topic, "--tag", tag],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.assigned = []  # one list per assignment
        self.committed = {}  # partition -> offset
        self.errors = collections.deque(maxlen=30)
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._drain_err, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            event = json.loads(line)
            if event["event"] == "assigned":
                self.assigned.append(event["partitions"])
            else:
                self.committed.update({int(p): o for p, o in event["offsets"].items()})

    def _drain_err(self):
        for line in self.proc.stderr:
            self.errors.append(line.rstrip())

    def stop(self):
        """SIGINT: the consumer saves, commits and leaves the group."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def call(sidecar, method, path, body=None):
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(sidecar.url(path), data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def metric(sidecar, name):
    _, raw = call(sidecar, "GET", "/metrics")
    total = 0
    for family in text_string_to_metric_families(raw.decode()):
        for s in family.samples:
            if s.name == name:
                total += s.value
    return total


def wait_for(predicate, timeout, what):
    deadline = time.time() + timeout
    while not predicate():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def partition_counts(sidecar, topic, partition):
    status, raw = call(sidecar, "GET",
                       f"/v1/groups/{GROUP}/topics/{topic}/partitions/{partition}/state/counts")
    assert status in (200, 404), raw
    return json.loads(raw) if status == 200 else {}


def produce(bootstrap, topic, partitions, count, start=0, per_second=None):
    """`count` words, message i to partition i % partitions; returns the
    expected counts per partition."""
    p = ck.Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    expected = collections.defaultdict(collections.Counter)
    for i in range(start, start + count):
        word, partition = WORDS[(i * 7 + i // partitions) % len(WORDS)], i % partitions
        p.produce(topic, value=word.encode(), partition=partition)
        expected[partition][word] += 1
        if per_second and i % 50 == 0:
            p.poll(0)
            time.sleep(50 / per_second)
    assert p.flush(30) == 0
    return expected


class Instance:
    """An application instance: its sidecar (instance id = name) and app."""

    def __init__(self, root, cluster, topic, name, wipe=False):
        self.dir = root / name
        if wipe:
            shutil.rmtree(self.dir, ignore_errors=True)
        self.sidecar = Sidecar(self.dir, cluster.bootstrap,
                               {**SETTINGS, "job.instance_id": name})
        self.app = App(self.sidecar, topic, name)

    def stop(self):
        self.app.stop()
        assert self.sidecar.terminate() == 0

    def kill(self):
        self.app.kill()
        self.sidecar.stop()


def test_partition_state_should_follow_partitions_through_scaling_and_a_kill(tmp_path):
    topic, partitions, total = "words", 12, 6000
    cluster = EmbeddedKafka("debian", brokers=3, topics=(f"{topic}:{partitions}",))
    live = {}
    try:
        for name in ("i0", "i1", "i2"):
            live[name] = Instance(tmp_path, cluster, topic, name)
        expected = {}
        producer = threading.Thread(target=lambda: expected.update(
            produce(cluster.bootstrap, topic, partitions, total, per_second=250)))
        producer.start()
        time.sleep(6)
        live.pop("i2").stop()  # scale 3 -> 2
        time.sleep(5)
        victim = live.pop("i1")  # kill -9 application and sidecar; the disk goes too
        victim.kill()
        live["i1"] = Instance(tmp_path, cluster, topic, "i1", wipe=True)
        time.sleep(4)
        live["i2"] = Instance(tmp_path, cluster, topic, "i2")  # 2 -> 3
        producer.join()
        time.sleep(3)
        moved = sum(metric(i.sidecar, "tidemark_partitions_adopted_total") for i in live.values())
        for name in list(live):
            live.pop(name).stop()
        assert moved > 0, "no partition checkpoint was ever loaded from the remote"

        # A new instance takes every partition: it finds each one's state and
        # offset where the last owner left them, and finishes what is left.
        final = Instance(tmp_path, cluster, topic, "verifier")
        live["verifier"] = final
        wait_for(lambda: final.app.assigned and len(final.app.assigned[-1]) == partitions,
                 60, "the verifier's assignment")

        def counts():
            return {p: partition_counts(final.sidecar, topic, p) for p in range(partitions)}

        want = {p: dict(expected[p]) for p in range(partitions)}
        deadline = time.time() + 60
        while counts() != want and time.time() < deadline:
            time.sleep(0.5)
        got = counts()
        diff = {p: {w: got[p].get(w, 0) - n for w, n in want[p].items() if got[p].get(w, 0) != n}
                for p in range(partitions)}
        assert got == want, f"counts off (got - expected) per partition: {diff}"
        time.sleep(2)
        assert counts() == want  # and nothing is processed twice afterwards
    finally:
        for i in live.values():
            i.kill()
        cluster.stop()


def test_a_paused_sidecar_should_not_win_with_a_stale_checkpoint_after_its_partitions_moved(
        tmp_path):
    topic, partitions = "demo", 6
    cluster = EmbeddedKafka("debian", brokers=3, topics=(f"{topic}:{partitions}",))
    live = []
    try:
        a = Instance(tmp_path, cluster, topic, "pod-a")
        live.append(a)
        expected = produce(cluster.bootstrap, topic, partitions, 60)
        wait_for(lambda: a.app.committed == {p: 10 for p in range(partitions)}, 60,
                 "the first instance to process everything")
        uploads = metric(a.sidecar, "tidemark_remote_uploads_total")
        wait_for(lambda: metric(a.sidecar, "tidemark_remote_uploads_total") > uploads, 30,
                 "the first instance's checkpoint on the remote")

        # The zombie: application and sidecar freeze; the group moves on.
        a.app.proc.send_signal(signal.SIGSTOP)
        a.sidecar.proc.send_signal(signal.SIGSTOP)
        b = Instance(tmp_path, cluster, topic, "pod-b")
        live.append(b)
        wait_for(lambda: b.app.assigned and len(b.app.assigned[-1]) == partitions, 60,
                 "the group to give every partition to the second instance")
        more = produce(cluster.bootstrap, topic, partitions, 60, start=60)
        for p, c in more.items():
            expected[p].update(c)
        wait_for(lambda: b.app.committed == {p: 20 for p in range(partitions)}, 60,
                 "the second instance to process everything")
        uploads = metric(b.sidecar, "tidemark_remote_uploads_total")
        wait_for(lambda: metric(b.sidecar, "tidemark_remote_uploads_total") > uploads, 30,
                 "the second instance's checkpoint on the remote")
        b.stop()

        # The sidecar wakes up, not knowing its partitions moved, and writes:
        # a checkpoint newer in time than anything the second instance wrote.
        a.sidecar.proc.send_signal(signal.SIGCONT)
        zombie = {"zombie": 1000}
        path = f"/v1/groups/{GROUP}/topics/{topic}/partitions/0/state/counts"
        assert call(a.sidecar, "PUT", path, json.dumps(zombie))[0] == 204
        marked = [{"group": GROUP, "topic": topic, "partition": 0, "offset": 999}]
        assert call(a.sidecar, "POST", "/v1/offsets", json.dumps(marked))[0] == 200
        uploads = metric(a.sidecar, "tidemark_remote_uploads_total")
        assert call(a.sidecar, "POST", "/v1/checkpoints")[0] == 201
        wait_for(lambda: metric(a.sidecar, "tidemark_remote_uploads_total") > uploads, 30,
                 "the zombie's checkpoint on the remote")
        # Its application wakes too: the coordinator tells it it is stale, and
        # the sidecar stops writing the group's partitions.
        a.app.proc.send_signal(signal.SIGCONT)
        wait_for(lambda: metric(a.sidecar, "tidemark_group_fenced_total") >= 1, 60,
                 "the sidecar to learn it was fenced")
        a.kill()

        # A new owner restores each partition from the newest generation:
        # the second instance's, not the zombie's later write.
        c = Instance(tmp_path, cluster, topic, "pod-c")
        live.append(c)
        wait_for(lambda: c.app.assigned and len(c.app.assigned[-1]) == partitions, 60,
                 "the third instance's assignment")
        got = {p: partition_counts(c.sidecar, topic, p) for p in range(partitions)}
        assert got == {p: dict(expected[p]) for p in range(partitions)}
    finally:
        for i in live:
            i.kill()
        cluster.stop()
