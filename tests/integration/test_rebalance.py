"""Partitions moving between application instances, each with its own
sidecar: a sidecar forgets the partitions its application no longer owns, so
when one comes back its OffsetFetch answers what the other instance
committed meanwhile, never a stale copy (which would process messages twice)."""

import time

import confluent_kafka as ck


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
    assert any("partitions assigned" in l and "forgotten=0" not in l for l in a.log.lines)
