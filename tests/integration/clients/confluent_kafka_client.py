#!/usr/bin/python3
"""confluent-kafka (python3-confluent-kafka) driver for the client matrix.

    confluent_kafka_client.py produce --bootstrap B --topic T --count N [--prefix P]
    confluent_kafka_client.py consume --bootstrap B --topic T --group G [--count N]

produce sends values P0..P(N-1) (key i) and exits 0 once all are acknowledged.
consume joins group G (earliest offset for a new group), prints each value on
stdout, one per line, until N values or SIGTERM/SIGINT; then commits what it
printed, leaves the group and exits 0. Assignments go to stderr as
"assigned: T [p], T [q]" / "revoked: ...". Which librdkafka it runs on is
chosen by LD_LIBRARY_PATH.
"""

import argparse
import signal
import sys

import confluent_kafka as ck

SESSION = {"session.timeout.ms": 3000, "heartbeat.interval.ms": 500}


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("produce", "consume"))
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group")
    parser.add_argument("--count", type=int)
    parser.add_argument("--prefix", default="v")
    return parser.parse_args()


def log(*words):
    print(*words, file=sys.stderr, flush=True)


def produce(args):
    failed = []

    def delivered(err, _msg):
        if err is not None:
            failed.append(err)

    producer = ck.Producer({"bootstrap.servers": args.bootstrap, "acks": "all"})
    for i in range(args.count):
        producer.produce(args.topic, key=str(i), value=f"{args.prefix}{i}", on_delivery=delivered)
        producer.poll(0)
    left = producer.flush(60)
    if left or failed:
        log(f"produce failed: {left} undelivered, errors {failed[:3]}")
        return 1
    log(f"produced {args.count}")
    return 0


def describe(partitions):
    return ", ".join(f"{p.topic} [{p.partition}]" for p in partitions)


def consume(args):
    stop = []
    for signo in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signo, lambda *_: stop.append(True))
    consumer = ck.Consumer({"bootstrap.servers": args.bootstrap, "group.id": args.group,
                            "auto.offset.reset": "earliest", "enable.auto.commit": False,
                            **SESSION})
    consumer.subscribe([args.topic],
                       on_assign=lambda _c, ps: log("assigned:", describe(ps)),
                       on_revoke=lambda _c, ps: log("revoked:", describe(ps)))
    seen = 0
    while not stop and (args.count is None or seen < args.count):
        msg = consumer.poll(0.2)
        if msg is None:
            continue
        if msg.error() is not None:
            log("error:", msg.error())
            continue
        print(msg.value().decode(), flush=True)
        seen += 1
    try:
        consumer.commit(asynchronous=False)  # the offsets of every message printed
    except ck.KafkaException as e:
        if e.args[0].code() != ck.KafkaError._NO_OFFSET:
            log("commit failed:", e)
            return 1
    consumer.close()
    log(f"consumed {seen}")
    return 0


def main():
    args = parse_args()
    log("librdkafka", ck.libversion()[0])
    return produce(args) if args.mode == "produce" else consume(args)


if __name__ == "__main__":
    sys.exit(main())
