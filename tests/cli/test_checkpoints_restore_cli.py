"""`tidemark checkpoints restore ID`: rewinds a stopped sidecar's store to a
retained checkpoint, and the group's offsets on the cluster with it; refused
while the application's consumer group still has members on the cluster
(unless --force) or the store is in use."""

import json
import subprocess
import threading
import time

import confluent_kafka as ck
import pytest

from harness.api import call, metric, wait_for
from harness.counter_app import SETTINGS, App, partition_counts, produce
from harness.tidemark import EmbeddedKafka, Sidecar, binary, committed_offsets

MANUAL = {"checkpoint.interval": "24h", "checkpoint.max_messages": "0"}


def run(*args, timeout=60):
    return subprocess.run([binary(), "checkpoints", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout)


def checkpoint_with(sidecar, value, offset, group):
    assert call(sidecar, "PUT", "/v1/state/model", value)[0] == 204
    marks = [{"group": group, "topic": "demo", "partition": 0, "offset": offset}]
    assert call(sidecar, "POST", "/v1/offsets", json.dumps(marks))[0] == 200
    status, raw = call(sidecar, "POST", "/v1/checkpoints")
    assert status == 201, raw
    return json.loads(raw)["id"]


@pytest.fixture(scope="module")
def kafka():
    cluster = EmbeddedKafka("debian", brokers=1, topics=("demo:3",))
    yield cluster
    cluster.stop()


def stopped_sidecar_with_two_checkpoints(kafka, workdir, group):
    sidecar = Sidecar(workdir, kafka.bootstrap, MANUAL)
    first = checkpoint_with(sidecar, "weights-1", 5, group)
    second = checkpoint_with(sidecar, "weights-2", 9, group)
    assert sidecar.terminate() == 0
    return sidecar, first, second


def test_restore_should_rewind_a_stopped_sidecar_when_its_group_has_no_members(kafka, tmp_path):
    sidecar, first, _ = stopped_sidecar_with_two_checkpoints(kafka, tmp_path / "s", "idle")
    result = run("restore", first, "--config", sidecar.config_path)
    assert result.returncode == 0, result.stderr
    assert f"restored checkpoint {first} as checkpoint" in result.stdout
    # The cluster's offsets are rewound too: they never run ahead of the store.
    assert committed_offsets(kafka.bootstrap, "idle", "demo", [0]) == {0: 5}

    again = Sidecar(tmp_path / "s", kafka.bootstrap, MANUAL)
    try:
        assert call(again, "GET", "/v1/state/model") == (200, b"weights-1")
        _, raw = call(again, "GET", "/v1/checkpoints")
        newest = json.loads(raw)["checkpoints"][0]
        assert newest["trigger"] == "restore"
        _, raw = call(again, "GET", f"/v1/checkpoints/{newest['id']}")
        assert [o["offset"] for o in json.loads(raw)["offsets"]] == [5]
        assert len(json.loads(call(again, "GET", "/v1/checkpoints")[1])["checkpoints"]) >= 3
    finally:
        again.stop()


def test_restore_should_refuse_while_the_group_has_active_members_unless_forced(kafka, tmp_path):
    sidecar, first, _ = stopped_sidecar_with_two_checkpoints(kafka, tmp_path / "s", "busy")
    consumer = ck.Consumer({"bootstrap.servers": kafka.bootstrap, "group.id": "busy",
                            "session.timeout.ms": 6000, "heartbeat.interval.ms": 500})
    consumer.subscribe(["demo"])
    stop = threading.Event()
    polling = threading.Thread(target=lambda: [consumer.poll(0.2) for _ in iter(stop.is_set, True)])
    polling.start()
    try:
        deadline = time.time() + 30
        while not consumer.assignment():
            assert time.time() < deadline, "the consumer never joined"
            time.sleep(0.2)
        refused = run("restore", first, "--config", sidecar.config_path)
        assert refused.returncode == 1
        assert "consumer group busy has active members" in refused.stderr, refused.stderr
        assert "--force" in refused.stderr
        forced = run("restore", first, "--config", sidecar.config_path, "--force")
        assert forced.returncode == 0, forced.stderr
    finally:
        stop.set()
        polling.join()
        consumer.close()


def test_restore_should_refuse_while_the_sidecar_runs(kafka, tmp_path):
    sidecar = Sidecar(tmp_path / "s", kafka.bootstrap, MANUAL)
    try:
        first = checkpoint_with(sidecar, "w", 1, "idle")
        result = run("restore", first, "--config", sidecar.config_path)
        assert result.returncode == 1
        assert "open in another process" in result.stderr and "then restore" in result.stderr
    finally:
        sidecar.stop()


def test_restore_should_refuse_when_it_cannot_ask_the_cluster_about_the_group(kafka, tmp_path):
    sidecar, first, _ = stopped_sidecar_with_two_checkpoints(kafka, tmp_path / "s", "idle")
    store = tmp_path / "s" / "tidemark.db"
    result = run("restore", first, "--store", store)
    assert result.returncode == 1
    assert "give --config or --bootstrap" in result.stderr
    assert run("restore", "latest", "--store", store, "--bootstrap", kafka.bootstrap).returncode == 0
    assert run("restore", 42, "--store", store, "--force").returncode == 1  # not retained


def test_restore_should_win_over_newer_generations_on_the_remote(tmp_path):
    """With a remote, the partition records another instance wrote in later
    generations must not undo the rewind when the partitions are next
    assigned: the job rewinds as a whole, as Flink's restore does."""
    cluster = EmbeddedKafka("debian", brokers=1, topics=("words:4",), checkpoint_topic=True)
    manual = {**SETTINGS, "checkpoint.interval": "24h"}
    apps, sidecars = [], []

    def start(name):
        sidecars.append(Sidecar(tmp_path / name, cluster.bootstrap,
                                {**manual, "job.instance_id": name}))
        return sidecars[-1]

    def checkpoint_on_remote(sidecar):
        uploads = metric(sidecar, "tidemark_remote_uploads_total")
        status, raw = call(sidecar, "POST", "/v1/checkpoints")
        assert status == 201, raw
        wait_for(lambda: metric(sidecar, "tidemark_remote_uploads_total") > uploads, 30,
                 "the checkpoint on the remote")
        return json.loads(raw)["id"]

    try:
        a = start("pod-a")
        first = App(a, "words", "first")
        apps.append(first)
        expected = produce(cluster.bootstrap, "words", 4, 400)
        wait_for(lambda: first.committed == {p: 100 for p in range(4)}, 60, "the first batch")
        rewind_to = checkpoint_on_remote(a)  # every partition, generation 1
        b = start("pod-b")
        second = App(b, "words", "second")  # a rebalance: half the partitions move to pod-b
        apps.append(second)
        wait_for(lambda: second.assigned and second.assigned[-1], 60, "the second instance")
        more = produce(cluster.bootstrap, "words", 4, 400, start=400)
        for p, c in more.items():
            expected[p].update(c)
        wait_for(lambda: {**first.committed, **second.committed} == {p: 200 for p in range(4)}
                 and second.committed, 60, "the second batch")
        checkpoint_on_remote(b)  # pod-b's partitions, generation 2, on the remote
        for app in apps:
            app.stop()
        for s in sidecars:
            assert s.terminate() == 0

        # --force: the embedded cluster refuses memberless commits for every
        # group it has seen members of, even once they all left (Kafka accepts
        # them for an empty group), so the group's offsets there stay as they
        # are; the sidecar answers OffsetFetch from the rewound store anyway.
        result = run("restore", rewind_to, "--config", a.config_path, "--force")
        assert result.returncode == 0, result.stderr
        a = start("pod-a")
        again = App(a, "words", "again")
        apps.append(again)
        # Every partition resumes from the rewound offsets, pod-b's former ones
        # too: the second batch is processed again, against the rewound
        # counts, and they end exact.
        wait_for(lambda: again.committed == {p: 200 for p in range(4)}, 60,
                 "the second batch processed again on every partition")
        assert {p: partition_counts(a, "words", p) for p in range(4)} == \
            {p: dict(expected[p]) for p in range(4)}
    finally:
        for app in apps:
            app.kill()
        for s in sidecars:
            s.stop()
        cluster.stop()
