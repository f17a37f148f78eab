#!/usr/bin/python3
"""kafka-python (python3-kafka) driver for the client matrix; pure Python.

    kafka_python_client.py produce --bootstrap B --topic T --count N [--prefix P]
    kafka_python_client.py consume --bootstrap B --topic T --group G [--count N]

Same contract as confluent_kafka_client.py: values on stdout one per line,
assignments on stderr ("assigned: T [p], ..."), commit of what was printed
before leaving the group, exit 0.
"""

import argparse
import signal
import sys
import time

from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer
from kafka.coordinator.assignors.range import RangePartitionAssignor
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata


class PatientRangeAssignor(RangePartitionAssignor):
    """The range assignor, run by the group leader 0.3 s late. librdkafka's mock
    coordinator completes a rebalance as soon as the leader's SyncGroup arrives and
    answers a follower's SyncGroup that comes after it with INVALID_REQUEST (a real
    broker waits for it); kafka-python's leader otherwise wins that race every time."""

    @classmethod
    def assign(cls, cluster, members):
        time.sleep(0.3)
        return super().assign(cluster, members)


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
    producer = KafkaProducer(bootstrap_servers=args.bootstrap.split(","), acks="all")
    futures = [producer.send(args.topic, key=str(i).encode(), value=f"{args.prefix}{i}".encode())
               for i in range(args.count)]
    for f in futures:
        f.get(timeout=60)  # raises on a failed delivery
    producer.close()
    log(f"produced {args.count}")
    return 0


def describe(partitions):
    return ", ".join(f"{p.topic} [{p.partition}]" for p in sorted(partitions))


class Listener(ConsumerRebalanceListener):
    def __init__(self, processed):
        self.processed = processed

    def on_partitions_revoked(self, revoked):
        log("revoked:", describe(revoked))
        for tp in revoked:
            self.processed.pop(tp, None)  # no longer ours to commit

    def on_partitions_assigned(self, assigned):
        log("assigned:", describe(assigned))


def consume(args):
    stop = []
    for signo in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signo, lambda *_: stop.append(True))
    consumer = KafkaConsumer(bootstrap_servers=args.bootstrap.split(","), group_id=args.group,
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             session_timeout_ms=3000, heartbeat_interval_ms=500,
                             partition_assignment_strategy=[PatientRangeAssignor])
    processed = {}  # TopicPartition -> next offset to commit
    consumer.subscribe([args.topic], listener=Listener(processed))
    seen = 0
    while not stop and (args.count is None or seen < args.count):
        try:
            batch = consumer.poll(timeout_ms=200)
        except KafkaError as e:  # e.g. a failed rebalance (see above): the next poll rejoins
            log("error:", repr(e))
            continue
        for tp, records in batch.items():
            for r in records:
                if args.count is not None and seen >= args.count:
                    break
                print(r.value.decode(), flush=True)
                processed[tp] = r.offset + 1
                seen += 1
    if processed:
        consumer.commit({tp: OffsetAndMetadata(o, "") for tp, o in processed.items()})
    consumer.close(autocommit=False)
    log(f"consumed {seen}")
    return 0


def main():
    args = parse_args()
    return produce(args) if args.mode == "produce" else consume(args)


if __name__ == "__main__":
    sys.exit(main())
