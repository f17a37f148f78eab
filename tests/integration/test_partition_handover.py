"""Fencing of stale owners: a sidecar paused until its partitions moved to
another instance wakes up and checkpoints them, later in time than anything
their new owner wrote; its application then hears from the group coordinator
that it is stale, and the sidecar stops writing the group's partitions. The
next owner restores each partition from the newest generation, never from the
zombie's write."""

import json
import signal

from harness.api import call, metric, wait_for
from harness.counter_app import GROUP, Instance, partition_counts, produce
from harness.tidemark import EmbeddedKafka


def test_a_paused_sidecar_should_not_win_with_a_stale_checkpoint_after_its_partitions_moved(
        tmp_path):
    topic, partitions = "demo", 6
    cluster = EmbeddedKafka("debian", brokers=3, topics=(f"{topic}:{partitions}",),
                            checkpoint_topic=True)
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


def seal_and_upload(sidecar, topic):
    """Seals partition 0's staged state at offset 10, checkpoints, and waits
    until that checkpoint is on the remote."""
    marked = [{"group": GROUP, "topic": topic, "partition": 0, "offset": 10}]
    assert call(sidecar, "POST", "/v1/offsets", json.dumps(marked))[0] == 200
    uploads = metric(sidecar, "tidemark_remote_uploads_total")
    assert call(sidecar, "POST", "/v1/checkpoints")[0] == 201
    wait_for(lambda: metric(sidecar, "tidemark_remote_uploads_total") > uploads
             and metric(sidecar, "tidemark_remote_outbox_checkpoints") == 0, 30,
             "the checkpoint on the remote")
    assert metric(sidecar, "tidemark_remote_upload_failures_total") == 0


def start_owning_all(tmp_path, cluster, topic, partitions, name, live, settings):
    """Starts instance `name` and waits until the group gives it every partition."""
    instance = Instance(tmp_path, cluster, topic, name, settings=settings)
    live.append(instance)
    wait_for(lambda: instance.app.assigned and len(instance.app.assigned[-1]) == partitions, 60,
             f"the group to give every partition to {name}")
    return instance


def test_a_partition_with_more_state_keys_than_one_record_holds_should_follow_it(tmp_path):
    # With 1 KiB chunks the producer takes records up to 65 KiB: a partition
    # record listing 1,000 keys (~80 KiB) is refused as one record (as one of
    # some 6,000 keys is with the default 512 KiB), so its state list goes as a blob.
    topic, partitions = "demo", 2
    cluster = EmbeddedKafka("debian", brokers=3, topics=(f"{topic}:{partitions}",),
                            checkpoint_topic=True)
    small = {"remote.kafka.chunk_bytes": "1KiB"}
    live = []
    try:
        a = Instance(tmp_path, cluster, topic, "pod-a", settings=small)
        live.append(a)
        produce(cluster.bootstrap, topic, partitions, 20)
        wait_for(lambda: a.app.committed == {p: 10 for p in range(partitions)}, 60,
                 "the first instance to process everything")
        scoped = f"/v1/groups/{GROUP}/topics/{topic}/partitions/0/state"
        for i in range(1000):
            assert call(a.sidecar, "PUT", f"{scoped}/key-{i:04d}", f"value {i}")[0] == 204
        seal_and_upload(a.sidecar, topic)
        a.stop()
        live.remove(a)

        # Restarted, it reads its own record back (state list from its blob,
        # kept pinned) and changes one key: the next record replaces it whole.
        a = start_owning_all(tmp_path, cluster, topic, partitions, "pod-a", live, small)
        assert call(a.sidecar, "PUT", f"{scoped}/key-0000", "changed")[0] == 204
        seal_and_upload(a.sidecar, topic)
        a.stop()
        live.remove(a)

        b = start_owning_all(tmp_path, cluster, topic, partitions, "pod-b", live, small)
        assert call(b.sidecar, "GET", f"{scoped}/key-0000") == (200, b"changed")
        for i in (1, 500, 999):
            assert call(b.sidecar, "GET", f"{scoped}/key-{i:04d}") == (200, f"value {i}".encode())
        assert metric(b.sidecar, "tidemark_partition_load_failures_total") == 0
    finally:
        for instance in live:
            instance.kill()
        cluster.stop()
