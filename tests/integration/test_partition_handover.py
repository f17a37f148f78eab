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
