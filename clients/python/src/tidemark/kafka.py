"""Rebalance helpers: a partition's state in hand when Kafka assigns it, and
saved when Kafka takes it away.

A consumer that keeps per-partition state in the sidecar wants that state
before it processes the partition's first message after an assignment. These
helpers plug into the consumer's rebalance callback and, for every newly
assigned partition, read its partition-scoped state
(``client.partition(group, topic, partition).get_state(key, view=...)``, i.e.
``GET /v1/groups/{group}/topics/{topic}/partitions/{partition}/state/{key}``)
and hand it to your callback as ``on_state(topic, partition, state)``.

What `state` is depends on what you ask for (at most one of these):

- ``key="name"`` (default `DEFAULT_KEY`, "state"): a `tidemark.State`, or None
  when the partition has none under that key;
- ``keys=["a", "b"]``: a dict ``{key: State}`` of those keys that have state
  (``state.get("a")`` is None for one that has none);
- ``prefix="counts/"``: a dict ``{key: State}`` of every key of the partition
  starting with `prefix` (``list_state`` then ``get_state`` each; "" for all).

With ``remote.mode`` async or sync the sidecar loads the assigned partitions'
newest checkpoints (offset and partition-scoped state) from the remote before
the consumer hears of the assignment, so this works on whichever instance a
partition lands. The default view is ``sealed``: the state sealed with the
offsets the group resumes from (the proxy answers OffsetFetch from the same
seal).

Saving: `save_partitions` PUTs each partition's value(s) (staged); the
consumer's next offset commit through the proxy (or `Client.mark_offsets`)
seals them together with its offsets. Do both in the revoke callback so a
partition's state and offset travel together to its next owner.

Partitions are given as ``(topic, partition)`` pairs or as either library's
``TopicPartition``. The tidemark package itself needs no Kafka library;
`rebalance_listener` imports kafka-python when called.
"""

import collections.abc

from tidemark.errors import NotFound

DEFAULT_KEY = "state"


def _pair(tp):
    """(topic, partition) of a pair or of a TopicPartition (either library)."""
    if hasattr(tp, "topic") and hasattr(tp, "partition"):
        return tp.topic, tp.partition
    topic, partition = tp
    return topic, partition


def _what_to_read(key, keys, prefix):
    """Checks key/keys/prefix (at most one given) and returns a function
    reading it from a `PartitionState`."""
    if sum(x is not None for x in (key, keys, prefix)) > 1:
        raise ValueError("give at most one of key, keys and prefix")
    if keys is not None:
        if isinstance(keys, (str, bytes)) or not isinstance(keys, collections.abc.Iterable):
            raise TypeError("keys is a list of state key names")
        keys = list(keys)
        for k in keys:
            if not isinstance(k, str):
                raise TypeError(f"a state key is a str, not {type(k).__name__}")

        def read(scope, view):
            found = {k: scope.get_state(k, view=view) for k in keys}
            return {k: s for k, s in found.items() if s is not None}
        return read
    if prefix is not None:
        if not isinstance(prefix, str):
            raise TypeError(f"prefix is a str, not {type(prefix).__name__}")

        def read(scope, view):
            found = {i.key: scope.get_state(i.key, view=view)
                     for i in scope.list_state(prefix=prefix, view=view)}
            return {k: s for k, s in found.items() if s is not None}  # deleted meanwhile
        return read
    key = DEFAULT_KEY if key is None else key
    if not isinstance(key, str):
        raise TypeError(f"a state key is a str, not {type(key).__name__}")
    return lambda scope, view: scope.get_state(key, view=view)


def _check_callback(on_state):
    if not callable(on_state):
        raise TypeError(f"on_state is a callable(topic, partition, state), not "
                        f"{type(on_state).__name__}")


def load_partitions(client, group, partitions, on_state=None, *, key=None, keys=None,
                    prefix=None, view="sealed"):
    """Reads the partition-scoped state of each partition in `partitions` (in
    order; ``(topic, partition)`` pairs or TopicPartitions) of consumer group
    `group`, calls ``on_state(topic, partition, state)`` for each if given,
    and returns ``{(topic, partition): state}``. `state` as the module says:
    a `State` or None for `key` (default "state"), a ``{key: State}`` dict for
    `keys` or `prefix`. Errors (`TidemarkError`, `TransportError`) propagate:
    a partition whose state could not be read must not be processed as if it
    had none."""
    if on_state is not None:
        _check_callback(on_state)
    return _load(client, group, partitions, on_state, _what_to_read(key, keys, prefix), view)


def _load(client, group, partitions, on_state, read, view):
    loaded = {}
    for tp in partitions:
        topic, partition = _pair(tp)
        state = read(client.partition(group, topic, partition), view)
        loaded[(topic, partition)] = state
        if on_state is not None:
            on_state(topic, partition, state)
    return loaded


def save_partitions(client, group, values, *, key=None, content_type=None):
    """PUTs each partition's state, staged until the next offset commit seals
    it: `values` maps ``(topic, partition)`` (or a TopicPartition) to

    - bytes or str: stored under `key` (default "state");
    - None: deletes `key` (nothing to do when it has no state);
    - a dict ``{key: bytes | str | None}``: several keys at once (then no `key`).

    `content_type` applies to every value (default: the sidecar's
    application/octet-stream). Returns the ETags shaped as `values`:
    ``{(topic, partition): etag}`` (None for a deletion), or
    ``{(topic, partition): {key: etag}}`` for dict values. Commit the
    partitions' offsets afterwards (``consumer.commit(...)``) to seal them."""
    if key is not None and not isinstance(key, str):
        raise TypeError(f"a state key is a str, not {type(key).__name__}")
    if key is not None and any(isinstance(v, collections.abc.Mapping) for v in values.values()):
        raise ValueError("a dict of keys for a partition and key= both given")

    def write(scope, k, value):
        if value is None:
            try:
                scope.delete_state(k)
            except NotFound:
                pass
            return None
        return scope.put_state(k, value, content_type=content_type)

    etags = {}
    for tp, value in values.items():
        topic, partition = _pair(tp)
        scope = client.partition(group, topic, partition)
        if isinstance(value, collections.abc.Mapping):
            etags[(topic, partition)] = {k: write(scope, k, v) for k, v in value.items()}
        else:
            etags[(topic, partition)] = write(scope, DEFAULT_KEY if key is None else key, value)
    return etags


def on_assign_loader(client, group, on_state, *, key=None, keys=None, prefix=None,
                     view="sealed", then=None):
    """An ``on_assign(consumer, partitions)`` callback for confluent-kafka:

        consumer.subscribe(["orders"], on_assign=tidemark.kafka.on_assign_loader(
            client, "orders-app", restore))

    On each assignment it reads every assigned partition's partition-scoped
    state (`key`, `keys` or `prefix`, see `load_partitions`) and calls
    ``on_state(topic, partition, state)``; then ``then(consumer, partitions)``
    if given (your own on_assign). confluent-kafka assigns the partitions
    itself after the callback unless `then` did. With the cooperative-sticky
    assignor `partitions` holds only the newly added ones, which are the ones
    to load. An exception (e.g. the sidecar unreachable) is raised from the
    consumer's poll()."""
    read = _what_to_read(key, keys, prefix)  # a bad combination is refused now
    _check_callback(on_state)

    def on_assign(consumer, partitions):
        _load(client, group, partitions, on_state, read, view)
        if then is not None:
            then(consumer, partitions)

    return on_assign


def rebalance_listener(client, group, on_state, *, key=None, keys=None, prefix=None,
                       view="sealed", on_revoked=None):
    """A kafka-python ``ConsumerRebalanceListener`` that reads each assigned
    partition's partition-scoped state:

        listener = tidemark.kafka.rebalance_listener(client, "orders-app", restore)
        consumer.subscribe(["orders"], listener=listener)

    ``on_partitions_assigned`` calls ``on_state(topic, partition, state)`` for
    every assigned partition, in (topic, partition) order (`key`, `keys` or
    `prefix`, see `load_partitions`); ``on_partitions_revoked`` calls
    ``on_revoked(partitions)`` if given (save state there: `save_partitions`,
    then commit). kafka-python logs and swallows exceptions raised by a
    listener, so the listener also keeps the last one in its `error`
    attribute (None after a successful load): check it after poll()."""
    from kafka import ConsumerRebalanceListener  # kafka-python, only when used

    read = _what_to_read(key, keys, prefix)
    _check_callback(on_state)

    class StateLoadingListener(ConsumerRebalanceListener):
        def __init__(self):
            self.error = None

        def on_partitions_revoked(self, revoked):
            if on_revoked is not None:
                on_revoked(revoked)

        def on_partitions_assigned(self, assigned):
            try:
                _load(client, group, sorted(_pair(tp) for tp in assigned), on_state, read, view)
            except Exception as e:
                self.error = e
                raise
            self.error = None

    return StateLoadingListener()
