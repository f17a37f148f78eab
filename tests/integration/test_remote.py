"""The remote checkpoint backend on the embedded cluster's compacted topic: a
pod rescheduled onto an empty disk gets its offsets and state back; an outage
never stops local checkpoints and the remote catches up after it; sync mode
answers only once the remote has the checkpoint; blobs no longer referenced
are deleted; records the sidecar does not understand are skipped."""

import json
import time

import confluent_kafka as ck
import pytest

from harness.api import call, metric, wait_for
from harness.tidemark import EmbeddedKafka, Sidecar

TOPIC = "__tidemark_checkpoints"
REMOTE = {"checkpoint.interval": "24h", "checkpoint.max_messages": "0",
          "remote.mode": "async", "remote.kafka.timeout": "5s", "job.instance_id": "pod-0"}


@pytest.fixture
def cluster():
    """The conftest's cluster, with the checkpoint topic made up front."""
    c = EmbeddedKafka("debian", brokers=3, topics=("demo:6",), checkpoint_topic=True)
    yield c
    c.stop()


def checkpoint(sidecar, value, offset):
    assert call(sidecar, "PUT", "/v1/state/model", value)[0] == 204
    offsets = [{"group": "g", "topic": "demo", "partition": 1, "offset": offset}]
    assert call(sidecar, "POST", "/v1/offsets", json.dumps(offsets))[0] == 200
    status, raw = call(sidecar, "POST", "/v1/checkpoints")
    assert status == 201, raw
    return json.loads(raw)["id"]


def uploaded(sidecar):
    return metric(sidecar, "tidemark_remote_uploads_total") or 0


def test_should_restore_offsets_and_state_on_a_new_node_from_the_remote(cluster, tmp_path):
    first = Sidecar(tmp_path / "node-a", cluster.bootstrap, REMOTE)
    try:
        cp = checkpoint(first, "weights-v1", 41)
        wait_for(lambda: uploaded(first) >= 1, 30, "the upload")
    finally:
        first.stop()  # SIGKILL: the disk of node a is gone with it
    second = Sidecar(tmp_path / "node-b", cluster.bootstrap, REMOTE)
    try:
        assert any("restored from the remote" in l for l in second.log.lines)
        assert call(second, "GET", "/v1/state/model") == (200, b"weights-v1")
        _, raw = call(second, "GET", f"/v1/checkpoints/{cp}")
        offsets = json.loads(raw)["offsets"]
        assert [(o["group"], o["partition"], o["offset"]) for o in offsets] == [("g", 1, 41)]
    finally:
        second.stop()
    other = Sidecar(tmp_path / "node-c", cluster.bootstrap, {**REMOTE, "job.instance_id": "pod-1"})
    try:  # another instance's checkpoints are not ours
        assert call(other, "GET", "/v1/state/model")[0] == 404
    finally:
        other.stop()


def test_should_keep_checkpointing_through_an_outage_and_catch_up_after(cluster, tmp_path):
    sidecar = Sidecar(tmp_path / "a", cluster.bootstrap, REMOTE)
    try:
        checkpoint(sidecar, "before", 1)
        wait_for(lambda: uploaded(sidecar) >= 1, 30, "the first upload")
        for node in range(1, cluster.brokers + 1):
            cluster.broker_down(node)
        outage_started = time.time()
        for i in range(5):  # local checkpoints go on, each answered once local
            checkpoint(sidecar, f"during-{i}", 10 + i)
        wait_for(lambda: (metric(sidecar, "tidemark_remote_upload_failures_total") or 0) >= 1,
                 30, "an upload to fail")
        assert metric(sidecar, "tidemark_remote_outbox_checkpoints") >= 1
        assert metric(sidecar, "tidemark_remote_outbox_bytes") == len("during-4")
        time.sleep(max(0, 30 - (time.time() - outage_started)))  # a 30 s outage
        checkpoint(sidecar, "last", 99)
        for node in range(1, cluster.brokers + 1):
            cluster.broker_up(node)
        wait_for(lambda: metric(sidecar, "tidemark_remote_outbox_checkpoints") == 0, 60,
                 "the outbox to drain")
        assert metric(sidecar, "tidemark_remote_outbox_bytes") == 0
    finally:
        sidecar.stop()
    fresh = Sidecar(tmp_path / "b", cluster.bootstrap, REMOTE)
    try:
        assert call(fresh, "GET", "/v1/state/model") == (200, b"last")
    finally:
        fresh.stop()


def test_sync_mode_should_answer_only_once_the_remote_has_the_checkpoint(cluster, tmp_path):
    settings = {**REMOTE, "remote.mode": "sync", "checkpoint.timeout": "3s"}
    sidecar = Sidecar(tmp_path / "a", cluster.bootstrap, settings)
    try:
        checkpoint(sidecar, "synced", 5)
        assert uploaded(sidecar) >= 1  # already: the answer waited for it
        for node in range(1, cluster.brokers + 1):
            cluster.broker_down(node)
        assert call(sidecar, "PUT", "/v1/state/model", "unsynced")[0] == 204
        offsets = [{"group": "g", "topic": "demo", "partition": 1, "offset": 6}]
        call(sidecar, "POST", "/v1/offsets", json.dumps(offsets))
        status, raw = call(sidecar, "POST", "/v1/checkpoints")
        assert status == 504, raw  # not complete without the remote
        for node in range(1, cluster.brokers + 1):
            cluster.broker_up(node)
    finally:
        sidecar.stop()


def remote_records(bootstrap):
    """The checkpoint topic's records, oldest first: (key bytes, value or None)."""
    c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": "inspect",
                     "enable.partition.eof": True, "auto.offset.reset": "earliest"})
    md = c.list_topics(TOPIC, timeout=10).topics[TOPIC]
    c.assign([ck.TopicPartition(TOPIC, p, ck.OFFSET_BEGINNING) for p in md.partitions])
    records, eof = [], set()
    while len(eof) < len(md.partitions):
        m = c.poll(5)
        assert m is not None, "the checkpoint topic did not reach its end"
        if m.error():
            eof.add(m.partition())
            continue
        records.append((m.key(), m.value()))
    c.close()
    return records


def latest_records(bootstrap, done, timeout=30):
    """The checkpoint topic's records once `done(records)` holds (deletions
    reach the topic after the upload is counted), or as they are at `timeout`."""
    deadline = time.time() + timeout
    while True:
        records = remote_records(bootstrap)
        if done(records) or time.time() > deadline:
            return records
        time.sleep(0.5)


def test_should_delete_remote_blobs_no_checkpoint_references(cluster, tmp_path):
    sidecar = Sidecar(tmp_path / "a", cluster.bootstrap, REMOTE)
    try:
        checkpoint(sidecar, "old-value-" + "x" * 100, 1)
        wait_for(lambda: uploaded(sidecar) >= 1, 30, "the first upload")
        checkpoint(sidecar, "new-value", 2)
        wait_for(lambda: uploaded(sidecar) >= 2, 30, "the second upload")
        latest = dict(latest_records(cluster.bootstrap,
                                     lambda records: None in dict(records).values()))
        tombstoned = [k for k, v in latest.items() if v is None]
        assert len(tombstoned) == 1, "the unreferenced blob was not tombstoned"
        values = [v for v in latest.values() if v is not None]
        assert any(b"new-value" in v for v in values)
        assert not any(b"old-value" in v for v in values)
    finally:
        sidecar.stop()


def live_blob_hashes(records):
    """The blobs whose chunks are live on the topic (their last record not a
    tombstone), by the SHA-256 in each chunk key (BlobChunk: field 1, 32 bytes)."""
    latest = dict(records)
    hashes = set()
    for key, value in latest.items():
        at = key.find(b"\x2a")  # RemoteKey field 5, blob_chunk
        if value is not None and at >= 0 and key[at + 2:at + 4] == b"\x0a\x20":
            hashes.add(key[at + 4:at + 36])
    return hashes


def test_should_restore_a_manifest_too_large_for_one_record_from_its_pages(cluster, tmp_path):
    # With 1 KiB chunks the producer takes records up to 65 KiB: a manifest of
    # 1,000 keys (~80 KiB) is refused as one record (as one of some 6,000 keys is
    # with the default 512 KiB chunks), so its state list goes as pages.
    small = {**REMOTE, "remote.kafka.chunk_bytes": "1KiB"}
    keys = [f"model/part-{i:04d}" for i in range(1000)]
    first = Sidecar(tmp_path / "node-a", cluster.bootstrap, small)
    try:
        for k in keys:
            assert call(first, "PUT", f"/v1/state/{k}", f"value of {k}")[0] == 204
        checkpoint(first, "weights-v1", 41)
        wait_for(lambda: uploaded(first) >= 1, 30, "the first upload")
        manifest_key = b"\x08\x01\x12\x02it\x1a\x05pod-0\x22\x00"
        records = remote_records(cluster.bootstrap)
        assert dict(records)[manifest_key][:2] == b"\x08\x03", "not sent as pages"
        live_first = live_blob_hashes(records)
        # Every value, "model", and more than one page of the list.
        assert len(live_first) > len(keys) + 2, "the state list is not in pages"

        # One key changed: its value and the one page that lists it are sent and
        # replace the old ones; the rest of the list (~80 KiB) is not sent again.
        sent = metric(first, "tidemark_remote_uploaded_bytes_total")
        checkpoint(first, "weights-v2", 42)
        wait_for(lambda: uploaded(first) >= 2, 30, "the second upload")
        assert (metric(first, "tidemark_remote_upload_failures_total") or 0) == 0
        assert metric(first, "tidemark_remote_uploaded_bytes_total") - sent < 16384
        records = latest_records(cluster.bootstrap,
                                 lambda r: len(live_blob_hashes(r)) == len(live_first))
        live = live_blob_hashes(records)
        assert len(live - live_first) == 2, "not exactly the new value and its page"
        assert len(live_first - live) == 2, "the superseded value or page was not deleted"

        # Nothing changed but the offset: no page is sent again.
        sent = metric(first, "tidemark_remote_uploaded_bytes_total")
        checkpoint(first, "weights-v2", 43)
        wait_for(lambda: uploaded(first) >= 3, 30, "the third upload")
        assert metric(first, "tidemark_remote_uploaded_bytes_total") - sent < 8192
        again = latest_records(cluster.bootstrap, lambda r: dict(r)[manifest_key] !=
                               dict(records)[manifest_key])
        assert dict(again)[manifest_key] != dict(records)[manifest_key], \
            "the third checkpoint's manifest record never reached the topic"
        assert live_blob_hashes(again) == live, "an unchanged page was replaced"
    finally:
        first.stop()  # SIGKILL: the disk of node a is gone with it
    second = Sidecar(tmp_path / "node-b", cluster.bootstrap, small)
    try:
        assert any("restored from the remote" in l for l in second.log.lines)
        assert call(second, "GET", "/v1/state/model") == (200, b"weights-v2")
        for k in keys:
            assert call(second, "GET", f"/v1/state/{k}") == (200, f"value of {k}".encode())
    finally:
        second.stop()


def test_should_skip_remote_records_it_does_not_understand(cluster, tmp_path):
    first = Sidecar(tmp_path / "a", cluster.bootstrap, REMOTE)
    try:
        checkpoint(first, "kept", 7)
        wait_for(lambda: uploaded(first) >= 1, 30, "the upload")
    finally:
        first.stop()
    p = ck.Producer({"bootstrap.servers": cluster.bootstrap})
    p.produce(TOPIC, key=b"\xff\xfe not a key", value=b"junk")
    # format_version 99 (field 1 = 99), same job and instance: from a newer Tidemark
    p.produce(TOPIC, key=b"\x08\x63\x12\x02it\x1a\x05pod-0\x22\x00", value=b"\x08\x63")
    p.produce(TOPIC, key=None, value=b"no key at all")
    assert p.flush(10) == 0
    second = Sidecar(tmp_path / "b", cluster.bootstrap, REMOTE)
    try:
        assert call(second, "GET", "/v1/state/model") == (200, b"kept")
    finally:
        second.stop()
