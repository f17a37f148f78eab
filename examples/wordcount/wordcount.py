#!/usr/bin/python3
"""A stateful word count: an ordinary confluent-kafka consumer, checkpointed by Tidemark.

    wordcount.py --bootstrap 127.0.0.1:19092 --http 127.0.0.1:8770 --topic words
                 [--group wordcount] [--until '{"0": 1200, "1": 980}'] [-X prop=value ...]

Compared with a plain consumer it changes in three places only, marked TIDEMARK:
bootstrap.servers is the sidecar; after each batch it PUTs its whole state and
then commits its offsets (the commit seals that state with them); and at start
and whenever partitions are assigned it reloads the state from the sealed view,
which is also where the positions librdkafka fetches (OffsetFetch) come from.
See README.md.

--until (JSON: partition -> end offset) makes it stop once it has processed
every partition up to there; it then prints its counts as JSON on stdout.
-X sets or overrides a librdkafka consumer property. Progress goes to stderr.
"""

import argparse
import json
import logging
import sys
import time
import urllib.error
import urllib.request

from confluent_kafka import Consumer, KafkaException, TopicPartition


log = logging.getLogger("wordcount").info


class StateClient:
    """GET/PUT of one state key on the sidecar's HTTP API, retried while the sidecar is away."""

    def __init__(self, address, key):
        self.url = f"http://{address}/v1/state/{key}"

    def _call(self, method, body=None):
        while True:
            request = urllib.request.Request(self.url, data=body, method=method,
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    return response.read()
            except urllib.error.HTTPError as e:
                if e.code == 404 and method == "GET":
                    return None
                if e.code < 500:
                    raise
                log(f"{method} answered {e.code}; retrying")
            except (urllib.error.URLError, ConnectionError, TimeoutError) as e:
                log(f"{method} failed ({e}); retrying")  # sidecar restarting
            time.sleep(0.2)

    def load(self):
        """The sealed state: what was committed together with the group's offsets."""
        body = self._call("GET")
        return json.loads(body) if body is not None else {}

    def save(self, counts):
        self._call("PUT", json.dumps(counts, sort_keys=True).encode())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True, help="the sidecar's Kafka address")
    parser.add_argument("--http", required=True, help="the sidecar's HTTP address")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", default="wordcount")
    parser.add_argument("--until", help='JSON {"partition": end offset, ...}')
    parser.add_argument("--batch", type=int, default=500, help="messages per commit, at most")
    parser.add_argument("-X", action="append", default=[], metavar="PROP=VALUE",
                        help="librdkafka consumer property")
    args = parser.parse_args()
    logging.basicConfig(format="%(asctime)s %(name)s: %(message)s", level=logging.INFO)
    until = {int(p): o for p, o in json.loads(args.until).items()} if args.until else None

    state = StateClient(args.http, "wordcount/counts")
    counts = state.load()  # TIDEMARK: start from the sealed state
    positions = {}  # partition -> next offset to read

    def on_assign(consumer, partitions):
        # TIDEMARK: librdkafka resumes these partitions from their committed
        # offsets (OffsetFetch, answered from the sealed view): take the state
        # sealed with them. What was counted since the last commit is replayed.
        counts.clear()
        counts.update(state.load())
        positions.clear()
        positions.update({tp.partition: tp.offset for tp in consumer.committed(partitions)
                          if tp.offset >= 0})
        log(f"assigned {sorted(p.partition for p in partitions)}: state holds "
            f"{sum(counts.values())} words; committed offsets {json.dumps(positions)}")

    consumer = Consumer({
        "bootstrap.servers": args.bootstrap,  # TIDEMARK: the sidecar
        "group.id": args.group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
        **dict(prop.split("=", 1) for prop in args.X),
    })
    consumer.subscribe([args.topic], on_assign=on_assign)

    def commit():
        """TIDEMARK: PUT the whole state, then commit the position of every partition; the
        commit seals the two together. A failed commit is retried, state first, before
        anything else is consumed, so no batch is ever counted twice."""
        offsets = [TopicPartition(args.topic, p, o) for p, o in sorted(positions.items())]
        while True:
            state.save(counts)
            try:
                consumer.commit(offsets=offsets, asynchronous=False)
                return
            except KafkaException as e:
                log(f"commit failed ({e}); retrying with the same state and offsets")
                time.sleep(0.2)

    def finished():
        return until is not None and all(positions.get(p, 0) >= end
                                          for p, end in until.items())

    try:
        while not finished():
            messages = consumer.consume(args.batch, timeout=0.5)
            for m in messages:
                if m.error() is not None:
                    log(f"consumer error: {m.error()}")
            batch = [m for m in messages if m.error() is None]
            if not batch:
                continue
            log(f"batch of {len(batch)} messages")
            for m in batch:
                word = m.value().decode()
                counts[word] = counts.get(word, 0) + 1
                positions[m.partition()] = m.offset() + 1
            commit()
    except KeyboardInterrupt:
        log("interrupted: what was counted since the last commit will be counted again")
        return 130
    finally:
        consumer.close()
    print(json.dumps(counts, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
