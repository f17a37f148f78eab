"""Rebalance helpers: load each assigned partition's state when Kafka assigns it.

A consumer that keeps per-partition state in the sidecar wants that state in
hand before it processes the partition's first message after an assignment.
These helpers plug into the consumer's rebalance callback and, for every
newly assigned partition, fetch its state with `Client.get_state` and hand it
to your callback as ``on_state(topic, partition, state)`` (`state`: a
`tidemark.State`, or None when the partition has none yet).

Keys: instance-scoped, for now. The sidecar has no partition-scoped state
routes yet (``/v1/groups/{g}/topics/{t}/partitions/{p}/state/{key}`` does not
exist: do not call it). So a partition's state lives under an ordinary state
key (``PUT/GET /v1/state/{key}``) that ``key_fn(topic, partition)`` names; by
default ``"{group}/{topic}/{partition}"``. Write it back under the same key
(`Client.put_state` or `Client.commit`). A group name with characters outside
the key alphabet (A-Z a-z 0-9 . _ ~ : @ = + - /) needs a `key_fn` of your own.

View: the sealed view by default, which is the one consistent with the group's
committed offsets the consumer resumes from (the proxy answers OffsetFetch
from the same seal). The tidemark package itself needs no Kafka library; each
helper uses the one its consumer is from.
"""

def default_key_fn(group):
    """The default key of a partition's state: "{group}/{topic}/{partition}"."""
    return lambda topic, partition: f"{group}/{topic}/{partition}"


def load_partitions(client, group, partitions, on_state, key_fn=None, view="sealed"):
    """Fetches the state of each (topic, partition) in `partitions`, in order,
    and calls ``on_state(topic, partition, state)`` for each. Errors
    (`TidemarkError`, `TransportError`) propagate: a partition whose state
    could not be read must not be processed as if it had none."""
    key_fn = key_fn or default_key_fn(group)
    for topic, partition in partitions:
        state = client.get_state(key_fn(topic, partition), view=view)
        on_state(topic, partition, state)


def on_assign_loader(client, group, key_fn, on_state, *, view="sealed", then=None):
    """An ``on_assign(consumer, partitions)`` callback for confluent-kafka:

        consumer.subscribe(["orders"], on_assign=tidemark.kafka.on_assign_loader(
            client, "orders-app", None, restore))

    On each assignment it loads every assigned partition's state (see the
    module's note on keys: instance-scoped keys from `key_fn`, default
    "{group}/{topic}/{partition}", as partition-scoped routes do not exist yet)
    and calls ``on_state(topic, partition, state)``; then `then(consumer,
    partitions)` if given (your own on_assign). confluent-kafka assigns the
    partitions itself after the callback unless `then` did. With the
    cooperative-sticky assignor `partitions` holds only the newly added ones,
    which are the ones to load. An exception (e.g. the sidecar unreachable)
    is raised from the consumer's poll()."""

    def on_assign(consumer, partitions):
        load_partitions(client, group, [(tp.topic, tp.partition) for tp in partitions], on_state,
                        key_fn, view)
        if then is not None:
            then(consumer, partitions)

    return on_assign


def rebalance_listener(client, group, key_fn, on_state, *, view="sealed", on_revoked=None):
    """A kafka-python ``ConsumerRebalanceListener`` that loads each assigned
    partition's state:

        listener = tidemark.kafka.rebalance_listener(client, "orders-app", None, restore)
        consumer.subscribe(["orders"], listener=listener)

    ``on_partitions_assigned`` calls ``on_state(topic, partition, state)`` for
    every assigned partition (instance-scoped keys from `key_fn`, default
    "{group}/{topic}/{partition}": partition-scoped routes do not exist yet);
    ``on_partitions_revoked`` calls `on_revoked(partitions)` if given (save
    state there). kafka-python logs and swallows exceptions raised by a
    listener, so the listener also keeps the last one in its `error`
    attribute (None after a successful load): check it after poll()."""
    from kafka import ConsumerRebalanceListener  # kafka-python, only when used

    class StateLoadingListener(ConsumerRebalanceListener):
        def __init__(self):
            self.error = None

        def on_partitions_revoked(self, revoked):
            if on_revoked is not None:
                on_revoked(revoked)

        def on_partitions_assigned(self, assigned):
            try:
                load_partitions(client, group,
                                sorted((tp.topic, tp.partition) for tp in assigned), on_state,
                                key_fn, view)
            except Exception as e:
                self.error = e
                raise
            self.error = None

    return StateLoadingListener()
