"""The rebalance helpers (tidemark.kafka): alone with a stand-in client, then
with real consumers (confluent-kafka, kafka-python) joining a group through
the sidecar's proxy on the embedded cluster."""

import collections
import time

import pytest

import tidemark
import tidemark.kafka

TopicPartition = collections.namedtuple("TopicPartition", "topic partition")


class StandInClient:
    """Answers get_state from a dict; records the keys and views asked for."""

    def __init__(self, states, fail_on=None):
        self.states, self.asked, self.fail_on = states, [], fail_on

    def get_state(self, key, view="sealed"):
        self.asked.append((key, view))
        if key == self.fail_on:
            raise tidemark.TransportError("sidecar unreachable")
        return self.states.get(key)


def test_should_read_group_topic_partition_keys_in_the_sealed_view_when_no_key_fn_is_given():
    state = tidemark.State(b"s", "application/octet-stream", '"e"')
    client = StandInClient({"g/demo/1": state})
    loaded = []
    on_assign = tidemark.kafka.on_assign_loader(client, "g", None,
                                                lambda *a: loaded.append(a))
    on_assign(object(), [TopicPartition("demo", 1), TopicPartition("demo", 2)])
    assert client.asked == [("g/demo/1", "sealed"), ("g/demo/2", "sealed")]
    assert loaded == [("demo", 1, state), ("demo", 2, None)]


def test_should_use_key_fn_and_view_and_then_call_the_chained_on_assign_when_given():
    client = StandInClient({})
    chained = []
    on_assign = tidemark.kafka.on_assign_loader(
        client, "g", lambda t, p: f"mine/{t}-{p}", lambda *a: None, view="staged",
        then=lambda consumer, partitions: chained.append((consumer, partitions)))
    partitions = [TopicPartition("demo", 0)]
    on_assign("consumer", partitions)
    assert client.asked == [("mine/demo-0", "staged")]
    assert chained == [("consumer", partitions)]


def test_should_raise_from_the_callback_when_a_partitions_state_cannot_be_read():
    client = StandInClient({}, fail_on="g/demo/0")
    on_assign = tidemark.kafka.on_assign_loader(client, "g", None, lambda *a: None)
    with pytest.raises(tidemark.TransportError):
        on_assign(None, [TopicPartition("demo", 0)])


def test_should_load_assigned_partitions_and_keep_the_error_when_kafka_python_listener_fails():
    pytest.importorskip("kafka")
    import kafka
    client = StandInClient({"g/demo/3": tidemark.State(b"x", "t", '"e"')}, fail_on="g/demo/5")
    loaded, revoked = [], []
    listener = tidemark.kafka.rebalance_listener(client, "g", None, lambda *a: loaded.append(a),
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


def seed_partition_state(client, group):
    """Sealed state for partitions 0, 2 and 4 of demo; partition 1 only staged."""
    for p in (0, 2, 4):
        client.put_state(f"{group}/demo/{p}", f"state-{p}".encode())
    client.mark_offsets([{"group": group, "topic": "demo", "partition": 0, "offset": 0}])
    client.put_state(f"{group}/demo/1", b"staged-only")
    return {("demo", p): (f"state-{p}".encode() if p in (0, 2, 4) else None) for p in range(6)}


def test_on_assign_loader_should_hand_each_partitions_sealed_state_to_the_callback_when_a_confluent_consumer_joins_through_the_proxy(  # noqa: E501
        sidecar):
    ck = pytest.importorskip("confluent_kafka")
    group = "ck-helper"
    client = tidemark.Client(f"http://{sidecar.http}")
    expected = seed_partition_state(client, group)
    loaded, assigned = {}, []
    consumer = ck.Consumer({"bootstrap.servers": sidecar.fields["proxy"], "group.id": group,
                            "enable.auto.commit": False, "session.timeout.ms": 6000,
                            "heartbeat.interval.ms": 500})
    try:
        consumer.subscribe(["demo"], on_assign=tidemark.kafka.on_assign_loader(
            client, group, None,
            lambda topic, partition, state: loaded.update(
                {(topic, partition): state.value if state else None}),
            then=lambda c, partitions: assigned.extend(partitions)))
        deadline = time.monotonic() + 60
        while len(loaded) < 6 and time.monotonic() < deadline:
            consumer.poll(0.2)
        assert loaded == expected
        assert sorted(tp.partition for tp in assigned) == list(range(6))
        assert sorted(tp.partition for tp in consumer.assignment()) == list(range(6))
    finally:
        consumer.close()


def test_rebalance_listener_should_hand_each_partitions_sealed_state_to_the_callback_when_a_kafka_python_consumer_joins_through_the_proxy(  # noqa: E501
        sidecar):
    kafka = pytest.importorskip("kafka")
    group = "kp-helper"
    client = tidemark.Client(f"http://{sidecar.http}")
    expected = seed_partition_state(client, group)
    loaded = {}
    listener = tidemark.kafka.rebalance_listener(
        client, group, None,
        lambda topic, partition, state: loaded.update(
            {(topic, partition): state.value if state else None}))
    consumer = kafka.KafkaConsumer(bootstrap_servers=[sidecar.fields["proxy"]], group_id=group,
                                   enable_auto_commit=False, session_timeout_ms=6000,
                                   heartbeat_interval_ms=500)
    try:
        consumer.subscribe(["demo"], listener=listener)
        deadline = time.monotonic() + 60
        while len(loaded) < 6 and time.monotonic() < deadline:
            consumer.poll(timeout_ms=200)
        assert listener.error is None
        assert loaded == expected
    finally:
        consumer.close(autocommit=False)
