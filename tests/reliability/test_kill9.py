"""kill -9 of the sidecar at random points under load.

A writer drives the HTTP API as fast as it answers: `POST /v1/commit` carrying
two state keys and two partitions' offsets that all encode one number k (so a
checkpoint mixing two commits is visible), alternating with the
PUT, PUT, POST /v1/offsets path, and `POST /v1/checkpoints` after every few
commits; interval checkpoints run every 50 ms besides. State blobs are 1 to
128 KiB so store transactions take long enough to be interrupted. Meanwhile
an idempotent confluent-kafka producer sends through the proxy. At a random
moment (from right after the process starts, during the restore, to 1.5 s into
the load) the sidecar gets SIGKILL; the store is then checked with the CLI while
nothing runs, and the sidecar is restarted on the same directory and ports.
TIDEMARK_RELIABILITY_ITERATIONS kills (default 5; the long suite 500).
"""

import http.client
import json
import random
import threading
import time

import confluent_kafka as ck

from conftest import (ITERATIONS, call, checkpoint_detail, checkpoint_list, cli, seed, sha256,
                      wait_ready)

GROUP = "rel"
RETAINED = 40


def store_ids(db):
    """Checkpoint ids in the store file, newest first, as the CLI lists them."""
    return [c["id"] for c in
            json.loads(cli("list", "--store", str(db), "--json").stdout)["checkpoints"]]


def blob(key, k, size):
    unit = f"{key}:{k:012d};".encode()
    return (unit * (size // len(unit) + 1))[:size]


def sizes_for(k):
    rng = random.Random(k)
    return rng.randrange(1024, 128 * 1024), rng.randrange(1, 64)


def expected_state(k):
    big, small = sizes_for(k)
    return {"a": blob("a", k, big), "b": blob("b", k, small)}


def agrees(detail):
    """The number k every offset and state key of a checkpoint encodes, or
    an AssertionError naming the disagreement."""
    offsets = {(o["topic"], o["partition"]): o["offset"] for o in detail["offsets"]
               if o["group"] == GROUP}
    assert set(offsets) == {("demo", 0), ("demo", 1)}, detail
    k = offsets[("demo", 0)]
    assert offsets[("demo", 1)] == k, f"torn offsets: {detail}"
    want = expected_state(k)
    state = {s["key"]: s for s in detail["state"]}
    assert set(state) == set(want), f"checkpoint {detail['id']}: keys {sorted(state)}"
    for key, value in want.items():
        assert (state[key]["sha256"], state[key]["size"]) == (sha256(value), len(value)), \
            f"checkpoint {detail['id']}: offsets say {k} but state {key!r} is another commit's"
    return k


def expect(answer, status):
    """The body of an answer that must have `status` (any other answer from a
    live sidecar is a failure; a dead one raises OSError instead)."""
    assert answer[0] == status, f"answered {answer[0]}: {answer[1][:300]!r}"
    return answer[1]


class Writer(threading.Thread):
    """Commits k = start, start+1, ... until stopped; records what the sidecar
    acknowledged."""

    def __init__(self, http, start, rng):
        super().__init__(daemon=True)
        self.http, self.k, self.rng = http, start, rng
        self.acked_commits = []       # k whose commit the sidecar answered 200
        self.acked_checkpoints = {}   # checkpoint id -> k it must hold
        self.halt = threading.Event()
        self.errors = []

    def commit(self, k):
        state = expected_state(k)
        offsets = [{"group": GROUP, "topic": "demo", "partition": p, "offset": k} for p in (0, 1)]
        if k % 2:
            import base64
            body = json.dumps({"offsets": offsets, "state": {"put": {
                key: base64.b64encode(v).decode() for key, v in state.items()}}})
            expect(call(self.http, "POST", "/v1/commit", body, timeout=10), 200)
            return
        for key, value in state.items():
            expect(call(self.http, "PUT", f"/v1/state/{key}", value, timeout=10), 204)
        expect(call(self.http, "POST", "/v1/offsets", json.dumps(offsets), timeout=10), 200)

    def run(self):
        while not self.halt.is_set():
            try:
                self.commit(self.k)
                self.acked_commits.append(self.k)
                if self.k % 3 == 0:
                    raw = expect(call(self.http, "POST", "/v1/checkpoints", timeout=10), 201)
                    self.acked_checkpoints[json.loads(raw)["id"]] = self.k
                self.k += 1
            except (OSError, http.client.HTTPException):
                return  # the sidecar died under the request: nothing acknowledged
            except Exception as e:  # noqa: BLE001 - reported by the test
                self.errors.append(repr(e))
                return


def test_should_never_lose_or_tear_an_acknowledged_checkpoint_when_the_sidecar_is_killed(
        cluster, nodes):
    """Fails if, after any kill: the store is unreadable by the CLI; any
    checkpoint (CLI or API) holds offsets and state of different commits; a
    checkpoint the sidecar answered 201 for is missing or holds other
    content; the restarted sidecar restores anything but the newest
    checkpoint (state bytes and offsets, as a real client's OffsetFetch
    through the proxy sees them); the checkpoints in the store differ from
    what the restarted sidecar lists; a restart does not become ready; or a
    message the producer had acknowledged through the proxy is missing."""
    rng = random.Random(seed())
    node = nodes(cluster, {"checkpoint.interval": "50ms", "checkpoint.timeout": "10s",
                           "checkpoint.retained": str(RETAINED)})
    acked = {}  # checkpoint id -> k
    verified = {}  # checkpoint id -> k, every checkpoint seen in the store so far
    produced, delivered = 0, set()
    producer = None
    k = 1
    node.start()
    try:
        for i in range(ITERATIONS):
            if producer is None:
                producer = ck.Producer({"bootstrap.servers": node.proxy,
                                        "enable.idempotence": True, "linger.ms": 2,
                                        "message.timeout.ms": 120000})
            writer = Writer(node.http, k, rng)
            writer.start()
            deadline = time.time() + rng.uniform(0.0, 1.5)
            while time.time() < deadline:
                producer.produce("demo", value=f"p{produced}".encode(), partition=produced % 6,
                                 on_delivery=lambda err, msg: err is None and delivered.add(
                                     msg.value()))
                produced += 1
                producer.poll(0)
                time.sleep(0.002)
            node.kill()
            writer.halt.set()
            writer.join(30)
            assert not writer.errors, writer.errors
            acked.update(writer.acked_checkpoints)
            k = writer.k + 1

            # While nothing runs: the store as the CLI reads it.
            on_disk = store_ids(node.db)
            for cid in sorted(set(on_disk) - set(verified), key=int):
                verified[cid] = agrees(json.loads(
                    cli("show", cid, "--store", str(node.db), "--json").stdout))
            oldest = min(on_disk, key=int) if on_disk else None
            for cid, want in acked.items():
                if cid not in on_disk:  # pruned by retention only
                    assert len(on_disk) >= RETAINED and int(cid) < int(oldest), \
                        f"iteration {i}: acknowledged checkpoint {cid} lost"
                    continue
                assert verified[cid] == want, f"checkpoint {cid} holds other content"
            if acked:
                assert on_disk and int(max(on_disk, key=int)) >= int(max(acked, key=int))

            # A random moment includes the start: sometimes kill the next
            # start 0-300 ms in (opening the store, restoring), ready or not.
            if rng.random() < 0.25:
                node.start_and_kill_early(rng.uniform(0.0, 0.3))
            node.start()
            wait_ready(node.http, 60)
            listed = checkpoint_list(node.http)
            assert [c["id"] for c in listed] == store_ids(node.db), \
                "the API lists other checkpoints than the store holds"
            if listed:
                latest = checkpoint_detail(node.http, listed[0]["id"])
                k_latest = agrees(latest)
                for key, value in expected_state(k_latest).items():
                    assert call(node.http, "GET", f"/v1/state/{key}") == (200, value), \
                        f"iteration {i}: restored state {key!r} is not checkpoint {k_latest}'s"
        # The restored offsets, as a real client reads them through the proxy.
        listed = checkpoint_list(node.http)
        if listed:
            from harness.tidemark import committed_offsets
            k_latest = agrees(checkpoint_detail(node.http, listed[0]["id"]))
            assert committed_offsets(node.proxy, GROUP, "demo", [0, 1]) == \
                {0: k_latest, 1: k_latest}
        assert producer.flush(120) == 0, "the producer could not deliver through the proxy"
        check_delivered(cluster.bootstrap, delivered)
        print(f"{ITERATIONS} kills, {len(acked)} acknowledged checkpoints checked, "
              f"{produced} messages produced, {len(delivered)} acknowledged")
    finally:
        node.stop()
    cli("list", "--store", str(node.db))


def check_delivered(bootstrap, delivered):
    """Every message the producer had acknowledged is in the topic."""
    c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": "rel-verify",
                     "enable.partition.eof": True, "auto.offset.reset": "earliest",
                     "enable.auto.commit": False})
    c.assign([ck.TopicPartition("demo", p, ck.OFFSET_BEGINNING) for p in range(6)])
    seen, eof = set(), set()
    deadline = time.time() + 60
    while len(eof) < 6 and time.time() < deadline:
        m = c.poll(1)
        if m is None:
            continue
        if m.error():
            eof.add(m.partition())
            continue
        seen.add(m.value())
    c.close()
    missing = delivered - seen
    assert not missing, f"{len(missing)} acknowledged messages missing, e.g. {sorted(missing)[:5]}"
