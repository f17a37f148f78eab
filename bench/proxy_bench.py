#!/usr/bin/python3
"""Proxy benchmark: the same workloads directly against the cluster and through
the sidecar, in the same run on the same machine, reported as ratios.

    bench/proxy_bench.py                 # full sizes, rewrites its section of docs/benchmarks.md
    bench/proxy_bench.py --smoke         # tiny sizes (< 60 s), writes build/bench/
    bench/proxy_bench.py --plot          # also installs python3-matplotlib if missing

Starts build/tidemark-embedded-kafka (librdkafka's mock cluster) and one
`tidemark serve`, then for each repetition runs every workload once directly
and once through the sidecar (the order flips every repetition, so drift and
warm-up favour neither side), and reports medians. Throughput is compared as
proxy/direct, latency as proxy-direct; absolute numbers on shared machines
drift, ratios measured side by side much less.

Also reports the sidecar's CPU time (utime+stime from /proc/PID/stat) per MiB
of payload forwarded, and per request for the latency workloads.

Then, with the cluster and sidecar stopped, measures the floor any relay pays
here: build/tidemark-relay-floor (bench/relay_floor.cc) times a small echo
round trip and a bulk stream directly and through one bare epoll relay process
(skipped with a note if the binary is missing; --no-floor skips it).

Needs a build (cmake --build --preset default): tidemark, tidemark-embedded-kafka,
tidemark-rdkafka-perf (and tidemark-relay-floor) in the build directory. Performance targets are
reported, never asserted: this is a benchmark, not a test.
"""

import argparse
import datetime
import importlib.util
import json
import os
import pathlib
import platform
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
CLK_TCK = os.sysconf("SC_CLK_TCK")
MIB = 1 << 20

# Targets from the requirement.
MIN_THROUGHPUT_RATIO = 0.95
MAX_ADDED_P50_US = 50.0
LATENCY_WARMUP = 200  # tidemark-rdkafka-perf latency's default --warmup

# The mock cluster keeps only the newest 5 MiB of each partition (librdkafka's
# rdkafka_mock.c, max_size), so each data set is spread so that it fits:
# 1,000,000 x 100 B (~110 MB on the wire) over 32 partitions is ~3.4 MB each;
# 100,000 x 10 KiB (1 GiB) needs 256 partitions (~4 MiB each).
TOPICS = {"small": 32, "large": 256}


def workloads(smoke):
    if smoke:
        small, large, iters = 20_000, 1_000, 500
    else:
        small, large, iters = 1_000_000, 100_000, 5_000
    return [
        {"name": "produce 100 B", "kind": "produce", "topic": "small", "count": small, "size": 100},
        {"name": "consume 100 B", "kind": "consume", "topic": "small", "count": small, "size": 100},
        {"name": "produce 10 KiB", "kind": "produce", "topic": "large", "count": large,
         "size": 10240},
        {"name": "consume 10 KiB", "kind": "consume", "topic": "large", "count": large,
         "size": 10240},
        {"name": "ListOffsets round trip", "kind": "latency", "topic": "small", "request": "offsets",
         "iterations": iters},
        {"name": "Metadata round trip", "kind": "latency", "topic": "small", "request": "metadata",
         "iterations": iters},
        # Two ListOffsets requests sent at once, which the client's Nagle turns into two
        # round trips one after the other: reported, and judged per round trip.
        {"name": "watermark query (2 × ListOffsets)", "kind": "latency", "topic": "small",
         "request": "watermarks", "iterations": iters, "round_trips": 2},
    ]


# ------------------------------------------------------------------ processes

# The tests' line reader: collects a pipe's lines on a thread; wait_for() blocks with a timeout.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
from harness.tidemark import LineReader as Lines, free_port_range  # noqa: E402


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat(5)


class Cluster:
    def __init__(self, build, brokers, topics):
        args = [str(build / "tidemark-embedded-kafka"), "--brokers", str(brokers)]
        for name, partitions in topics.items():
            args += ["--topic", f"{name}:{partitions}"]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.out, self.err = Lines(self.proc.stdout), Lines(self.proc.stderr)
        info = json.loads(self.out.wait_for(lambda l: l.startswith("{"), 30, "cluster ready line"))
        self.bootstrap, self.brokers = info["bootstrap"], info["brokers"]
        self.librdkafka = info["librdkafka"]

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.close()
                self.proc.wait(timeout=15)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


class Sidecar:
    def __init__(self, build, workdir, upstream, brokers):
        # Node id N is served on base+N; the bootstrap listener takes base+0. log.level warn
        # keeps logging out of the measurement, and hides the info-level ready line, so
        # readiness is the listener accepting a connection.
        base = free_port_range(brokers + 2)
        self.bootstrap = f"127.0.0.1:{base}"
        config = workdir / "tidemark.yaml"
        config.write_text(
            "job: {id: bench}\n"
            "proxy:\n"
            f"  listen: {self.bootstrap}\n"
            f"  broker_port_base: {base}\n"
            f"  upstream: {{bootstrap_servers: \"{upstream}\"}}\n"
            "http: {listen: 127.0.0.1:0}\n"
            f"store: {{path: \"{workdir / 'tidemark.db'}\"}}\n"
            "log: {level: warn}\n")
        self.config = config
        self.proc = subprocess.Popen([str(build / "tidemark"), "serve", "--config", str(config)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.log = Lines(self.proc.stderr)
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                time.sleep(0.1)
                raise RuntimeError(f"sidecar exited {self.proc.returncode}: {self.log.lines[-10:]}")
            try:
                socket.create_connection(("127.0.0.1", base), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"sidecar not listening: {self.log.lines[-10:]}")
                time.sleep(0.05)

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ------------------------------------------------------------------ workloads

def perf_command(build, w, bootstrap):
    cmd = [str(build / "tidemark-rdkafka-perf"), w["kind"], "--bootstrap", bootstrap,
           "--topic", w["topic"]]
    if w["kind"] == "produce":
        cmd += ["--count", str(w["count"]), "--size", str(w["size"]), "--acks", "1"]
    elif w["kind"] == "consume":
        cmd += ["--count", str(w["count"])]
    else:
        cmd += ["--iterations", str(w["iterations"]), "--request", w["request"]]
    return cmd


def run_perf(cmd, timeout=600):
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"{shlex.join(cmd)} failed ({out.returncode}): {out.stderr.strip()}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(build, w, bootstrap, sidecar_pid, cluster_pid):
    s0, c0 = cpu_seconds(sidecar_pid), cpu_seconds(cluster_pid)
    result = run_perf(perf_command(build, w, bootstrap))
    result["sidecar_cpu_s"] = cpu_seconds(sidecar_pid) - s0
    result["cluster_cpu_s"] = cpu_seconds(cluster_pid) - c0
    return result


def median(values):
    return statistics.median(values) if values else float("nan")


def summarize(w, runs):
    """runs: {"direct": [result...], "proxy": [result...]} -> one summary row."""
    d, p = runs["direct"], runs["proxy"]
    row = {"name": w["name"], "kind": w["kind"], "reps": len(d)}
    if w["kind"] == "latency":
        for q in ("p50_us", "p99_us"):
            row[f"direct_{q}"] = median([r[q] for r in d])
            row[f"proxy_{q}"] = median([r[q] for r in p])
            row[f"added_{q}"] = row[f"proxy_{q}"] - row[f"direct_{q}"]
        row["pair_added_p50_us"] = [b["p50_us"] - a["p50_us"] for a, b in zip(d, p)]
        row["pair_added_p99_us"] = [b["p99_us"] - a["p99_us"] for a, b in zip(d, p)]
        # Headline: median over repetitions of proxy - direct within the repetition.
        row["added_p50_us"] = median(row["pair_added_p50_us"])
        row["added_p99_us"] = median(row["pair_added_p99_us"])
        # The sidecar's CPU covers the whole client process: connection setup and the
        # warm-up iterations too.
        row["sidecar_cpu_us_per_request"] = median(
            [r["sidecar_cpu_s"] / (r["iterations"] + LATENCY_WARMUP) * 1e6 for r in p])
        row["round_trips"] = w.get("round_trips", 1)
        row["pass"] = row["added_p50_us"] / row["round_trips"] <= MAX_ADDED_P50_US
    else:
        row["direct_mb_s"] = median([r["mb_per_s"] for r in d])
        row["proxy_mb_s"] = median([r["mb_per_s"] for r in p])
        row["direct_msgs_s"] = median([r["msgs_per_s"] for r in d])
        row["proxy_msgs_s"] = median([r["msgs_per_s"] for r in p])
        row["ratio_of_medians"] = row["proxy_mb_s"] / row["direct_mb_s"]
        row["pair_ratios"] = [b["mb_per_s"] / a["mb_per_s"] for a, b in zip(d, p)]
        # Headline: median over repetitions of proxy/direct within the repetition (side by
        # side in time), which drift between repetitions does not move.
        row["ratio"] = median(row["pair_ratios"])
        row["sidecar_cpu_ms_per_mib"] = median(
            [r["sidecar_cpu_s"] * 1e3 / (r["bytes"] / MIB) for r in p])
        row["sidecar_cpu_share"] = median([r["sidecar_cpu_s"] / r["seconds"] for r in p])
        row["cluster_cpu_direct_s"] = median([r["cluster_cpu_s"] for r in d])
        row["cluster_cpu_proxy_s"] = median([r["cluster_cpu_s"] for r in p])
        row["pass"] = row["ratio"] >= MIN_THROUGHPUT_RATIO
    return row


# ------------------------------------------------------------------ the floor

# bench/relay_floor.cc: the same alternation (direct / relayed, order flipped every
# repetition) without Kafka, so the sidecar's figures can be judged against what one
# bare user-space relay hop costs on this machine.
FLOOR_REQUEST_BYTES = 64


def floor_sizes(smoke):
    if smoke:
        return {"iterations": 500, "warmup": 100, "mib": 20}
    return {"iterations": 20_000, "warmup": 1_000, "mib": 2_000}


def floor_commands(build, smoke, reps):
    exe = str(build / "tidemark-relay-floor")
    f = floor_sizes(smoke)
    return {
        "pingpong": [exe, "pingpong", "--iterations", str(f["iterations"]), "--warmup",
                     str(f["warmup"]), "--size", str(FLOOR_REQUEST_BYTES), "--reps", str(reps),
                     "--relays", "rw"],
        # 256 KiB reads as the sidecar's (sidecar/event/plain_stream.cc), and 1 MiB.
        "bulk": [exe, "bulk", "--mib", str(f["mib"]), "--reps", str(reps), "--relays",
                 "rw,splice,rw:1024,splice:1024"],
    }


def run_floor(build, smoke, reps, log):
    """{"pingpong": ..., "bulk": ...} from tidemark-relay-floor, or None if it is not built."""
    if not (build / "tidemark-relay-floor").exists():
        log(f"{build / 'tidemark-relay-floor'} is missing: relay floor skipped")
        return None
    floor = {}
    for name, cmd in floor_commands(build, smoke, reps).items():
        floor[name] = run_perf(cmd, timeout=1200)
        paths = floor[name]["paths"]
        if name == "pingpong":
            log(f"floor pingpong: p50 {paths['direct']['p50_us']:.1f} -> "
                f"{paths['rw']['p50_us']:.1f} µs ({paths['rw']['added_p50_us']:+.1f})")
        else:
            log("floor bulk: direct " + f"{paths['direct']['mb_s']:.0f} MB/s, " + ", ".join(
                f"{k} {v['mb_s']:.0f} MB/s ({v['ratio']:.2f}×)" for k, v in paths.items()
                if k != "direct"))
    return floor


def floor_relay_name(key, short=False):
    """"rw", "splice:1024" -> "read/write, 256 KiB reads", "splice, 1 MiB pipe"."""
    kind, _, kib = key.partition(":")
    kib = int(kib or 256)
    size = f"{kib // 1024} MiB" if kib % 1024 == 0 else f"{kib} KiB"
    name = (f"read/write, {size} reads" if kind == "rw" else f"splice, {size} pipe")
    return name if short else f"one relay hop, {name}"


def render_floor(floor, rows, reps, smoke,
                 when="in this run, after the cluster and sidecar had stopped"):
    """The "floor" section of the report, as a list of lines."""
    lines = []
    a = lines.append
    a("### The floor: any relay on this machine")
    a("")
    if floor is None:
        a("Not measured in this run: `build/tidemark-relay-floor` was not built.")
        a("")
        return lines
    ping, bulk = floor["pingpong"], floor["bulk"]
    a("What one extra user-space TCP hop costs here, whatever the relay does:")
    a("`tidemark-relay-floor` (bench/relay_floor.cc) runs a client, a server and, on the relayed")
    a("path, a relay between them, each in its own process on 127.0.0.1; no Kafka, no libevent.")
    a("The relay is the cheapest reasonable one: level-triggered epoll, non-blocking sockets,")
    a("TCP_NODELAY on both sides, one read per readiness event (256 KiB as the sidecar's, or 1 MiB")
    a("where stated) written out at once, reading paused while a write is incomplete; *splice*")
    a("moves the bytes through a pipe of that size with splice(2) instead of copying them through")
    a("user space.")
    a(f"Direct and relayed runs alternate in each of {reps} repetitions (order flipped every")
    a("repetition, fresh processes every run); medians, and the median over repetitions of the")
    a(f"relayed-direct difference or ratio. Measured {when};")
    a(f"load average {ping['load_before']} before, {bulk['load_after']} after (1/5/15 min).")
    a("")
    d, r = ping["paths"]["direct"], ping["paths"]["rw"]
    a(f"| {ping['size']} B request → {ping['size']} B reply | round trips | direct p50 µs | "
      "relayed p50 µs | added p50 µs | direct p99 µs | relayed p99 µs | added p99 µs | "
      "relay CPU µs/round trip |")
    a("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    a(f"| {floor_relay_name('rw')} | {ping['iterations']:,} | {d['p50_us']:.0f} | "
      f"{r['p50_us']:.0f} | **{r['added_p50_us']:+.0f}** | {d['p99_us']:.0f} | {r['p99_us']:.0f} | "
      f"{r['added_p99_us']:+.0f} | {r['cpu_us_per_round_trip']['relay']:.1f} |")
    a("")
    a(f"One round trip in flight, after {ping['warmup']:,} warm-up round trips (the CPU column"
      " counts those too); per-repetition added p50: "
      + ", ".join(f"{v:+.1f}" for v in r["pair_added_p50_us"]) + " µs. Machine softirq time per"
      f" round trip: {d['cpu_us_per_round_trip'].get('softirq', float('nan')):.0f} µs direct, "
      f"{r['cpu_us_per_round_trip'].get('softirq', float('nan')):.0f} µs relayed.")
    a("")
    a(f"| bulk, {bulk['mib']:,} MiB client → server | MB/s | ratio | per-rep ratios | "
      "relay CPU ms/MiB | relay CPU share | CPU ms/MiB, all three processes | softirq ms/MiB |")
    a("|---|---:|---:|---|---:|---:|---:|---:|")
    bd = bulk["paths"]["direct"]
    a(f"| direct | {bd['mb_s']:.0f} | | | | | {bd['cpu_ms_per_mib']['total']:.2f} | "
      f"{bd['cpu_ms_per_mib'].get('softirq', float('nan')):.2f} |")
    for name, v in bulk["paths"].items():
        if name == "direct":
            continue
        a(f"| {floor_relay_name(name)} | {v['mb_s']:.0f} | **{v['ratio']:.2f}×** | "
          f"{fmt_ratios(v['pair_ratios'])} | {v['cpu_ms_per_mib']['relay']:.2f} | "
          f"{v['relay_cpu_share'] * 100:.0f}% of a core | {v['cpu_ms_per_mib']['total']:.2f} | "
          f"{v['cpu_ms_per_mib'].get('softirq', float('nan')):.2f} |")
    a("")
    a(f"The client writes {bulk['chunk_kib'] // 1024} MiB blocks as fast as it can, then shuts"
      " down its side; the server reads 256 KiB at a time and discards, then answers with the"
      " byte count, and the clock stops at that answer. CPU is each process's utime+stime over"
      " its life (`wait4`), per MiB; softirq is the machine's irq+softirq time during the run"
      " (`/proc/stat`), charged to no process. MB/s are 10^6 bytes/s. The direct stream is"
      " limited only by the CPUs and wakeups of this machine, at several times the Kafka"
      " workloads' direct rates: these ratios hold for a CPU-bound stream; the relay's CPU per"
      " MiB is the figure to set against the sidecar's.")
    a("")
    others = max(ping.get("max_other_cpu_s", 0), bulk.get("max_other_cpu_s", 0))
    a(f"Other processes on the machine used at most {others:.2f} s of CPU during any one run"
      " (`/proc/stat` user+system minus the run's own processes).")
    a("")
    a("Against the targets (throughput ≥ "
      f"{MIN_THROUGHPUT_RATIO:.2f}×, ≤ {MAX_ADDED_P50_US:.0f} µs added p50):")
    a("")
    a(f"- Latency: one bare relay hop adds {r['added_p50_us']:+.0f} µs p50 "
      f"({r['added_p50_us'] / MAX_ADDED_P50_US * 100:.0f}% of the budget) to a "
      f"{ping['size']}-byte round trip whose direct p50 is {d['p50_us']:.0f} µs, and costs"
      f" {r['cpu_us_per_round_trip']['relay']:.0f} µs CPU per round trip in the relay.")
    lat = [x for x in rows if x["kind"] == "latency"]
    if lat:
        a("  The sidecar above: " + "; ".join(
            f"{x['name']} {x['added_p50_us']:+.0f} µs "
            f"({x['added_p50_us'] - r['added_p50_us']:+.0f} µs against the floor) at "
            f"{x['sidecar_cpu_us_per_request']:.0f} µs CPU per iteration"
            for x in lat)
          + " (a watermark query iteration is two round trips).")
    relays = [(k, v) for k, v in bulk["paths"].items() if k != "direct"]
    best = max(relays, key=lambda kv: kv[1]["ratio"])
    a("- Throughput: streaming as fast as the client can write, one bare relay reaches "
      + ", ".join(f"{v['ratio']:.2f}× ({floor_relay_name(k, short=True)})" for k, v in relays)
      + f" of direct (best {best[1]['ratio']:.2f}×), at "
      + ", ".join(f"{v['cpu_ms_per_mib']['relay']:.2f}" for _, v in relays)
      + " ms CPU/MiB in the relay.")
    tput = [x for x in rows if x["kind"] != "latency"]
    if tput:
        a("  The sidecar above: " + "; ".join(
            f"{x['name']} {x['ratio']:.2f}× at {x['sidecar_cpu_ms_per_mib']:.2f} ms CPU/MiB"
            for x in tput) + ".")
    a("")
    a("```sh")
    for cmd in floor_commands(pathlib.Path("build"), smoke, reps).values():
        a(shlex.join(cmd))
    a("```")
    a("")
    return lines


# ------------------------------------------------------------------ report

def run_table_head(info):
    """The first rows of a report's run table: when, where, under what load, which commit."""
    return ["| | |", "|---|---|", f"| date | {info['date']} |",
            f"| machine | {info['nproc']} CPUs (`nproc`), {info['cpu']}, {info['memory']} RAM, "
            f"Linux {info['kernel']} |",
            f"| load average | {info['load_before']} before, {info['load']} after (1/5/15 min) |",
            f"| commit | {info['commit']} |"]


def machine():
    model = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) // 1024 // 1024} GiB"
    except OSError:
        pass

    def git(*args):
        r = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else ""

    try:
        load = " / ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        load = "unknown"
    commit = git("rev-parse", "--short", "HEAD")
    if git("status", "--porcelain", "--untracked-files=no"):
        commit += " (with uncommitted changes)"
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "memory": mem,
        "kernel": platform.release(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit or "unknown",
        "load": load,
    }


def fmt_ratios(values):
    return ", ".join(f"{v:.2f}" for v in values)


def section(data, plot_rel):
    """The proxy section of docs/benchmarks.md from the run's JSON."""
    import bench_page
    rows, runs_by_name, info, floor, run = (data["summary"], data["runs"], data["machine"],
                                            data["floor"], data["run"])
    wall_s = run["wall_s"]
    sizes = {w["name"]: w for w in workloads(run["smoke"])}
    lines = []
    a = lines.append
    a(f"## {bench_page.TITLES['proxy']}")
    a("")
    a("Every workload runs directly against the embedded cluster and through one `tidemark serve`")
    a(f"in the same run, alternating (the order flips each repetition), {run['reps']} repetitions,")
    a("medians. Each figure is a ratio against the direct baseline of the same run, because")
    a("absolute times on shared machines drift. Targets: throughput ≥ "
      f"{MIN_THROUGHPUT_RATIO:.2f}× direct, ≤ {MAX_ADDED_P50_US:.0f} µs added p50 latency on loopback.")
    a("")
    lines.extend(run_table_head(info))
    a(f"| cluster | `tidemark-embedded-kafka --brokers {run['brokers']}` (librdkafka "
      f"{info['librdkafka']} mock cluster), topics "
      + ", ".join(f"`{t}:{n}`" for t, n in TOPICS.items()) + " |")
    a(f"| client | `tidemark-rdkafka-perf` (librdkafka {info['librdkafka']}, C API) |")
    a(f"| run | {'smoke sizes' if run['smoke'] else 'full sizes'}, wall time {wall_s:.0f} s |")
    a("")
    a("### Throughput")
    a("")
    a("| workload | messages | direct MB/s | sidecar MB/s | ratio | per-rep ratios | target ≥ "
      f"{MIN_THROUGHPUT_RATIO:.2f} | sidecar CPU ms/MiB | sidecar CPU share |")
    a("|---|---:|---:|---:|---:|---|:-:|---:|---:|")
    for r in rows:
        if r["kind"] == "latency":
            continue
        w = sizes[r["name"]]
        a(f"| {r['name']} | {w['count']:,} × {w['size']:,} B | {r['direct_mb_s']:.1f} | "
          f"{r['proxy_mb_s']:.1f} | **{r['ratio']:.2f}×** | {fmt_ratios(r['pair_ratios'])} | "
          f"{'met' if r['pass'] else 'missed'} | {r['sidecar_cpu_ms_per_mib']:.2f} | "
          f"{r['sidecar_cpu_share'] * 100:.0f}% of a core |")
    a("")
    a("Ratio: the median over repetitions of sidecar/direct within a repetition (the two runs")
    a("are adjacent in time); MB/s columns are medians of each side.")
    a("MB/s counts message payload (10^6 bytes). Sidecar CPU is its utime+stime"
      " (`/proc/PID/stat`) during the workload, per MiB of payload, and as a share of one core"
      " over the workload's duration.")
    a("")
    a("### Small-request latency")
    a("")
    a("| request | iterations | direct p50 µs | sidecar p50 µs | added p50 µs | direct p99 µs | "
      f"sidecar p99 µs | added p99 µs | target ≤ {MAX_ADDED_P50_US:.0f} µs p50 | "
      "sidecar CPU µs/iteration |")
    a("|---|---:|---:|---:|---:|---:|---:|---:|:-:|---:|")
    for r in rows:
        if r["kind"] != "latency":
            continue
        w = sizes[r["name"]]
        a(f"| {r['name']} | {w['iterations']:,} | {r['direct_p50_us']:.0f} | "
          f"{r['proxy_p50_us']:.0f} | **{r['added_p50_us']:+.0f}** | {r['direct_p99_us']:.0f} | "
          f"{r['proxy_p99_us']:.0f} | {r['added_p99_us']:+.0f} | "
          f"{latency_status(r)} | {r['sidecar_cpu_us_per_request']:.1f} |")
    a("")
    a(f"One iteration in flight at a time, after {LATENCY_WARMUP} warm-up iterations (the sidecar"
      " CPU column counts those and the connection setup too). ListOffsets")
    a("(`rd_kafka_offsets_for_times`, one partition) streams through the sidecar unparsed;")
    a("Metadata responses are buffered and their brokers decoded and rewritten (addresses), the")
    a("topics after them copied. The watermark query (`rd_kafka_query_watermark_offsets`) sends")
    a("two ListOffsets requests at once, but with the client's default Nagle")
    a("(`socket.nagle.disable=false`) the second waits in the client's kernel for the first one's")
    a("acknowledgement, which comes with its answer: one iteration is two round trips one after")
    a("the other, directly and through the sidecar alike, and is judged per round trip.")
    a("")
    if plot_rel:
        a(f"![proxy/direct ratios and latency]({plot_rel})")
        a("")
    a("### Reproduce")
    a("")
    a("```sh")
    a("scripts/bench proxy            # build, full run, rewrite this section")
    a("scripts/bench proxy --smoke    # tiny sizes, < 60 s, writes build/bench/benchmarks-smoke.md")
    a("```")
    a("")
    a("This run: `" + " ".join(["bench/proxy_bench.py", *run["argv"]]).strip() + "`. "
      "Each measurement is one command, run once with the cluster's address and once with the")
    a("sidecar's (`build/tidemark serve --config` with `proxy.listen`, `proxy.broker_port_base`,")
    a("`proxy.upstream.bootstrap_servers` = the cluster, `log.level: warn`):")
    a("")
    a("```sh")
    a(f"build/tidemark-embedded-kafka --brokers {run['brokers']} "
      + " ".join(f"--topic {t}:{n}" for t, n in TOPICS.items())
      + "   # prints {\"bootstrap\": B}; keep stdin open")
    seen = set()
    for r in rows:
        cmd = shlex.join(perf_command(pathlib.Path("build"), sizes[r["name"]], "B"))
        if cmd not in seen:
            seen.add(cmd)
            a(cmd)
    a("```")
    a("")
    a("Before the measured repetitions each topic is filled once directly (untimed), so the")
    a("mock's partitions are at their retention limit and every consume has its full count.")
    a("")
    a("### Notes")
    a("")
    a("- The mock cluster keeps only the newest 5 MiB of each partition. 1,000,000 × 100 B fit")
    a("  in 32 partitions; 100,000 × 10 KiB (1 GiB) need 256, so the 10 KiB workloads use")
    a("  `large:256`. Producers spread messages round-robin over all partitions.")
    a("- Client, mock cluster and sidecar share the machine's CPUs; with few cores the")
    a("  sidecar's CPU time comes straight out of the client's and cluster's, so the CPU")
    a("  columns matter as much as the ratios.")
    a("- \"Consumer stalls\" below: seconds the consumer waited ≥ 100 ms with an empty queue")
    a("  after its first message. With 100 B messages these are pauses of up to a second seen")
    a("  on the direct path (librdkafka 2.0.2 and 2.15.1 alike) and flatter the sidecar's")
    a("  ratio when they hit; with 10 KiB messages they are mostly the wait for whole Fetch")
    a("  responses (one ≤ 1 MB batch per partition, ~85 partitions per broker) to arrive,")
    a("  which librdkafka parses only once complete.")
    a("- Producer: acks=1, linger.ms=5, batch.size=1000000, batch.num.messages=10000, no")
    a("  compression. Consumer: assign() of every partition from the beginning, no group")
    a("  membership, fetch.wait.max.ms=100; its clock starts at the first message.")
    a("")
    a("<details><summary>Every run (MB/s or p50/p99 µs; sidecar CPU s)</summary>")
    a("")
    a("| workload | rep | direct | sidecar | sidecar CPU s | cluster CPU s direct / via sidecar "
      "| consumer stalls s direct / via sidecar |")
    a("|---|---:|---:|---:|---:|---|---|")
    for name, runs in runs_by_name.items():
        for i, (d, p) in enumerate(zip(runs["direct"], runs["proxy"])):
            if d["mode"] == "latency":
                dv, pv = f"{d['p50_us']:.0f} / {d['p99_us']:.0f}", f"{p['p50_us']:.0f} / {p['p99_us']:.0f}"
            else:
                dv, pv = f"{d['mb_per_s']:.1f}", f"{p['mb_per_s']:.1f}"
            st = (f"{d['stalled_s']:.2f} / {p['stalled_s']:.2f}" if "stalled_s" in d else "")
            a(f"| {name} | {i + 1} | {dv} | {pv} | {p['sidecar_cpu_s']:.2f} | "
              f"{d['cluster_cpu_s']:.2f} / {p['cluster_cpu_s']:.2f} | {st} |")
    a("")
    a("</details>")
    a("")
    if not run["no_floor"]:
        lines.extend(render_floor(floor, rows, run["reps"], run["smoke"]))
    return "\n".join(lines) + "\n"


def latency_status(r):
    """A latency row's verdict; several round trips are judged per round trip."""
    verdict = "met" if r["pass"] else "missed"
    if r.get("round_trips", 1) == 1:
        return verdict
    return f"{verdict} ({r['added_p50_us'] / r['round_trips']:+.0f} µs per round trip)"


def targets(data):
    """Issue 9's proxy targets for the summary of docs/benchmarks.md."""
    rows, floor = data["summary"], data["floor"]

    def status(rs):
        if all(r["pass"] for r in rs):
            return "met"
        if not any(r["pass"] for r in rs):
            return "missed"
        return ", ".join(f"{'met' if r['pass'] else 'missed'} ({r['name']})" for r in rs)

    out = {}
    for kind in ("consume", "produce"):
        rs = [r for r in rows if r["kind"] == kind]
        if rs:
            out[kind] = {"figure": "; ".join(f"{r['name']}: {r['proxy_mb_s']:.1f} MB/s" for r in rs),
                         "baseline": "; ".join(f"{r['direct_mb_s']:.1f} MB/s" for r in rs),
                         "ratio": "; ".join(f"{r['ratio']:.2f}×" for r in rs),
                         "status": status(rs)}
    lat = [r for r in rows if r["kind"] == "latency"]
    if lat:
        out["latency"] = {
            "figure": "; ".join(f"{r['name']}: p50 {r['proxy_p50_us']:.0f} µs, p99 "
                                f"{r['proxy_p99_us']:.0f} µs" for r in lat),
            "baseline": "; ".join(f"p50 {r['direct_p50_us']:.0f} µs, p99 {r['direct_p99_us']:.0f}"
                                  " µs" for r in lat),
            "ratio": "; ".join(f"{r['added_p50_us']:+.0f} µs p50, {r['added_p99_us']:+.0f} µs p99"
                               for r in lat),
            "status": status(lat)}
    tput = [r for r in rows if r["kind"] != "latency"]
    if tput:
        relay = ""
        if floor is not None:
            cpu = [v["cpu_ms_per_mib"]["relay"] for k, v in floor["bulk"]["paths"].items()
                   if k != "direct"]
            relay = f"a bare relay hop: {min(cpu):.2f}–{max(cpu):.2f} ms/MiB"
        out["proxy_cpu"] = {"figure": "; ".join(f"{r['name']}: {r['sidecar_cpu_ms_per_mib']:.2f}"
                                                " ms/MiB" for r in tput),
                            "baseline": relay, "ratio": "", "status": "reported"}
    return out


def ensure_matplotlib(install):
    if importlib.util.find_spec("matplotlib") is not None:
        return True
    if not install:
        return False
    apt = ["apt-get", "install", "-y", "--no-install-recommends", "python3-matplotlib"]
    if os.geteuid() != 0:
        apt = ["sudo", *apt]
    print("installing python3-matplotlib for --plot", file=sys.stderr)
    subprocess.run(apt, check=False, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    importlib.invalidate_caches()
    return importlib.util.find_spec("matplotlib") is not None


def plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tput = [r for r in rows if r["kind"] != "latency"]
    lat = [r for r in rows if r["kind"] == "latency"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    names = [r["name"] for r in tput]
    ax1.bar(names, [r["ratio"] for r in tput], color="#4c72b0")
    for i, r in enumerate(tput):
        ax1.plot([i] * len(r["pair_ratios"]), r["pair_ratios"], "k.", markersize=4)
    ax1.axhline(MIN_THROUGHPUT_RATIO, color="r", linestyle="--", label="target 0.95×")
    ax1.axhline(1.0, color="grey", linewidth=0.8)
    ax1.set_ylabel("sidecar / direct throughput")
    ax1.set_title("Throughput, sidecar / direct (bar: median, dots: repetitions)")
    ax1.tick_params(axis="x", rotation=20)
    ax1.legend(loc="upper right")
    x = range(len(lat))
    width = 0.2
    for k, (key, label) in enumerate([("direct_p50_us", "direct p50"),
                                      ("proxy_p50_us", "sidecar p50"),
                                      ("direct_p99_us", "direct p99"),
                                      ("proxy_p99_us", "sidecar p99")]):
        ax2.bar([i + (k - 1.5) * width for i in x], [r[key] for r in lat], width, label=label)
    ax2.set_xticks(list(x), [r["name"] for r in lat])
    ax2.set_ylabel("µs")
    ax2.set_title("Small-request round trip")
    ax2.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)


# ------------------------------------------------------------------ main

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI (< 60 s)")
    parser.add_argument("--reps", type=int, help="repetitions (default 5, smoke 2)")
    parser.add_argument("--brokers", type=int, default=3)
    parser.add_argument("--build-dir", default=os.environ.get("TIDEMARK_BUILD_DIR",
                                                              str(REPO / "build")))
    parser.add_argument("--output", help="the benchmark page to rewrite this benchmark's section"
                        " of (default docs/benchmarks.md; smoke: build/bench/benchmarks-smoke.md)")
    parser.add_argument("--plot", action="store_true",
                        help="write the PNG plot, installing python3-matplotlib if missing "
                        "(without it: plot only if matplotlib is already importable)")
    parser.add_argument("--no-floor", action="store_true",
                        help="skip the relay floor (build/tidemark-relay-floor)")
    args = parser.parse_args()
    args.argv = sys.argv[1:]
    if args.reps is None:
        args.reps = 2 if args.smoke else 5
    build = pathlib.Path(args.build_dir).resolve()
    for name in ("tidemark", "tidemark-embedded-kafka", "tidemark-rdkafka-perf"):
        if not (build / name).exists():
            sys.exit(f"{build / name} is missing: build first (cmake --build --preset default)")
    import bench_page
    output, _ = bench_page.locations(args.smoke, build, args.output)
    png = bench_page.plot_path("proxy", args.smoke, build)
    can_plot = ensure_matplotlib(args.plot)

    plan = workloads(args.smoke)
    started = time.monotonic()
    load_before = " / ".join(open("/proc/loadavg").read().split()[:3])
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="tidemark-bench-"))
    cluster = sidecar = None
    runs = {w["name"]: {"direct": [], "proxy": []} for w in plan}
    log = lambda msg: print(f"[{time.monotonic() - started:6.1f}s] {msg}", file=sys.stderr,
                            flush=True)
    try:
        cluster = Cluster(build, args.brokers, TOPICS)
        sidecar = Sidecar(build, workdir, cluster.bootstrap, cluster.brokers)
        log(f"cluster {cluster.bootstrap} (librdkafka {cluster.librdkafka}), "
            f"sidecar {sidecar.bootstrap} pid {sidecar.pid}")
        # Untimed fill, so every consume finds its full count and the mock's partitions
        # are at steady state (retention reached, memory touched).
        for w in plan:
            if w["kind"] == "produce":
                run_perf(perf_command(build, w, cluster.bootstrap))
        log("filled topics")
        for rep in range(args.reps):
            sides = ["direct", "proxy"] if rep % 2 == 0 else ["proxy", "direct"]
            for w in plan:
                for side in sides:
                    target = cluster.bootstrap if side == "direct" else sidecar.bootstrap
                    r = measure(build, w, target, sidecar.pid, cluster.proc.pid)
                    runs[w["name"]][side].append(r)
                    figure = (f"p50 {r['p50_us']:.0f} µs p99 {r['p99_us']:.0f} µs"
                              if w["kind"] == "latency" else f"{r['mb_per_s']:.1f} MB/s")
                    if r.get("stalls"):
                        figure += f", {r['stalls']} stalls {r['stalled_s']:.2f} s"
                    log(f"rep {rep + 1}/{args.reps} {w['name']:<24} {side:<6} {figure}"
                        f"  (sidecar CPU {r['sidecar_cpu_s']:.2f} s)")
            if sidecar.proc.poll() is not None:
                raise RuntimeError(f"sidecar exited: {sidecar.log.lines[-10:]}")
    finally:
        if sidecar:
            sidecar.stop()
        if cluster:
            cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    # With nothing of ours running any more: what any relay costs here.
    floor = None if args.no_floor else run_floor(build, args.smoke, args.reps, log)
    wall = time.monotonic() - started

    rows = [summarize(w, runs[w["name"]]) for w in plan]
    info = machine()
    info["librdkafka"] = cluster.librdkafka
    info["load_before"] = load_before
    if can_plot:
        plot(rows, png)
    data = {"machine": info,
            "run": {"smoke": args.smoke, "argv": args.argv, "wall_s": wall, "reps": args.reps,
                    "brokers": args.brokers, "no_floor": args.no_floor},
            "summary": rows, "runs": runs, "floor": floor}
    output, raw = bench_page.publish("proxy", data, targets, section,
                                     png if can_plot else None, args.smoke, build, args.output)

    for r in rows:
        if r["kind"] == "latency":
            print(f"{r['name']:<24} p50 {r['direct_p50_us']:.0f} -> {r['proxy_p50_us']:.0f} µs "
                  f"({r['added_p50_us']:+.0f}), p99 {r['direct_p99_us']:.0f} -> "
                  f"{r['proxy_p99_us']:.0f} µs  {'met' if r['pass'] else 'MISSED'}")
        else:
            print(f"{r['name']:<24} {r['direct_mb_s']:.1f} -> {r['proxy_mb_s']:.1f} MB/s "
                  f"ratio {r['ratio']:.2f}  sidecar {r['sidecar_cpu_ms_per_mib']:.2f} ms CPU/MiB  "
                  f"{'met' if r['pass'] else 'MISSED'}")
    if floor is not None:
        fp, fb = floor["pingpong"]["paths"], floor["bulk"]["paths"]
        print(f"{'floor: one relay hop':<24} p50 {fp['direct']['p50_us']:.0f} -> "
              f"{fp['rw']['p50_us']:.0f} µs ({fp['rw']['added_p50_us']:+.0f}); bulk "
              + ", ".join(f"{k} {v['ratio']:.2f}× ({v['cpu_ms_per_mib']['relay']:.2f} ms CPU/MiB)"
                          for k, v in fb.items() if k != "direct"))
    print(f"wall {wall:.0f} s; wrote {output}" + (f", {png}" if can_plot else "") + f", {raw}")


if __name__ == "__main__":
    main()
