#!/usr/bin/python3
"""A legacy confluent-kafka consumer that counts words per partition and keeps
each partition's counts as partition-scoped state in its sidecar (the state
follows the partition to whichever instance the group assigns it next).

    partition_counter.py --bootstrap HOST:PORT --http HOST:PORT --group G --topic T
                         [--tag NAME] [-X prop=value ...]

On assignment it GETs each partition's counts (sealed view); after each batch
it PUTs the counts of the partitions it touched, then commits their offsets
(the commit seals that state with them); on revocation it does the same
first. It prints one JSON line per event on stdout:
{"event": "assigned", "partitions": [...]} and
{"event": "committed", "offsets": {"<partition>": next_offset}}, or
{"event": "commit_refused", "error": ...} when the group moved on without it.
"""

import argparse
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "clients" / "python" / "src"))

from confluent_kafka import Consumer, KafkaException, TopicPartition  # noqa: E402

import tidemark  # noqa: E402


def emit(**event):
    print(json.dumps(event), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--http", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--tag", default="app")
    ap.add_argument("-X", action="append", default=[])
    args = ap.parse_args()

    client = tidemark.Client(f"http://{args.http}")
    counts = {}  # partition -> {word: n}
    next_offset = {}  # partition -> offset after the last processed message
    touched = set()

    def scope(partition):
        return client.partition(args.group, args.topic, partition)

    def save(consumer, partitions):
        if not partitions:
            return
        for p in sorted(partitions):
            scope(p).put_state("counts", json.dumps(counts[p], sort_keys=True),
                               content_type="application/json")
        try:
            consumer.commit(offsets=[TopicPartition(args.topic, p, next_offset[p])
                                     for p in sorted(partitions)], asynchronous=False)
        except KafkaException as e:
            # The group moved on without this member (expired while slow):
            # like any consumer, carry on. The refused commit sealed nothing,
            # and whoever gets the partitions resumes from the sealed state.
            emit(event="commit_refused", error=str(e))
            touched.difference_update(partitions)
            return
        emit(event="committed", offsets={str(p): next_offset[p] for p in sorted(partitions)})
        touched.difference_update(partitions)

    def on_assign(consumer, partitions):
        for tp in partitions:
            state = scope(tp.partition).get_state("counts")
            counts[tp.partition] = json.loads(state.value) if state is not None else {}
        emit(event="assigned", partitions=sorted(tp.partition for tp in partitions))

    def on_revoke(consumer, partitions):
        save(consumer, {tp.partition for tp in partitions} & touched)
        for tp in partitions:
            counts.pop(tp.partition, None)
            next_offset.pop(tp.partition, None)

    conf = {"bootstrap.servers": args.bootstrap, "group.id": args.group,
            "client.id": args.tag, "enable.auto.commit": False,
            "auto.offset.reset": "earliest", "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 500}
    for x in args.X:
        k, v = x.split("=", 1)
        conf[k] = v
    consumer = Consumer(conf)
    consumer.subscribe([args.topic], on_assign=on_assign, on_revoke=on_revoke)
    try:
        while True:
            batch = consumer.consume(num_messages=100, timeout=0.5)
            for m in batch:
                if m.error():
                    continue
                p = m.partition()
                if p not in counts:
                    continue  # revoked meanwhile
                word = m.value().decode()
                counts[p][word] = counts[p].get(word, 0) + 1
                next_offset[p] = m.offset() + 1
                touched.add(p)
            save(consumer, set(touched))
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()  # revokes (saving), then leaves the group


if __name__ == "__main__":
    main()
