"""The partition-counting application (tests/integration/apps/
partition_counter.py) and what tests do with it: instances of application +
sidecar, word production with known per-partition counts, reading a
partition's counts back from a sidecar."""

import collections
import json
import pathlib
import shutil
import signal
import subprocess
import sys
import threading
import time

import confluent_kafka as ck
from harness.api import call
from harness.tidemark import Sidecar

APP = pathlib.Path(__file__).resolve().parents[1] / "integration" / "apps" / "partition_counter.py"
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
        self.refused = []  # commits the group refused (the member was expired)
        self.errors = collections.deque(maxlen=30)
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._drain_err, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            event = json.loads(line)
            if event["event"] == "assigned":
                self.assigned.append(event["partitions"])
            elif event["event"] == "commit_refused":
                self.refused.append(event["error"])
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

    def __init__(self, root, cluster, topic, name, wipe=False, settings=None):
        self.dir = root / name
        if wipe:
            shutil.rmtree(self.dir, ignore_errors=True)
        self.sidecar = Sidecar(self.dir, cluster.bootstrap,
                               {**SETTINGS, **(settings or {}), "job.instance_id": name})
        self.app = App(self.sidecar, topic, name)

    def stop(self):
        self.app.stop()
        assert self.sidecar.terminate() == 0

    def kill(self):
        self.app.kill()
        self.sidecar.stop()
