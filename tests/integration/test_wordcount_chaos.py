"""The headline test (issue 4): a stateful word count (examples/wordcount,
confluent-kafka, changed only in its bootstrap address and PUT-state-then-
commit) counts 100,000 messages through the sidecar while the test kill -9s
the application, the sidecar, or both, at random, 20 times. The final counts
must be exact: no loss, no double count.

Kills are drawn from a seeded RNG (the seed is printed; TIDEMARK_CHAOS_SEED=N
replays a run's choices, though not its exact timing). Each kill comes after a
random number of messages were delivered to the application, so kills land
while it works. TIDEMARK_CHAOS_KILLS and TIDEMARK_CHAOS_KINDS (e.g. "app" or
"sidecar,both") narrow a run down when investigating. The logs of every
application and sidecar run and a timeline are written to tmp_path/logs.
"""

import collections
import json
import os
import random
import re
import sqlite3
import subprocess
import time
import urllib.request

from harness.tidemark import REPO, LineReader, Sidecar, client_env, free_port_range

GENERATION = "debian"
TOPIC = "words"
PARTITIONS = 8
MESSAGES = 100_000
KILLS = int(os.environ.get("TIDEMARK_CHAOS_KILLS", "20"))
KINDS = tuple(os.environ.get("TIDEMARK_CHAOS_KINDS", "app,sidecar,both").split(","))
GROUP = "wordcount"
STATE_KEY = "wordcount/counts"
PYTHON = "/usr/bin/python3"
APP = REPO / "examples" / "wordcount" / "wordcount.py"
VOCABULARY = ("the be to of and a in that have it for not on with he as you do at this but "
              "his by from they we say her she or an will my one all would there their what "
              "so up out if about who get which go me when make can like time no just him "
              "know take people into year your good some could them see other than then now "
              "look only come its over think also back after use two how our work first well "
              "way even new want because any these give day most us tide mark").split()
SIDECAR_SETTINGS = {
    "job.id": "wordcount",
    "checkpoint.interval": "300ms",  # checkpoints often, so kills land between them
    "checkpoint.max_messages": "2000",
    "checkpoint.retained": "10000",  # all of them, for the agreement check at the end
    "log.level": "info",
}
BATCH = re.compile(r"batch of (\d+) messages")
ASSIGNED = re.compile(r"state holds (\d+) words; committed offsets (\{.*\})")

PRODUCER = r"""
import json, sys, confluent_kafka as ck
bootstrap, topic, partitions = sys.argv[1], sys.argv[2], int(sys.argv[3])
p = ck.Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
failed = []
for line in sys.stdin:
    partition, word = line.split()
    while True:
        try:
            p.produce(topic, value=word, partition=int(partition),
                      on_delivery=lambda err, _m: err and failed.append(err))
            break
        except BufferError:
            p.poll(0.1)
    p.poll(0)
assert p.flush(60) == 0 and not failed, failed[:3]
c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": "watermarks"})
print(json.dumps({n: c.get_watermark_offsets(ck.TopicPartition(topic, n), timeout=10)[1]
                  for n in range(partitions)}))
"""


def produce_words(cluster, rng):
    """Produces MESSAGES words straight to the cluster; returns (expected counts, end offsets)."""
    weights = [1 / (rank + 1) for rank in range(len(VOCABULARY))]  # Zipf-like
    words = rng.choices(VOCABULARY, weights, k=MESSAGES)
    partitions = [rng.randrange(PARTITIONS) for _ in words]
    cluster.create_topic(TOPIC, PARTITIONS)
    out = subprocess.run([PYTHON, "-c", PRODUCER, cluster.bootstrap, TOPIC, str(PARTITIONS)],
                         input="".join(f"{p} {w}\n" for p, w in zip(partitions, words)),
                         capture_output=True, text=True, timeout=120, env=client_env(GENERATION))
    assert out.returncode == 0, out.stderr
    ends = {int(p): o for p, o in json.loads(out.stdout).items()}
    assert ends == collections.Counter(partitions)
    return dict(collections.Counter(words)), ends


class App:
    """One run of examples/wordcount/wordcount.py through the sidecar."""

    def __init__(self, ports, ends):
        self.proc = subprocess.Popen(
            [PYTHON, str(APP), "--bootstrap", f"127.0.0.1:{ports['proxy']}",
             "--http", f"127.0.0.1:{ports['http']}", "--topic", TOPIC, "--group", GROUP,
             "--until", json.dumps(ends),
             # A killed instance's membership expires after this; its successor waits for it.
             "-X", "session.timeout.ms=3000"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=client_env(GENERATION))
        self.out = LineReader(self.proc.stdout)
        self.log = LineReader(self.proc.stderr)
        self._read, self._delivered = 0, 0

    def delivered(self):
        """Messages handed to the application so far (its "batch of N messages" lines)."""
        lines = self.log.lines
        while self._read < len(lines):
            m = BATCH.search(lines[self._read])
            self._delivered += int(m[1]) if m else 0
            self._read += 1
        return self._delivered

    def assignments(self):
        """(words in the state, sum of the committed offsets) at each assignment: equal when
        state and offsets agree, as every partition starts at offset 0."""
        found = [m for m in map(ASSIGNED.search, list(self.log.lines)) if m]
        return [(int(m[1]), sum(json.loads(m[2]).values())) for m in found]

    def kill(self):
        self.proc.kill()
        self.proc.wait()


class Chaos:
    """The application and the sidecar, killed -9 and restarted on the same ports and workdir."""

    def __init__(self, cluster, workdir, ends):
        base = free_port_range(20)  # below the ephemeral range: still free after a restart
        self.ports = {"proxy": base, "http": base + 1}
        self.settings = {**SIDECAR_SETTINGS,
                         "proxy.listen": f"127.0.0.1:{base}",
                         "http.listen": f"127.0.0.1:{base + 1}",
                         "proxy.broker_port_base": str(base + 2)}  # node ids 1..3
        self.cluster, self.workdir, self.ends = cluster, workdir, ends
        self.started = time.monotonic()
        self.timeline = []
        self.sidecars, self.apps = [], []
        self.start("sidecar")
        self.start("app")

    @property
    def sidecar(self):
        return self.sidecars[-1]

    @property
    def app(self):
        return self.apps[-1]

    def note(self, what):
        self.timeline.append(f"{time.monotonic() - self.started:7.2f}s {what}")

    def start(self, kind):
        if kind in ("sidecar", "both"):
            self.sidecars.append(Sidecar(self.workdir / "sidecar", self.cluster.bootstrap,
                                         self.settings))
            self.note(f"sidecar run {len(self.sidecars) - 1} ready")
        if kind in ("app", "both"):
            self.apps.append(App(self.ports, self.ends))
            self.note(f"app run {len(self.apps) - 1} started")

    def kill(self, kind):
        if kind in ("sidecar", "both"):
            self.sidecar.stop()  # SIGKILL
        if kind in ("app", "both"):
            self.app.kill()
        self.note(f"killed {kind} ({self.delivered()} messages delivered so far)")

    def delivered(self):
        return sum(app.delivered() for app in self.apps)

    def wait_for_progress(self, messages, timeout=60):
        """Waits until `messages` more messages were delivered to the application."""
        target = self.delivered() + messages
        deadline = time.monotonic() + timeout
        while self.delivered() < target:
            assert self.app.proc.poll() is None, "the application exited before the last kill"
            assert time.monotonic() < deadline, f"no progress in {timeout}s"
            time.sleep(0.005)

    def stop(self):
        self.app.kill()
        self.sidecar.stop()
        logs = self.workdir / "logs"
        logs.mkdir(exist_ok=True)
        for i, app in enumerate(self.apps):
            (logs / f"app-{i}.log").write_text("\n".join(app.log.lines) + "\n")
        for i, sidecar in enumerate(self.sidecars):
            (logs / f"sidecar-{i}.log").write_text("\n".join(sidecar.log.lines) + "\n")
        (logs / "timeline.txt").write_text("\n".join(self.timeline) + "\n")
        return logs


def call(sidecar, method, path):
    request = urllib.request.Request(sidecar.url(path), method=method)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def checkpoints_in_disagreement(sidecar):
    """Durable checkpoints whose state does not match their offsets, as (id, trigger, words in
    the state, sum of the offsets): every partition starts at offset 0, so they must be equal.
    Manifests come from the HTTP API, blob contents from the store file (docs/store-format.md)."""
    store = sqlite3.connect(f"file:{sidecar.workdir / 'tidemark.db'}?mode=ro", uri=True)
    found = []
    for summary in reversed(call(sidecar, "GET", "/v1/checkpoints")["checkpoints"]):
        detail = call(sidecar, "GET", f"/v1/checkpoints/{summary['id']}")
        offsets = sum(o["offset"] for o in detail["offsets"] if o["group"] == GROUP)
        words = 0
        for ref in detail["state"]:
            if ref["key"] == STATE_KEY:
                blob = store.execute("SELECT data FROM blobs WHERE sha256 = ?",
                                     (bytes.fromhex(ref["sha256"]),)).fetchone()[0]
                words = sum(json.loads(blob).values())
        if words != offsets:
            found.append((detail["id"], detail["trigger"], words, offsets))
    store.close()
    return found


def test_word_counts_should_be_exact_when_app_and_sidecar_are_killed_at_random(cluster,
                                                                                 tmp_path):
    seed = int(os.environ.get("TIDEMARK_CHAOS_SEED", random.SystemRandom().randrange(2**31)))
    print(f"chaos seed {seed} (replay: TIDEMARK_CHAOS_SEED={seed})")
    rng = random.Random(seed)
    started = time.monotonic()
    expected, ends = produce_words(cluster, rng)

    chaos = Chaos(cluster, tmp_path, ends)
    kinds = collections.Counter()
    try:
        for _ in range(KILLS):
            chaos.wait_for_progress(rng.randint(300, 3000))
            kind = rng.choice(KINDS)
            kinds[kind] += 1
            chaos.kill(kind)
            time.sleep(rng.uniform(0.05, 1.0))
            chaos.start(kind)

        exit_code = chaos.app.proc.wait(timeout=120)
        assert exit_code == 0, f"seed {seed}: the application exited with {exit_code}"
        chaos.note("app finished")
        counts = json.loads(chaos.app.out.wait_for(lambda l: l.startswith("{"), 5, "counts"))

        # The restore path: make the sealed view durable, crash, read it back.
        checkpoint = call(chaos.sidecar, "POST", "/v1/checkpoints")["id"]
        chaos.kill("sidecar")
        chaos.start("sidecar")
        restored = call(chaos.sidecar, "GET", f"/v1/state/{STATE_KEY}")
        restored_offsets = {o["partition"]: o["offset"]
                            for o in call(chaos.sidecar, "GET",
                                          f"/v1/checkpoints/{checkpoint}")["offsets"]
                            if o["group"] == GROUP and o["topic"] == TOPIC}
        bad_checkpoints = checkpoints_in_disagreement(chaos.sidecar)
    finally:
        logs = chaos.stop()
        delivered = chaos.delivered()
        # Each assignment should hand the application a state that agrees with its offsets.
        disagreements = [(run, words, offsets) for run, app in enumerate(chaos.apps)
                         for words, offsets in app.assignments() if words != offsets]
        print(f"summary: seed {seed}; kills {dict(kinds)}; "
              f"{time.monotonic() - started:.1f}s wall; {len(chaos.apps)} application and "
              f"{len(chaos.sidecars)} sidecar runs; {delivered} messages delivered, "
              f"{delivered - MESSAGES} of them re-delivered; "
              f"assignments where state and offsets disagreed (app run, words, offsets): "
              f"{disagreements}; logs in {logs}")

    context = (f"seed {seed}; checkpoints whose state and offsets disagree (id, trigger, words, "
               f"offsets): {bad_checkpoints}; timeline:\n" + "\n".join(chaos.timeline))
    assert sum(counts.values()) == MESSAGES, context
    assert counts == expected, context
    assert restored == expected, context
    assert restored_offsets == ends, context
    assert bad_checkpoints == [], context  # guarantee 1 of docs/semantics.md
