#!/usr/bin/python3
"""A write-then-commit consumer for the reliability suite: it counts the
messages of each partition it holds and keeps, per partition, the
partition-scoped state key `count` = {"count": messages counted, "next": next
offset to read}. Every message of the test topics is counted once from offset
0, so in any state that agrees with its offsets count == next == the
partition's committed offset.

    counting_app.py --client confluent|kafka-python --bootstrap HOST:PORT
                    --http HOST:PORT --group G --topic T --expect N
                    [--crash-after-batches K --crash-phase PHASE]

After each batch it PUTs the counts of the partitions the batch touched, one
PUT per partition, then commits their offsets through the proxy. With
--crash-after-batches K it kills itself with SIGKILL in batch K (1-based) at
PHASE: `before-put` (nothing of the batch written), `mid-put` (after the
first partition's PUT, before the others), `after-put` (every PUT done, no
commit) or `after-commit`. It exits 0 once the partitions it holds add up to
--expect messages (0: never). One JSON line per event on stdout:
{"event": "assigned", "partitions": {...}} with the counts it loaded,
{"event": "committed", "offsets": {...}}, {"event": "commit_refused", "error": ...}
(the group had moved on without it: it carries on and rejoins),
{"event": "done", "counts": {...}}.
"""

import argparse
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request


def emit(**event):
    print(json.dumps(event), flush=True)


class State:
    def __init__(self, http, group, topic):
        self.base = f"http://{http}/v1/groups/{group}/topics/{topic}/partitions"

    def _call(self, method, url, body=None):
        for attempt in range(100):  # the sidecar may be restarting: retry
            req = urllib.request.Request(url, data=body, method=method,
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=30) as r:
                    return r.status, r.read()
            except urllib.error.HTTPError as e:
                return e.code, e.read()
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        raise RuntimeError(f"sidecar unreachable: {method} {url}")

    def load(self, partition):
        status, raw = self._call("GET", f"{self.base}/{partition}/state/count")
        if status == 404:
            return {"count": 0, "next": 0}
        if status != 200:
            raise RuntimeError(f"GET state of {partition}: {status} {raw!r}")
        return json.loads(raw)

    def save(self, partition, value):
        status, raw = self._call("PUT", f"{self.base}/{partition}/state/count",
                                 json.dumps(value).encode())
        if status != 204:
            raise RuntimeError(f"PUT state of {partition}: {status} {raw!r}")


def crash():
    os.kill(os.getpid(), signal.SIGKILL)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--client", choices=("confluent", "kafka-python"), default="confluent")
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--http", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--expect", type=int, default=0)
    ap.add_argument("--crash-after-batches", type=int, default=0)
    ap.add_argument("--crash-phase", default="after-put",
                    choices=("before-put", "mid-put", "after-put", "after-commit"))
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--session-timeout-ms", type=int, default=3000)
    args = ap.parse_args()

    state = State(args.http, args.group, args.topic)
    held = {}  # partition -> {"count", "next"}
    batches = 0

    def assigned(partitions):
        loaded = {}
        for p in partitions:
            held[p] = state.load(p)
            loaded[str(p)] = held[p]
        emit(event="assigned", partitions=loaded)

    def revoked(partitions):
        for p in partitions:
            held.pop(p, None)

    def process(records, commit):
        """records: [(partition, offset)]"""
        nonlocal batches
        touched = {}
        for p, offset in records:
            if p not in held:
                continue  # revoked meanwhile
            held[p] = {"count": held[p]["count"] + 1, "next": offset + 1}
            touched[p] = held[p]
        if not touched:
            return
        batches += 1
        crashing = args.crash_after_batches and batches == args.crash_after_batches
        if crashing and args.crash_phase == "before-put":
            crash()
        for i, p in enumerate(sorted(touched)):
            state.save(p, touched[p])
            if crashing and args.crash_phase == "mid-put" and i == 0 and len(touched) > 1:
                crash()
        if crashing and args.crash_phase in ("after-put", "mid-put"):
            crash()
        try:
            commit({p: v["next"] for p, v in touched.items()})
        except commit_refused as e:
            # The group moved on without this member (a partition, a long
            # pause): as any consumer must, carry on; the next poll rejoins
            # and reloads the partitions' sealed state, which the refused
            # commit never sealed.
            emit(event="commit_refused", error=str(e).splitlines()[0])
            return
        emit(event="committed", offsets={str(p): v["next"] for p, v in sorted(touched.items())})
        if crashing:
            crash()

    def done():
        return args.expect and sum(v["count"] for v in held.values()) >= args.expect

    if args.client == "confluent":
        from confluent_kafka import Consumer, KafkaException, TopicPartition
        commit_refused = KafkaException
        consumer = Consumer({"bootstrap.servers": args.bootstrap, "group.id": args.group,
                             "enable.auto.commit": False, "auto.offset.reset": "earliest",
                             "session.timeout.ms": args.session_timeout_ms,
                             "heartbeat.interval.ms": 500})
        consumer.subscribe([args.topic],
                           on_assign=lambda c, ps: assigned([tp.partition for tp in ps]),
                           on_revoke=lambda c, ps: revoked([tp.partition for tp in ps]))

        def commit(offsets):
            consumer.commit(offsets=[TopicPartition(args.topic, p, o) for p, o in offsets.items()],
                            asynchronous=False)

        while not done():
            msgs = consumer.consume(num_messages=args.batch, timeout=0.5)
            process([(m.partition(), m.offset()) for m in msgs if m.error() is None], commit)
    else:
        from kafka import KafkaConsumer, ConsumerRebalanceListener, TopicPartition
        from kafka.errors import CommitFailedError as commit_refused
        from kafka.structs import OffsetAndMetadata

        class Listener(ConsumerRebalanceListener):
            def on_partitions_revoked(self, revoked_tps):
                revoked([tp.partition for tp in revoked_tps])

            def on_partitions_assigned(self, assigned_tps):
                assigned([tp.partition for tp in assigned_tps])

        consumer = KafkaConsumer(bootstrap_servers=args.bootstrap, group_id=args.group,
                                 enable_auto_commit=False, auto_offset_reset="earliest",
                                 session_timeout_ms=args.session_timeout_ms,
                                 heartbeat_interval_ms=500,
                                 # kafka-python waits 305 s by default for an answer on a
                                 # connection whose packets are dropped (the partition test)
                                 request_timeout_ms=max(20000, args.session_timeout_ms + 5000),
                                 api_version_auto_timeout_ms=10000)
        consumer.subscribe([args.topic], listener=Listener())

        def commit(offsets):
            consumer.commit({TopicPartition(args.topic, p): OffsetAndMetadata(o, "")
                             for p, o in offsets.items()})

        while not done():
            polled = consumer.poll(timeout_ms=500, max_records=args.batch)
            process([(tp.partition, r.offset) for tp, rs in polled.items() for r in rs], commit)
    emit(event="done", counts={str(p): v for p, v in sorted(held.items())})
    consumer.close()
    sys.exit(0)


if __name__ == "__main__":
    main()
