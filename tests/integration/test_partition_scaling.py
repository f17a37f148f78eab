"""State that follows partitions through scaling: three application
instances, each with its own sidecar, one consumer group, a 12-partition
topic and a word count whose counts are partition-scoped state; the group
scales 3 -> 2 -> 3 and one instance is killed with kill -9 (application and
sidecar) and loses its disk, mid-run. The final counts are exact: each
partition's offset and state were loaded by its next owner's sidecar from the
remote checkpoints before the application heard of the assignment.

The application is tests/integration/apps/partition_counter.py: a plain
confluent-kafka consumer (GET on assignment, PUT + commit after each batch)."""

import threading
import time

from harness.api import metric, wait_for
from harness.counter_app import Instance, partition_counts, produce
from harness.tidemark import EmbeddedKafka


def test_partition_state_should_follow_partitions_through_scaling_and_a_kill(tmp_path):
    topic, partitions, total = "words", 12, 6000
    cluster = EmbeddedKafka("debian", brokers=3, topics=(f"{topic}:{partitions}",),
                            checkpoint_topic=True)
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
