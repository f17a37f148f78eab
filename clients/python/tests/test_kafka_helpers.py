"""The rebalance helpers (tidemark.kafka): alone with a stand-in client, then
with real consumers (confluent-kafka, kafka-python) joining a group through
the sidecar's proxy on the embedded cluster — one sidecar, and two sidecars
with the remote backend on, a partition's state following it from one to the
other."""

import collections
import re
import time

import pytest

import tidemark
import tidemark.kafka
from harness.tidemark import Sidecar

TopicPartition = collections.namedtuple("TopicPartition", "topic partition")


class StandInScope:
    """A `PartitionState` answering from its client's dict."""

    def __init__(self, client, where):
        self.client, self.where = client, where

    def get_state(self, key, view="sealed"):
        self.client.calls.append(("get",) + self.where + (key, view))
        if self.where + (key,) == self.client.fail_on:
            raise tidemark.TransportError("sidecar unreachable")
        return self.client.states.get(self.where + (key,))

    def list_state(self, prefix="", view="sealed"):
        self.client.calls.append(("list",) + self.where + (prefix, view))
        return [tidemark.StateInfo(k[-1], len(s.value), s.etag)
                for k, s in sorted(self.client.states.items())
                if k[:-1] == self.where and k[-1].startswith(prefix)]

    def put_state(self, key, value, content_type=None, if_match=None):
        self.client.calls.append(("put",) + self.where + (key, value, content_type))
        return f'"{key}@{self.where[2]}"'

    def delete_state(self, key, if_match=None):
        self.client.calls.append(("delete",) + self.where + (key,))
        if self.where + (key,) not in self.client.states:
            raise tidemark.NotFound(404, "not_found", "no state")


class StandInClient:
    """`states`: {(group, topic, partition, key): State}; records every call."""

    def __init__(self, states=None, fail_on=None):
        self.states, self.calls, self.fail_on = states or {}, [], fail_on

    def partition(self, group, topic, partition):
        return StandInScope(self, (group, topic, partition))


def state(value):
    return tidemark.State(value, "application/octet-stream", '"e"')


def test_should_get_each_assigned_partitions_state_key_in_the_sealed_view_when_no_key_is_given():
    s = state(b"s")
    client = StandInClient({("g", "demo", 1, "state"): s})
    loaded = []
    on_assign = tidemark.kafka.on_assign_loader(client, "g", lambda *a: loaded.append(a))
    on_assign(object(), [TopicPartition("demo", 1), TopicPartition("demo", 2)])
    assert client.calls == [("get", "g", "demo", 1, "state", "sealed"),
                            ("get", "g", "demo", 2, "state", "sealed")]
    assert loaded == [("demo", 1, s), ("demo", 2, None)]


def test_should_use_the_key_and_view_given_and_then_call_the_chained_on_assign_when_given():
    client = StandInClient()
    chained = []
    on_assign = tidemark.kafka.on_assign_loader(
        client, "g", lambda *a: None, key="counts", view="staged",
        then=lambda consumer, partitions: chained.append((consumer, partitions)))
    partitions = [TopicPartition("demo", 0)]
    on_assign("consumer", partitions)
    assert client.calls == [("get", "g", "demo", 0, "counts", "staged")]
    assert chained == [("consumer", partitions)]


def test_should_hand_a_dict_of_the_keys_that_have_state_when_several_keys_are_given():
    a, b = state(b"a"), state(b"b")
    client = StandInClient({("g", "demo", 0, "a"): a, ("g", "demo", 0, "b"): b,
                            ("g", "demo", 1, "b"): b})
    loaded = tidemark.kafka.load_partitions(client, "g", [("demo", 0), ("demo", 1)],
                                            keys=["a", "b", "c"])
    assert loaded == {("demo", 0): {"a": a, "b": b}, ("demo", 1): {"b": b}}
    assert [c[4] for c in client.calls] == ["a", "b", "c", "a", "b", "c"]


def test_should_read_the_same_keys_on_every_assignment_when_keys_is_a_one_pass_iterable():
    client = StandInClient()
    on_assign = tidemark.kafka.on_assign_loader(client, "g", lambda *a: None,
                                                keys=(k for k in ("a", "b")))
    on_assign(None, [TopicPartition("demo", 0)])
    on_assign(None, [TopicPartition("demo", 1)])
    assert [(c[3], c[4]) for c in client.calls] == [(0, "a"), (0, "b"), (1, "a"), (1, "b")]


def test_should_list_then_get_the_partitions_keys_under_the_prefix_when_a_prefix_is_given():
    x, y, z = state(b"x"), state(b"y"), state(b"z")
    client = StandInClient({("g", "demo", 3, "counts/x"): x, ("g", "demo", 3, "counts/y"): y,
                            ("g", "demo", 3, "other"): z, ("g", "demo", 4, "counts/x"): z})
    loaded = []
    tidemark.kafka.load_partitions(client, "g", [("demo", 3)], lambda *a: loaded.append(a),
                                   prefix="counts/", view="staged")
    assert loaded == [("demo", 3, {"counts/x": x, "counts/y": y})]
    assert client.calls[0] == ("list", "g", "demo", 3, "counts/", "staged")


def test_should_raise_from_the_callback_when_a_partitions_state_cannot_be_read():
    client = StandInClient(fail_on=("g", "demo", 0, "state"))
    on_assign = tidemark.kafka.on_assign_loader(client, "g", lambda *a: None)
    with pytest.raises(tidemark.TransportError):
        on_assign(None, [TopicPartition("demo", 0)])


def test_should_refuse_at_once_when_more_than_one_of_key_keys_and_prefix_or_no_callback_is_given():
    client = StandInClient()
    with pytest.raises(ValueError):
        tidemark.kafka.on_assign_loader(client, "g", print, key="a", keys=["b"])
    with pytest.raises(ValueError):
        tidemark.kafka.on_assign_loader(client, "g", print, keys=["b"], prefix="c")
    with pytest.raises(TypeError):
        tidemark.kafka.on_assign_loader(client, "g", print, keys="ab")
    with pytest.raises(TypeError):  # the former (client, group, key_fn, on_state) order
        tidemark.kafka.on_assign_loader(client, "g", None, print)
    assert client.calls == []


def test_should_put_each_partitions_value_and_delete_on_none_when_saving_partitions():
    client = StandInClient({("g", "demo", 2, "state"): state(b"old")})
    etags = tidemark.kafka.save_partitions(
        client, "g", {("demo", 0): b"zero", TopicPartition("demo", 1): "one", ("demo", 2): None,
                      ("demo", 3): None},
        content_type="text/plain")
    assert client.calls == [("put", "g", "demo", 0, "state", b"zero", "text/plain"),
                            ("put", "g", "demo", 1, "state", "one", "text/plain"),
                            ("delete", "g", "demo", 2, "state"),
                            ("delete", "g", "demo", 3, "state")]
    assert etags == {("demo", 0): '"state@0"', ("demo", 1): '"state@1"', ("demo", 2): None,
                     ("demo", 3): None}


def test_should_put_several_keys_per_partition_when_saving_dicts_and_refuse_them_with_a_key():
    client = StandInClient()
    etags = tidemark.kafka.save_partitions(client, "g", {("demo", 0): {"a": b"1", "b": b"2"}},
                                           key=None)
    assert etags == {("demo", 0): {"a": '"a@0"', "b": '"b@0"'}}
    assert [c[4] for c in client.calls] == ["a", "b"]
    with pytest.raises(ValueError):
        tidemark.kafka.save_partitions(client, "g", {("demo", 1): b"x", ("demo", 2): {"a": b"1"}},
                                       key="k")
    assert len(client.calls) == 2  # nothing written


def test_should_load_assigned_partitions_and_keep_the_error_when_kafka_python_listener_fails():
    pytest.importorskip("kafka")
    import kafka
    client = StandInClient({("g", "demo", 3, "state"): state(b"x")},
                           fail_on=("g", "demo", 5, "state"))
    loaded, revoked = [], []
    listener = tidemark.kafka.rebalance_listener(client, "g", lambda *a: loaded.append(a),
                                                 on_revoked=revoked.append)
    assert isinstance(listener, kafka.ConsumerRebalanceListener)
    listener.on_partitions_assigned({kafka.TopicPartition("demo", 4),
                                     kafka.TopicPartition("demo", 3)})
    assert [(t, p, s and s.value) for t, p, s in loaded] == [("demo", 3, b"x"), ("demo", 4, None)]
    assert listener.error is None
    with pytest.raises(tidemark.TransportError):
        listener.on_partitions_assigned({kafka.TopicPartition("demo", 5)})
    assert isinstance(listener.error, tidemark.TransportError)
    listener.on_partitions_revoked({kafka.TopicPartition("demo", 3)})
    assert revoked == [{kafka.TopicPartition("demo", 3)}]


# -- with real consumers through the proxy ----------------------------------------------


def values(loaded):
    """{(topic, partition): State or {key: State}} -> the same with values (bytes)."""
    def plain(s):
        if isinstance(s, dict):
            return {k: v.value for k, v in s.items()}
        return s.value if s is not None else None
    return {tp: plain(s) for tp, s in loaded.items()}


def confluent_consumer(ck, sidecar, group):
    return ck.Consumer({"bootstrap.servers": sidecar.fields["proxy"], "group.id": group,
                        "enable.auto.commit": False, "session.timeout.ms": 6000,
                        "heartbeat.interval.ms": 500})


def poll_until(poll, done, what, timeout=60):
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        poll()


def test_on_assign_loader_should_hand_a_new_confluent_consumer_the_state_its_predecessor_saved_on_revoke_when_it_joins_the_same_group(  # noqa: E501
        sidecar):
    ck = pytest.importorskip("confluent_kafka")
    group = "ck-handoff"
    client = tidemark.Client(f"http://{sidecar.http}")

    # The first member finds nothing; on revoke (close) it saves every
    # partition's state but 5's, and commits their offsets, which seals it.
    first, saved = {}, []

    def save_and_commit(consumer, partitions):
        tidemark.kafka.save_partitions(
            client, group, {tp: (f"state-{tp.partition}" if tp.partition != 5 else None)
                            for tp in partitions}, content_type="text/plain")
        consumer.commit(offsets=[ck.TopicPartition(tp.topic, tp.partition, 0)
                                 for tp in partitions], asynchronous=False)
        saved.extend(partitions)

    consumer = confluent_consumer(ck, sidecar, group)
    try:
        consumer.subscribe(["demo"], on_assign=tidemark.kafka.on_assign_loader(
            client, group, lambda topic, partition, s: first.update({(topic, partition): s})),
            on_revoke=save_and_commit)
        poll_until(lambda: consumer.poll(0.2), lambda: len(first) == 6, "the first assignment")
    finally:
        consumer.close()
    assert first == {("demo", p): None for p in range(6)}
    assert sorted(tp.partition for tp in saved) == list(range(6))
    # Staged after the last commit: not in the sealed view the next member reads.
    client.partition(group, "demo", 5).put_state("state", b"staged-only")

    loaded, assigned = {}, []
    consumer = confluent_consumer(ck, sidecar, group)
    try:
        consumer.subscribe(["demo"], on_assign=tidemark.kafka.on_assign_loader(
            client, group, lambda topic, partition, s: loaded.update({(topic, partition): s}),
            then=lambda c, partitions: assigned.extend(partitions)))
        poll_until(lambda: consumer.poll(0.2), lambda: len(loaded) == 6, "the second assignment")
        assert sorted(tp.partition for tp in assigned) == list(range(6))
        assert sorted(tp.partition for tp in consumer.assignment()) == list(range(6))
    finally:
        consumer.close()
    assert values(loaded) == {("demo", p): (f"state-{p}".encode() if p != 5 else None)
                              for p in range(6)}
    assert loaded[("demo", 0)].content_type == "text/plain"


def test_rebalance_listener_should_hand_a_new_kafka_python_consumer_the_keys_its_predecessor_saved_and_committed_when_it_joins_the_same_group(  # noqa: E501
        sidecar):
    kafka = pytest.importorskip("kafka")
    group = "kp-handoff"
    client = tidemark.Client(f"http://{sidecar.http}")

    def member(loaded):
        listener = tidemark.kafka.rebalance_listener(
            client, group, lambda topic, partition, s: loaded.update({(topic, partition): s}),
            keys=["counts", "seen"])
        consumer = kafka.KafkaConsumer(bootstrap_servers=[sidecar.fields["proxy"]],
                                       group_id=group, enable_auto_commit=False,
                                       session_timeout_ms=6000, heartbeat_interval_ms=500)
        consumer.subscribe(["demo"], listener=listener)
        try:
            poll_until(lambda: consumer.poll(timeout_ms=200), lambda: len(loaded) == 6,
                       "an assignment")
        except BaseException:
            consumer.close(autocommit=False)
            raise
        assert listener.error is None
        return consumer

    first = {}
    consumer = member(first)
    try:
        assert first == {("demo", p): {} for p in range(6)}
        tidemark.kafka.save_partitions(
            client, group, {("demo", p): {"counts": f"counts-{p}", "seen": str(p * 10)}
                            for p in range(6) if p % 2 == 0})
        tidemark.kafka.save_partitions(client, group, {("demo", 1): b"only-counts"},
                                       key="counts")
        fields = kafka.OffsetAndMetadata._fields  # kafka-python 2.1 added leader_epoch
        consumer.commit({kafka.TopicPartition("demo", p):
                         kafka.OffsetAndMetadata(0, "", *([-1] * (len(fields) - 2)))
                         for p in range(6)})
    finally:
        consumer.close(autocommit=False)

    loaded = {}
    member(loaded).close(autocommit=False)
    want = {("demo", p): {} for p in range(6)}
    want.update({("demo", p): {"counts": f"counts-{p}".encode(), "seen": str(p * 10).encode()}
                 for p in (0, 2, 4)})
    want[("demo", 1)] = {"counts": b"only-counts"}
    assert values(loaded) == want


# -- two sidecars, the remote backend on ----------------------------------------------------


REMOTE = {"remote.mode": "async", "remote.kafka.timeout": "5s", "checkpoint.interval": "24h",
          "checkpoint.max_messages": "0"}
REPLICATED = re.compile(r"checkpoint replicated.*\bid=\"?(\d+)")


def wait_until_replicated(sidecar, checkpoint_id, timeout=30):
    """Until the sidecar logs that checkpoint `checkpoint_id` (or a newer one)
    is on the remote."""
    def replicated(line):
        m = REPLICATED.search(line)
        return m is not None and int(m.group(1)) >= int(checkpoint_id)
    sidecar.log.wait_for(replicated, timeout, f"checkpoint {checkpoint_id} on the remote")


def test_on_assign_loader_should_hand_a_consumer_of_another_sidecar_the_state_saved_through_the_first_when_its_partitions_move_there(  # noqa: E501
        cluster, tmp_path):
    ck = pytest.importorskip("confluent_kafka")
    topic, group = "handover", "handover-helper"
    cluster.create_topic(topic, 3)
    a = Sidecar(tmp_path / "a", cluster.bootstrap, {**REMOTE, "job.instance_id": "pod-a"})
    try:
        b = Sidecar(tmp_path / "b", cluster.bootstrap, {**REMOTE, "job.instance_id": "pod-b"})
    except BaseException:
        a.stop()
        raise
    try:
        client_a = tidemark.Client(f"http://{a.http}")
        client_b = tidemark.Client(f"http://{b.http}")

        # A's member takes every partition, saves their state and commits.
        first = {}
        consumer = confluent_consumer(ck, a, group)
        try:
            consumer.subscribe([topic], on_assign=tidemark.kafka.on_assign_loader(
                client_a, group, lambda t, p, s: first.update({(t, p): s})))
            poll_until(lambda: consumer.poll(0.2), lambda: len(first) == 3,
                       "A's member's assignment")
            assert first == {(topic, p): None for p in range(3)}
            tidemark.kafka.save_partitions(client_a, group,
                                           {(topic, p): f"from-a-{p}" for p in range(3)})
            consumer.commit(offsets=[ck.TopicPartition(topic, p, 0) for p in range(3)],
                            asynchronous=False)
        finally:
            consumer.close()  # leaves the group
        wait_until_replicated(a, client_a.checkpoint())
        assert client_b.partition(group, topic, 0).get_state("state") is None  # not yet B's

        # B's member now gets every partition: B's sidecar loads them from the
        # remote before the member hears of the assignment.
        loaded = {}
        consumer = confluent_consumer(ck, b, group)
        try:
            consumer.subscribe([topic], on_assign=tidemark.kafka.on_assign_loader(
                client_b, group, lambda t, p, s: loaded.update({(t, p): s})))
            poll_until(lambda: consumer.poll(0.2), lambda: len(loaded) == 3,
                       "B's member's assignment")
        finally:
            consumer.close()
        assert values(loaded) == {(topic, p): f"from-a-{p}".encode() for p in range(3)}
    finally:
        a.stop()
        b.stop()
