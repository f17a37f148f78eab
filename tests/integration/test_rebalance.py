"""Partitions moving between application instances, each with its own
sidecar: a sidecar forgets the partitions its application no longer owns, so
when one comes back its OffsetFetch answers what the other instance
committed meanwhile, never a stale copy (which would process messages twice)."""

import time

import confluent_kafka as ck

from harness.api import wait_for
from harness import counter_app
from harness.counter_app import App, partition_counts
from harness.tidemark import EmbeddedKafka, Sidecar


# Sync mode: each commit reaches the cluster as soon as it is durable. (In
# checkpoint mode commits reach it at the next checkpoint, and the one a
# rebalance takes is refused by the mock cluster, which, stricter than Kafka,
# rejects commits while a group rebalances: partitions would move with
# older offsets, a different matter.)
SETTINGS = {"checkpoint.interval": "24h", "checkpoint.max_messages": "0",
            "offsets.commit_mode": "sync"}
GROUP = "movers"


def produce(bootstrap, per_partition, start):
    p = ck.Producer({"bootstrap.servers": bootstrap})
    for partition in range(6):
        for i in range(per_partition):
            p.produce("demo", value=f"{start + i}".encode(), partition=partition)
    assert p.flush(30) == 0


def consumer(bootstrap, name):
    c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": GROUP, "client.id": name,
                     "enable.auto.commit": False, "auto.offset.reset": "earliest",
                     "session.timeout.ms": 6000, "heartbeat.interval.ms": 500,
                     "partition.assignment.strategy": "range"})
    c.subscribe(["demo"])
    return c


def drain(consumers, seen, quiet_for=3.0, timeout=60):
    """Polls every consumer until none gets a message for `quiet_for` seconds;
    records (partition, offset) per consumer and commits synchronously."""
    deadline = time.time() + timeout
    last = time.time()
    while time.time() - last < quiet_for:
        assert time.time() < deadline, "consumers never went quiet"
        for name, c in consumers.items():
            m = c.poll(0.2)
            if m is None or m.error():
                continue
            seen.setdefault(name, []).append((m.partition(), m.offset()))
            c.commit(message=m, asynchronous=False)
            last = time.time()


def wait_assigned(consumers, counts, timeout=60):
    deadline = time.time() + timeout
    while [len(c.assignment()) for c in consumers.values()] != counts:
        assert time.time() < deadline, [len(c.assignment()) for c in consumers.values()]
        for c in consumers.values():
            c.poll(0.1)


def test_returning_partitions_should_resume_where_their_last_owner_committed(
        cluster, sidecar_factory):
    a = sidecar_factory(cluster, settings=SETTINGS, name="a")
    b = sidecar_factory(cluster, settings=SETTINGS, name="b")
    produce(a.fields["proxy"], 10, 0)
    seen = {}
    first = {"ca": consumer(a.fields["proxy"], "ca")}
    wait_assigned(first, [6])
    drain(first, seen)  # ca owned all six partitions; a holds their offsets
    both = {**first, "cb": consumer(b.fields["proxy"], "cb")}
    wait_assigned(both, [3, 3])
    produce(a.fields["proxy"], 10, 10)
    drain(both, seen)  # cb moves its three partitions on, through b
    both["cb"].close()  # LeaveGroup: b checkpoints, then commits upstream
    del both["cb"]
    wait_assigned(both, [6])
    drain(both, seen)  # ca gets cb's partitions back
    both["ca"].close()
    everything = seen["ca"] + seen.get("cb", [])
    assert len(everything) == 120, f"{len(everything) - 120} messages processed twice"
    assert len(set(everything)) == 120
    assert any("dropped the stale copies" in l for l in a.log.lines)


def test_partition_state_should_stay_when_partitions_move_between_members_behind_one_sidecar(
        tmp_path):
    """Two consumers of one group in one pod, behind one sidecar (no remote):
    when the second joins, partitions move from the first to it without ever
    leaving the sidecar, and their counts come along (then back, when it
    leaves)."""
    cluster = EmbeddedKafka("debian", brokers=3, topics=("words:6",))
    sidecar = Sidecar(tmp_path / "pod", cluster.bootstrap,
                      {"checkpoint.interval": "1s", "checkpoint.max_messages": "0"})
    apps = []
    try:
        first = App(sidecar, "words", "first")
        apps.append(first)
        expected = counter_app.produce(cluster.bootstrap, "words", 6, 600)
        wait_for(lambda: first.committed == {p: 100 for p in range(6)}, 60, "the first member")
        second = App(sidecar, "words", "second")
        apps.append(second)
        wait_for(lambda: second.assigned and second.assigned[-1], 60, "the second member's share")
        more = counter_app.produce(cluster.bootstrap, "words", 6, 600, start=600)
        for p, c in more.items():
            expected[p].update(c)
        wait_for(lambda: {**first.committed, **second.committed} == {p: 200 for p in range(6)}
                 and len(second.committed) > 0, 60, "both members to process everything")
        second.stop()  # its partitions go back to the first member, still here
        # The first member must hold all six again before it stops: had the
        # second's last commit not made it (slow under TSan), the first
        # replays those messages from the sealed offset once it has them.
        want = {p: dict(expected[p]) for p in range(6)}
        wait_for(lambda: first.assigned and len(first.assigned[-1]) == 6, 60,
                 "the first member to get every partition back")
        try:
            wait_for(lambda: {p: partition_counts(sidecar, "words", p) for p in range(6)} == want,
                     60, "the first member to count what the second left uncommitted")
        except AssertionError as e:
            got = {p: partition_counts(sidecar, "words", p) for p in range(6)}
            wrong = {p: (got[p], want[p]) for p in range(6) if got[p] != want[p]}
            raise AssertionError(f"{e}: partitions (counts, expected) {wrong}; first member "
                                 f"alive {first.proc.poll() is None}, committed "
                                 f"{first.committed}, refused commits {first.refused}, "
                                 f"errors {list(first.errors)[-10:]}; "
                                 f"second's errors {list(second.errors)[-10:]}") from None
        first.stop()
        got = {p: partition_counts(sidecar, "words", p) for p in range(6)}
        assert got == want
    finally:
        for a in apps:
            a.kill()
        sidecar.stop()
        cluster.stop()
