"""The application crashes mid-batch: a write-then-commit consumer
(apps/counting_app.py, confluent-kafka and kafka-python in turn) kills itself
with SIGKILL inside a batch and a new instance takes over through the same,
still running, sidecar. Checkpoints run every 200 ms, so they land between
the crash and the new instance's commits. A crash after the PUTs and before
the commit leaves a staged write behind: the second test shows, with two
scripted members, what the next commit does with it.
"""

import random
import subprocess
import sys


from conftest import (APP_CRASHES, App, call, client_env, partition_state,
                      partition_state_problems, produce, seed, store_checkpoints, wait_ready)

# Each crashed instance reads at most 3 batches of 40: enough messages that
# the last crash still has some to read (50 crashes need 6,000 or so).
PARTITIONS = 6
PER_PARTITION = max(150, APP_CRASHES * 3 * 40 // PARTITIONS + 50)
# Where the app crashes in a batch (apps/counting_app.py): "mid-put" and
# "after-put" leave staged writes no commit of theirs will seal.
PHASES = ("before-put", "mid-put", "after-put", "after-commit")
CLIENTS = ("confluent", "kafka-python")


def test_should_count_every_message_once_when_the_app_crashes_mid_batch(cluster, nodes):
    """Fails if: a restarted instance loads partition state that does not
    agree with the offset it resumes from (its final counts then differ from
    the messages per partition); any checkpoint in the store (read with
    `tidemark checkpoints show --store`) holds a partition whose state is not
    the one sealed with its offset — e.g. a crashed instance's staged PUT
    sealed by the next instance's commit of other partitions; or a sidecar
    restarted after the run restores other counts."""
    rng = random.Random(seed())
    produce(cluster.bootstrap, "demo", PARTITIONS, PER_PARTITION)
    node = nodes(cluster, {"checkpoint.interval": "200ms"})
    node.start()
    group = "crashing"
    crashes = []
    for i in range(max(APP_CRASHES, 1)):
        # Every phase and both clients come up in the first crashes.
        phase = PHASES[i % 2] if i < 2 else rng.choice(PHASES)
        client = CLIENTS[i % 2]
        after = rng.randint(1, 3)
        app = App(node, group, client=client, crash_after=after, crash_phase=phase, batch=40)
        rc = app.wait(120)
        crashes.append((client, phase, after, rc))
        assert rc == -9, f"{client} app did not crash as told ({phase}): rc {rc}, " \
                         f"{app.err.lines[-10:]}"
        for event in app.events("assigned"):
            for p, loaded in event["partitions"].items():
                assert loaded["count"] == loaded["next"], \
                    f"crash {i} ({client}, {phase}): partition {p} loaded {loaded}"
    final = App(node, group, client="confluent", expect=PARTITIONS * PER_PARTITION)
    assert final.wait(180) == 0, final.err.lines[-20:]
    done = final.events("done")[-1]["counts"]
    loaded = [e["partitions"] for e in final.events("assigned")]
    assert done == {str(p): {"count": PER_PARTITION, "next": PER_PARTITION}
                    for p in range(PARTITIONS)}, (done, loaded, crashes)

    assert call(node.http, "POST", "/v1/checkpoints")[0] == 201
    problems = {cid: partition_state_problems(d, group)
                for cid, d in store_checkpoints(node.db).items()}
    problems = {cid: p for cid, p in problems.items() if p}
    assert not problems, f"checkpoints whose state and offsets disagree: {problems} " \
                         f"(crashes: {crashes})"

    node.kill()
    node.start()
    wait_ready(node.http)
    for p in range(PARTITIONS):
        assert partition_state(node.http, group, p) == \
            {"count": PER_PARTITION, "next": PER_PARTITION}


MEMBER = r"""
import json, sys, time, urllib.request, confluent_kafka as ck
bootstrap, http, group, partition, mode = sys.argv[1:6]
partition = int(partition)
assigned = []
c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                 "auto.offset.reset": "earliest", "session.timeout.ms": 3000,
                 "heartbeat.interval.ms": 500})
c.subscribe(["demo"], on_assign=lambda cons, ps: assigned.extend(ps))
seen = 0
deadline = time.time() + 60
while time.time() < deadline:  # count `partition`'s first 40 messages
    m = c.poll(0.5)
    if m is None or m.error() or m.partition() != partition:
        continue
    seen = m.offset() + 1
    if seen >= 40:
        break
url = f"http://{http}/v1/groups/{group}/topics/demo/partitions/{partition}/state/count"
value = json.dumps({"count": seen, "next": seen}).encode()
req = urllib.request.Request(url, data=value, method="PUT")
assert urllib.request.urlopen(req, timeout=10).status == 204
if mode == "crash":  # dies after its PUT, before its commit: mid-batch
    print("staged", flush=True)
    import os, signal
    os.kill(os.getpid(), signal.SIGKILL)
c.commit(offsets=[ck.TopicPartition("demo", partition, seen)], asynchronous=False)
print("committed", seen, flush=True)
c.close()
"""


def member(node, group, partition, mode):
    return subprocess.run([sys.executable, "-c", MEMBER, node.proxy, node.http, group,
                           str(partition), mode], capture_output=True, text=True, timeout=120,
                          env=client_env("debian"))


def test_should_not_seal_a_crashed_instances_staged_write_with_another_members_commit(
        cluster, nodes):
    """Instance A (confluent-kafka, a member of the group through the proxy)
    counts 40 messages of partition 4, PUTs that partition's state and is
    killed before its commit. Instance B then joins, counts 40 messages of
    partition 0, PUTs and commits partition 0 only. Fails if the checkpoint
    taken after B's commit holds, for partition 4, state that does not agree
    with partition 4's offset (A's count of 40 with no committed offset: a
    restarted application would count those 40 messages again), or if the
    sealed view hands partition 4's new owner that state."""
    produce(cluster.bootstrap, "demo", PARTITIONS, 100)
    node = nodes(cluster, {"checkpoint.interval": "24h"})
    node.start()
    group = "handover"
    a = member(node, group, 4, "crash")
    assert a.returncode == -9 and "staged" in a.stdout, a.stderr[-2000:]
    b = member(node, group, 0, "commit")
    assert b.returncode == 0 and "committed 40" in b.stdout, b.stderr[-2000:]
    status, raw = call(node.http, "POST", "/v1/checkpoints")
    assert status == 201, raw
    checkpoints = store_checkpoints(node.db)
    latest = checkpoints[max(checkpoints, key=int)]
    assert partition_state_problems(latest, group) == [], latest
    assert partition_state(node.http, group, 4) in (None, {"count": 0, "next": 0})
