#!/usr/bin/python3
"""A stateful word count: an ordinary kafka-python consumer, checkpointed by Tidemark.

    wordcount.py --bootstrap 127.0.0.1:19092 --http 127.0.0.1:8770 --topic words
                 [--group wordcount] [--until '{"0": 1200, "1": 980}'] [-X name=value ...]

The kafka-python twin of examples/wordcount (confluent-kafka): same state key and
layout, same output. Compared with a plain consumer it changes in three places
only, marked TIDEMARK: bootstrap_servers is the sidecar; after each batch it PUTs
its whole state and then commits its offsets (the commit seals that state with
them); and at start and whenever partitions are assigned it reloads the state
from the sealed view, which is also where the committed offsets kafka-python
resumes from (OffsetFetch) come from. See README.md.

--until (JSON: partition -> end offset) makes it stop once it has processed
every partition up to there; it then prints its counts as JSON on stdout.
-X sets or overrides a KafkaConsumer setting (session_timeout_ms=3000; numbers
are passed as ints). Progress goes to stderr.
"""

import argparse
import json
import logging
import sys
import time
import urllib.error
import urllib.request

from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata


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


def setting(text):
    name, value = text.split("=", 1)
    return name, int(value) if value.lstrip("-").isdigit() else value


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True, help="the sidecar's Kafka address")
    parser.add_argument("--http", required=True, help="the sidecar's HTTP address")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", default="wordcount")
    parser.add_argument("--until", help='JSON {"partition": end offset, ...}')
    parser.add_argument("--batch", type=int, default=500, help="messages per commit, at most")
    parser.add_argument("-X", action="append", default=[], metavar="NAME=VALUE",
                        help="KafkaConsumer setting")
    args = parser.parse_args()
    logging.basicConfig(format="%(asctime)s %(name)s: %(message)s", level=logging.INFO)
    logging.getLogger("kafka").setLevel(logging.WARNING)  # kafka-python's own chatter
    until = {int(p): o for p, o in json.loads(args.until).items()} if args.until else None

    state = StateClient(args.http, "wordcount/counts")
    counts = state.load()  # TIDEMARK: start from the sealed state
    positions = {}  # partition -> next offset to read
    rejoining = []  # non-empty from a refused commit until the next assignment

    consumer = KafkaConsumer(**{
        "bootstrap_servers": args.bootstrap.split(","),  # TIDEMARK: the sidecar
        "group_id": args.group,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "session_timeout_ms": 6000,
        "heartbeat_interval_ms": 500,
        "max_poll_records": args.batch,
        **dict(setting(x) for x in args.X),
    })

    class Reload(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked):
            pass  # every batch is committed before the next poll: nothing to save

        def on_partitions_assigned(self, assigned):
            # TIDEMARK: kafka-python resumes these partitions from their committed
            # offsets (OffsetFetch, answered from the sealed view): take the state
            # sealed with them. What was counted since the last commit is replayed.
            counts.clear()
            counts.update(state.load())
            positions.clear()
            for tp in assigned:
                offset = consumer.committed(tp)  # the same OffsetFetch kafka-python resumes from
                if offset is not None and offset >= 0:
                    positions[tp.partition] = offset
            rejoining.clear()
            log(f"assigned {sorted(tp.partition for tp in assigned)}: state holds "
                f"{sum(counts.values())} words; committed offsets "
                f"{json.dumps(dict(sorted(positions.items())))}")

    consumer.subscribe([args.topic], listener=Reload())

    def commit():
        """TIDEMARK: PUT the whole state, then commit the position of every partition; the
        commit seals the two together. kafka-python retries a commit that failed on the way
        by itself. A commit the group refuses (CommitFailedError: the sidecar restarted, or
        the group rebalanced) can only be retried after a rejoin, which the next poll()
        does: on_partitions_assigned then reloads the sealed state and offsets, so this
        batch is dropped and delivered again. Returns whether the commit was sealed."""
        offsets = {TopicPartition(args.topic, p): OffsetAndMetadata(o, "")
                   for p, o in sorted(positions.items())}
        while True:
            state.save(counts)
            try:
                consumer.commit(offsets)
                return True
            except CommitFailedError as e:
                log(f"commit refused ({e.__class__.__name__}); rejoining: the batch will be "
                    f"counted again from the sealed state")
                rejoining.append(True)
                return False
            except KafkaError as e:
                log(f"commit failed ({e!r}); retrying with the same state and offsets")
                time.sleep(0.2)

    def finished():
        return (until is not None and not rejoining
                and all(positions.get(p, 0) >= end for p, end in until.items()))

    try:
        while not finished():
            records = consumer.poll(timeout_ms=500, max_records=args.batch)
            batch = [r for partition_records in records.values() for r in partition_records]
            if not batch:
                continue
            log(f"batch of {len(batch)} messages")
            for r in batch:
                word = r.value.decode()
                counts[word] = counts.get(word, 0) + 1
                positions[r.partition] = r.offset + 1
            commit()
    except KeyboardInterrupt:
        log("interrupted: what was counted since the last commit will be counted again")
        return 130
    finally:
        consumer.close(autocommit=False)
    print(json.dumps(counts, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
