"""A soak: the sidecar under full-rate traffic with periodic checkpoints.

For TIDEMARK_SOAK_SECONDS (the long suite 600, the ctest sample 40) three
loads run at once through one sidecar in front of a 3-broker cluster:
- librdkafka producers (tidemark-rdkafka-perf) write 100-byte messages to
  topic `sink` as fast as the proxy takes them, one run after another;
- librdkafka consumers read the pre-filled topic `bulk` from the beginning as
  fast as the proxy serves it, one run after another;
- counting_app.py (confluent-kafka, a group member) reads topic `demo`, fed
  through the proxy at about 1,000 messages a second, PUTs each partition's
  count and commits after every batch, while the sidecar checkpoints every
  second and after every 2,000 processed messages, and uploads each
  checkpoint to the remote topic.
The sidecar's resident memory and open descriptors are sampled throughout.
"""

import json
import os
import threading
import time

from conftest import (LONG, App, call, checkpoint_detail, metric_value, partition_state_problems,
                      wait_ready, wait_until)
from harness.tidemark import EmbeddedKafka, committed_offsets, proc_status, run_perf, sanitizers

SECONDS = int(os.environ.get("TIDEMARK_SOAK_SECONDS", "600" if LONG else "40"))
GROUP = "soak"
BULK_MESSAGES = 200_000  # 20 MB over 24 partitions: below the mock's ~5 MB a partition
MIB = 1024 * 1024
# Allowed growth of anonymous resident memory after the warm-up, which fills
# the retained checkpoints' list, SQLite's page cache and librdkafka's
# buffers. The live heap stays flat after it (heaptrack), but the sidecar
# keeps freed heap for reuse (M_TRIM_THRESHOLD, sidecar/cli/run_sidecar.cc),
# so the resident set keeps the high-water mark of bursts: up to ~8 MiB of
# Kafka data in flight in the proxy's buffers. A 10-minute run stepped it up
# 1.5 MiB once. A leak of 4 KiB per checkpoint (600 in 10
# minutes) or of a few bytes per proxied request exceeds this.
ANON_SLACK = 4 * MIB


def proc_sample(pid):
    """The resident set (and its anonymous part: the heap, stacks and buffers;
    the rest is shared-library code paged in as new paths run) and open fds."""
    s = proc_status(pid)
    return {"t": time.monotonic(), "rss": s["VmRSS"] * 1024, "anon": s["RssAnon"] * 1024,
            "fds": s["fds"]}


def perf(*args):
    """Runs tidemark-rdkafka-perf; (exit code, stderr tail)."""
    out = run_perf(*args)
    return out.returncode, out.stderr[-2000:]


class Loop(threading.Thread):
    """Runs `step` until stopped; keeps the failures it returns."""

    def __init__(self, step):
        super().__init__(daemon=True)
        self.step, self.halt, self.runs, self.failures = step, threading.Event(), 0, []

    def run(self):
        while not self.halt.is_set():
            code, err = self.step()
            self.runs += 1
            if code != 0:
                self.failures.append(err)


def feed(bootstrap, halt, sent):
    """About 1,000 messages a second to topic demo through the proxy."""
    import confluent_kafka as ck
    p = ck.Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    while not halt.is_set():
        for _ in range(50):
            partition = sent["n"] % 6
            p.produce("demo", value=b"x", partition=partition)
            sent[partition] = sent.get(partition, 0) + 1
            sent["n"] += 1
        p.poll(0)
        time.sleep(0.05)
    sent["unflushed"] = p.flush(60)


def quiet_fds(pid):
    """Open descriptors once the load generators are gone: the least over 3 s
    (librdkafka clients still connecting or closing come and go)."""
    time.sleep(3)
    least = proc_sample(pid)["fds"]
    for _ in range(6):
        time.sleep(0.5)
        least = min(least, proc_sample(pid)["fds"])
    return least


def test_should_keep_memory_and_descriptors_flat_when_soaked_at_full_rate(nodes):
    """The load runs in two rounds: the warm-up (a quarter of the time, at
    least 10 s) and the rest; the application and its feeder run throughout.
    Fails on: a producer or consumer run that fails; the application failing
    or stopping; a checkpoint that fails, or none for 10 samples; an error in
    the sidecar's log; anonymous resident memory (the heap, stacks, buffers;
    not shared-library code paged in as new paths run) more than ANON_SLACK
    above its warm-up high; more open descriptors after the second round than
    after the warm-up, once the load generators are gone; proxy connections
    left once every client is gone; or a final checkpoint whose state and
    offsets disagree."""
    cluster = EmbeddedKafka("debian", 3, ("demo:6", "bulk:24", "sink:24"), checkpoint_topic=True)
    node = nodes(cluster, {"checkpoint.interval": "1s", "checkpoint.max_messages": "2000",
                           "checkpoint.retained": "5", "remote.mode": "async",
                           "log.level": "info"})
    try:
        node.start()
        pid = node.sidecar.proc.pid
        assert perf("produce", "--bootstrap", cluster.bootstrap, "--topic", "bulk",
                    "--count", BULK_MESSAGES, "--size", 100)[0] == 0
        wait_ready(node.http)
        idle = proc_sample(pid)
        halt, sent = threading.Event(), {"n": 0}
        feeder = threading.Thread(target=feed, args=(node.proxy, halt, sent), daemon=True)
        feeder.start()
        app = App(node, GROUP, batch=200)

        def checkpoints(outcome):
            return metric_value(node.http, "tidemark_checkpoints_total", outcome=outcome)

        samples, completed, rounds = [], [checkpoints("completed")], []
        interval = max(1.0, SECONDS / 150)
        warm_up = max(SECONDS / 4, 10)
        start = time.monotonic()
        for length in (warm_up, SECONDS - warm_up):
            producers = Loop(lambda: perf("produce", "--bootstrap", node.proxy, "--topic", "sink",
                                          "--count", 100_000, "--size", 100))
            consumers = Loop(lambda: perf("consume", "--bootstrap", node.proxy, "--topic",
                                          "bulk", "--count", BULK_MESSAGES))
            producers.start()
            consumers.start()
            began = time.monotonic()
            while time.monotonic() - began < length:
                time.sleep(interval)
                samples.append(proc_sample(pid))
                assert app.proc.poll() is None, f"the application exited: {app.err.lines[-20:]}"
                completed.append(checkpoints("completed"))
            for t in (producers, consumers):
                t.halt.set()
                t.join(300)
            rounds.append({"producers": producers, "consumers": consumers,
                           "fds": quiet_fds(pid), "end": time.monotonic() - start})
        halt.set()
        feeder.join(120)
        assert sent.get("unflushed") == 0, "the feeder could not deliver through the proxy"

        # Drain: the application commits everything fed, then a checkpoint on
        # request must hold state and offsets that agree.
        want = {p: sent.get(p, 0) for p in range(6)}
        wait_until(lambda: committed_offsets(node.proxy, GROUP, "demo", list(range(6))) == want,
                   120, f"the application to commit {want}")
        status, raw = call(node.http, "POST", "/v1/checkpoints")
        assert status == 201, raw
        detail = checkpoint_detail(node.http, json.loads(raw)["id"])
        assert partition_state_problems(detail, GROUP) == []
        app.kill()

        runs = {kind: sum(r[kind].runs for r in rounds) for kind in ("producers", "consumers")}
        report = (f"{SECONDS} s: {runs['producers']} producer runs, {runs['consumers']} consumer "
                  f"runs, {sent['n']} messages fed, {completed[-1] - completed[0]:.0f} "
                  f"checkpoints; RSS {idle['rss'] / MIB:.1f} MiB idle, "
                  f"max {max(s['rss'] for s in samples) / MIB:.1f} MiB (anonymous "
                  f"{idle['anon'] / MIB:.1f} -> max {max(s['anon'] for s in samples) / MIB:.1f}"
                  f" MiB); fds {idle['fds']} idle, {rounds[0]['fds']} after the warm-up, "
                  f"{rounds[1]['fds']} at the end")
        print(report)
        print("anonymous MiB:", " ".join(f"{s['anon'] / MIB:.1f}" for s in samples))
        for r in rounds:
            assert not r["producers"].failures, r["producers"].failures[:3]
            assert not r["consumers"].failures, r["consumers"].failures[:3]
            assert r["producers"].runs >= 1 and r["consumers"].runs >= 1, report
        assert checkpoints("failed") == 0
        errors = [line for line in node.sidecar.log.lines if "level=error" in line]
        assert not errors, errors[:5]
        # Checkpoints kept coming: no stretch of 10 samples without one.
        window = 10
        stalls = [i for i in range(len(completed) - window)
                  if completed[i + window] == completed[i]]
        assert not stalls, f"no checkpoint for {window} samples from sample {stalls[0]}"

        # Sanitizers' shadow memory and ASan's quarantine (freed memory held
        # back, 256 MiB) grow with the allocations: memory is judged in the
        # plain build only.
        high = max(s["anon"] for s in samples if s["t"] - start <= rounds[0]["end"])
        plain = not sanitizers()
        grown = [s for s in samples if plain and s["t"] - start > rounds[0]["end"]
                 and s["anon"] > high + ANON_SLACK]
        assert not grown, (f"anonymous memory grew from {high / MIB:.1f} MiB to "
                           f"{max(s['anon'] for s in grown) / MIB:.1f} MiB after the warm-up")
        assert rounds[1]["fds"] <= rounds[0]["fds"], report
        wait_until(lambda: metric_value(node.http, "tidemark_proxy_connections") == 0, 30,
                   "no proxy connections once every client is gone")
    finally:
        cluster.stop()
