"""The upstream cluster fails under a running write-then-commit application
(apps/counting_app.py through the proxy): brokers restarted (the mock's
broker down/up), requests failing (injected errors, dropped connections),
slow answers (RTT), and a network partition (iptables drops every packet to
the brokers' ports: a blackhole, unlike the mock's "down", which still
accepts TCP connections and closes them).
"""

import contextlib
import os
import random
import shutil
import subprocess
import threading
import time

import pytest

from conftest import (LONG, App, checkpoint_detail, checkpoint_list, partition_state_problems,
                      produce, seed, store_checkpoints, wait_not_ready, wait_ready, wait_until)
from harness.tidemark import committed_offsets

PARTITIONS, PER_PARTITION = 6, 200
TOTAL = PARTITIONS * PER_PARTITION
EXACT = {str(p): {"count": PER_PARTITION, "next": PER_PARTITION} for p in range(PARTITIONS)}

# Kafka API keys and error codes for the mock's injected errors.
FETCH, OFFSET_COMMIT, HEARTBEAT, METADATA = 1, 8, 12, 3
TRANSPORT = -195  # the broker drops the connection
COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR, REBALANCE_IN_PROGRESS = 15, 16, 27
REQUEST_TIMED_OUT, NOT_LEADER = 7, 6


def latest_offsets(node, group):
    listed = checkpoint_list(node.http)
    if not listed:
        return {}
    detail = checkpoint_detail(node.http, listed[0]["id"])
    return {o["partition"]: o["offset"] for o in detail["offsets"] if o["group"] == group}


class AheadWatch(threading.Thread):
    """Samples the group's committed offsets on the cluster and then the
    sidecar's latest durable checkpoint: the cluster's must never be ahead."""

    def __init__(self, cluster, node, group):
        super().__init__(daemon=True)
        self.cluster, self.node, self.group = cluster, node, group
        self.halt = threading.Event()
        self.violations, self.samples = [], 0

    def run(self):
        while not self.halt.is_set():
            try:
                upstream = committed_offsets(self.cluster.bootstrap, self.group, "demo",
                                             range(PARTITIONS))
                durable = latest_offsets(self.node, self.group)
            except Exception:  # noqa: BLE001 - the cluster may be down right now
                time.sleep(0.5)
                continue
            self.samples += 1
            for p, off in upstream.items():
                if off >= 0 and off > durable.get(p, -1):
                    self.violations.append((p, off, durable.get(p)))
            time.sleep(0.3)


def check_run(cluster, node, group, app, watch):
    assert app.wait(240) == 0, app.err.lines[-20:]
    watch.halt.set()
    watch.join(60)
    assert app.events("done")[-1]["counts"] == EXACT, app.events("assigned")
    assert not watch.violations, f"upstream ahead of the durable checkpoint: {watch.violations}"
    problems = {cid: p for cid, d in store_checkpoints(node.db).items()
                if (p := partition_state_problems(d, group))}
    assert not problems, problems
    # The mirror catches up: the cluster ends with the final checkpoint's offsets.
    want = {p: PER_PARTITION for p in range(PARTITIONS)}
    wait_until(lambda: latest_offsets(node, group) == want, 60, "the final checkpoint")
    wait_until(lambda: committed_offsets(cluster.bootstrap, group, "demo", range(PARTITIONS))
               == want, 90, "the cluster's offsets to reach the final checkpoint's")
    wait_ready(node.http, 60)


def test_should_keep_state_and_offsets_agreeing_through_broker_restarts_errors_and_rtt(
        cluster, nodes):
    """While the application counts 1,200 messages: 600 ms RTT on every
    broker, then dropped connections and retriable errors injected into
    Fetch, Metadata, Heartbeat and OffsetCommit (the sidecar's mirror
    commits), then one broker restarted, then all three. Fails if the final
    counts are not exact (a message lost or counted twice across the
    faults), any checkpoint holds a partition whose state disagrees with its
    offset, the group's offsets on the cluster are ever seen ahead of the
    latest durable checkpoint, the cluster's offsets never reach the final
    checkpoint's, or the sidecar does not end ready."""
    rng = random.Random(seed())
    produce(cluster.bootstrap, "demo", PARTITIONS, PER_PARTITION)
    node = nodes(cluster, {"checkpoint.interval": "200ms"})
    node.start()
    group = "upstream-faults"
    app = App(node, group, client="confluent", expect=TOTAL, batch=20)
    watch = AheadWatch(cluster, node, group)
    watch.start()
    wait_until(lambda: app.events("committed"), 60, "the first commit")
    cluster.rtt(-1, 600)
    time.sleep(3)
    cluster.rtt(-1, 0)
    for api, err, count in ((FETCH, TRANSPORT, 3), (METADATA, TRANSPORT, 2),
                            (HEARTBEAT, REBALANCE_IN_PROGRESS, 2),
                            (OFFSET_COMMIT, COORDINATOR_NOT_AVAILABLE, 3),
                            (OFFSET_COMMIT, NOT_COORDINATOR, 2),
                            (FETCH, NOT_LEADER, 2), (OFFSET_COMMIT, REQUEST_TIMED_OUT, 2)):
        cluster.inject_errors(api, err, count)
    time.sleep(2)
    victim = rng.randint(1, cluster.brokers)
    cluster.broker_down(victim)
    time.sleep(2)
    cluster.broker_up(victim)
    time.sleep(1)
    cluster.all_down()
    time.sleep(3)
    cluster.all_up()
    check_run(cluster, node, group, app, watch)
    print(f"{watch.samples} upstream samples; last app log: {app.err.lines[-3:]}")


@contextlib.contextmanager
def partitioned(ports):
    """Drops every packet to and from `ports` on loopback (iptables), both
    ways, until the block ends."""
    tag = f"tidemark-reliability-{os.getpid()}"
    spec = ",".join(str(p) for p in ports)
    rules = [["OUTPUT", "-o", "lo", "-p", "tcp", "-m", "multiport", "--dports", spec],
             ["OUTPUT", "-o", "lo", "-p", "tcp", "-m", "multiport", "--sports", spec]]
    for r in rules:
        subprocess.run(["iptables", "-I", *r, "-m", "comment", "--comment", tag, "-j", "DROP"],
                       check=True)
    try:
        yield
    finally:
        for r in rules:
            subprocess.run(["iptables", "-D", *r, "-m", "comment", "--comment", tag, "-j",
                            "DROP"], check=False)


def iptables_usable():
    if os.geteuid() != 0 or shutil.which("iptables") is None:
        return False
    return subprocess.run(["iptables", "-L", "OUTPUT", "-n"], capture_output=True).returncode == 0


@pytest.mark.skipif(not iptables_usable(), reason="needs root and a working iptables "
                    "(the partition drops packets to the brokers' ports)")
# In the long suite only: how soon kafka-python's connections recover after a
# blackhole is its own timers' business (it takes up to a minute).
@pytest.mark.skipif(not LONG, reason="long suite only (scripts/reliability)")
def test_should_report_the_upstream_not_ready_while_partitioned_and_recover(cluster, nodes):
    """The brokers' ports are blackholed for a while under a running
    application. Fails if /readyz does not turn 503 naming the `upstream`
    check (with a reason that says it is unreachable), if a checkpoint
    requested during the partition is not taken (local checkpoints need no
    cluster), if /readyz does not turn 200 again after the partition heals,
    or if counts, checkpoints and the cluster's offsets are not as in the
    test above once the application finishes."""
    seed()
    # Half the messages now, half after the partition heals: the application
    # must still be running then (it once finished all of them before the
    # partition began, its member expired during it, and the mirrors of its
    # last commits were refused as a stale member's, rightly).
    produce(cluster.bootstrap, "demo", PARTITIONS, PER_PARTITION // 2)
    node = nodes(cluster, {"checkpoint.interval": "200ms"})
    node.start()
    wait_ready(node.http)
    group = "partitioned"
    app = App(node, group, client="kafka-python", expect=TOTAL, batch=20)
    watch = AheadWatch(cluster, node, group)
    wait_until(lambda: app.events("committed"), 60, "the first commit")
    with partitioned(cluster.ports):
        body = wait_not_ready(node.http, "upstream", 60)
        assert body["checks"]["upstream"].startswith("upstream unreachable"), body
        from conftest import call
        status, raw = call(node.http, "POST", "/v1/checkpoints")
        assert status == 201, raw
    wait_ready(node.http, 60)
    assert app.proc.poll() is None, "the application finished before the partition healed"
    produce(cluster.bootstrap, "demo", PARTITIONS, PER_PARTITION - PER_PARTITION // 2)
    watch.start()
    check_run(cluster, node, group, app, watch)
