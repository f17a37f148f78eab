#!/usr/bin/python3
"""Checkpoint benchmark: what a checkpoint costs against a bare SQLite
transaction writing the same bytes on the same disk in the same run, and how
fast the state API serves small blobs.

    bench/checkpoint_bench.py            # full sizes, rewrites its section of docs/benchmarks.md
    bench/checkpoint_bench.py --smoke    # tiny sizes (< 60 s), writes build/bench/

Four measurements, all in one scratch directory under the build directory (the
real disk: on a tmpfs fsync is free and the ratios mean nothing):

1. Store commit vs bare transaction (tidemark-checkpoint-bench commit): 64
   partition offsets + 64 x 1 KiB of changed state, SqliteCheckpointStore::commit
   and a bare BEGIN IMMEDIATE ... COMMIT with the store's pragmas, alternating
   every iteration.
2. Checkpoint cost vs fraction of state changed (tidemark-checkpoint-bench
   changed): 100 MiB of state (the issue's size) in 1 KiB and in 64 KiB blobs.
3. End to end: `POST /v1/checkpoints` on a running `tidemark serve` after
   staging the same 64 offsets + 64 KiB over HTTP, alternating with a bare
   transaction (tidemark-checkpoint-bench bare) in the same directory.
4. PUT/GET of 1 KiB blobs with keep-alive, by wrk (installed with apt-get if
   missing), 2 threads, 16 and 64 connections.

Targets (issue 4): commit ≤ 1.5x the bare transaction; ≥ 50,000 req/s on 2
cores. They are reported, never asserted: this is a benchmark, not a test.
Needs a build (cmake --build --preset default).
"""

import argparse
import http.client
import json
import os
import pathlib
import re
import resource
import shlex
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
BENCH = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(REPO / "tests"))
from harness.tidemark import EmbeddedKafka, LineReader, Sidecar  # noqa: E402
from proxy_bench import cpu_seconds, ensure_matplotlib, machine, run_table_head  # noqa: E402  (same folder; shared helpers)
import bench_page  # noqa: E402

KIB, MIB = 1 << 10, 1 << 20

# Targets from the issue.
MAX_COMMIT_RATIO = 1.5
MIN_REQUESTS_PER_S = 50_000
# "Checkpoint cost ∝ changed bytes", read as: bytes written per changed byte
# the same at every fraction (within this spread), and a checkpoint that
# changed nothing writing at most this share of one that changed everything.
MAX_AMPLIFICATION_SPREAD = 1.5
MAX_UNCHANGED_SHARE = 0.01

PARTITIONS = 64  # offsets per checkpoint
STATE_KEYS = 64  # x 1 KiB of changed state per checkpoint
BLOB = 1 * KIB


def sizes(smoke):
    if smoke:
        return {"commit_iterations": 30, "commit_warmup": 12,
                "changed": [(1 * MIB, 1 * KIB, 2), (1 * MIB, 64 * KIB, 2)],
                "e2e_iterations": 20, "e2e_warmup": 3,
                "wrk_seconds": 1, "wrk_connections": (16, 64)}
    return {"commit_iterations": 1000, "commit_warmup": 20,
            "changed": [(100 * MIB, 1 * KIB, 5), (100 * MIB, 64 * KIB, 10)],
            "e2e_iterations": 500, "e2e_warmup": 20,
            "wrk_seconds": 10, "wrk_connections": (16, 64)}


STARTED = time.monotonic()


def log(msg):
    print(f"[{time.monotonic() - STARTED:6.1f}s] {msg}", file=sys.stderr, flush=True)


def percentile(values, p):
    """Nearest rank, as tidemark-checkpoint-bench computes it."""
    v = sorted(values)
    if not v:
        return float("nan")
    return v[min(len(v), max(1, -(-len(v) * p // 100))) - 1]


def latency_summary(us):
    return {"p50_us": percentile(us, 50), "p99_us": percentile(us, 99),
            "mean_us": statistics.fmean(us) if us else float("nan"),
            "max_us": max(us) if us else float("nan")}


# ------------------------------------------------------------------ store level

def run_tool(build, directory, *args):
    """Runs tidemark-checkpoint-bench with `args` and --dir `directory`; its JSON, plus the
    command as the report shows it (without the scratch directory)."""
    args = [str(a) for a in args]
    cmd = [str(build / "tidemark-checkpoint-bench"), *args, "--dir", str(directory)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"{shlex.join(cmd)} failed ({out.returncode}): {out.stderr.strip()}")
    result = json.loads(out.stdout)
    result["command"] = shlex.join(["build/tidemark-checkpoint-bench", *args])
    return result


def commit_vs_bare(build, scratch, s):
    r = run_tool(build, scratch / "commit", "commit", "--iterations", s["commit_iterations"],
                 "--warmup", s["commit_warmup"], "--partitions", PARTITIONS, "--blobs",
                 STATE_KEYS, "--blob-size", BLOB)
    log(f"commit: bare p50 {r['bare']['p50_us']:.0f} µs p99 {r['bare']['p99_us']:.0f} µs, "
        f"store p50 {r['store']['p50_us']:.0f} µs p99 {r['store']['p99_us']:.0f} µs, "
        f"ratio p50 {r['ratio_p50']:.2f} p99 {r['ratio_p99']:.2f}")
    return r


def changed_fraction(build, scratch, s):
    results = []
    for state_bytes, blob_size, iterations in s["changed"]:
        r = run_tool(build, scratch / f"changed-{blob_size}", "changed", "--state-bytes",
                     state_bytes, "--blob-size", blob_size, "--iterations", iterations)
        for row in r["rows"]:
            log(f"changed {blob_size // KIB} KiB blobs, {row['percent']:3d}%: "
                f"p50 {row['latency']['p50_us'] / 1000:.1f} ms, "
                f"{row['bytes_written'] / MIB:.2f} MiB written")
        results.append(r)
    return results


# ------------------------------------------------------------------ through the sidecar

class Api:
    """One keep-alive connection to the sidecar's HTTP API."""

    def __init__(self, address):
        host, port = address.rsplit(":", 1)
        self.conn = http.client.HTTPConnection(host, int(port), timeout=60)

    def call(self, method, path, body=None, expect=200, content_type="application/json"):
        headers = {"Content-Type": content_type} if body is not None else {}
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        if response.status != expect:
            raise RuntimeError(f"{method} {path}: {response.status} {data[:200]!r}")
        return data


def start_sidecar(workdir, upstream):
    # No periodic or message-count checkpoints: only the ones the benchmark asks
    # for. log.level info (not the harness's debug) keeps logging out of the
    # figures but still prints the ready line and one line per checkpoint.
    return Sidecar(workdir, upstream, settings={
        "job.id": "bench", "log.level": "info", "checkpoint.interval": "24h",
        "checkpoint.max_messages": "0"})


class BareProcess:
    """tidemark-checkpoint-bench bare: one bare transaction per request."""

    def __init__(self, build, directory, manifest_bytes):
        self.proc = subprocess.Popen(
            [str(build / "tidemark-checkpoint-bench"), "bare", "--dir", str(directory),
             "--partitions", str(PARTITIONS), "--blobs", str(STATE_KEYS), "--blob-size",
             str(BLOB), "--manifest-bytes", str(manifest_bytes)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.info = json.loads(self.proc.stdout.readline())

    def transaction_us(self):
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"bare writer exited ({self.proc.wait()})")
        return json.loads(line)["us"]

    def stop(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def stage(api, iteration, filler):
    """PUTs 64 new 1 KiB blobs and seals them with 64 partition offsets."""
    for k in range(STATE_KEYS):
        body = f"{iteration:08d}{k:08d}".encode() + filler
        api.call("PUT", f"/v1/state/e2e/{k:02d}", body, expect=204,
                 content_type="application/octet-stream")
    offsets = [{"group": "bench-group", "topic": "bench-topic", "partition": p,
                "offset": iteration + 1000} for p in range(PARTITIONS)]
    api.call("POST", "/v1/offsets", json.dumps(offsets).encode())


def checkpoint_us_of(api):
    """Microseconds from sending POST /v1/checkpoints to its 201 (durable)."""
    t = time.perf_counter()
    api.call("POST", "/v1/checkpoints", b"", expect=201)
    return (time.perf_counter() - t) * 1e6


def end_to_end(build, scratch, s, manifest_bytes):
    kafka = EmbeddedKafka(brokers=1, topics=("bench-topic:64",))
    sidecar = bare = None
    try:
        sidecar = start_sidecar(scratch / "e2e-sidecar", kafka.bootstrap)
        bare = BareProcess(build, scratch / "e2e-bare", manifest_bytes)
        api = Api(sidecar.http)
        filler = os.urandom(BLOB - 16)
        checkpoint_us, bare_us, stage_us = [], [], []
        for it in range(-s["e2e_warmup"], s["e2e_iterations"]):
            t0 = time.perf_counter()
            stage(api, it + s["e2e_warmup"], filler)
            staged = (time.perf_counter() - t0) * 1e6
            # Alternate which side goes first, so drift favours neither.
            if it % 2 == 0:
                c, b = checkpoint_us_of(api), bare.transaction_us()
            else:
                b, c = bare.transaction_us(), checkpoint_us_of(api)
            if it >= 0:
                checkpoint_us.append(c)
                bare_us.append(b)
                stage_us.append(staged)
        # The coordinator logs each checkpoint's duration from snapshot to durable
        # (store worker: nextId + commit), which leaves out HTTP and the loop.
        committed = [int(m.group(1)) for line in sidecar.log.lines
                     if "checkpoint committed" in line
                     for m in [re.search(r"\bduration_us=(\d+)", line)] if m]
        server_us = committed[-len(checkpoint_us):]
    finally:
        if bare:
            bare.stop()
        if sidecar:
            sidecar.terminate()
        kafka.stop()
    r = {"iterations": s["e2e_iterations"], "warmup": s["e2e_warmup"],
         "filesystem": bare.info["filesystem"], "manifest_bytes": manifest_bytes,
         "checkpoint": latency_summary(checkpoint_us), "server": latency_summary(server_us),
         "bare": latency_summary(bare_us), "stage": latency_summary(stage_us)}
    r["ratio_p50"] = r["checkpoint"]["p50_us"] / r["bare"]["p50_us"]
    r["ratio_p99"] = r["checkpoint"]["p99_us"] / r["bare"]["p99_us"]
    log(f"end to end: POST /v1/checkpoints p50 {r['checkpoint']['p50_us']:.0f} µs "
        f"p99 {r['checkpoint']['p99_us']:.0f} µs (in the sidecar p50 "
        f"{r['server']['p50_us']:.0f} µs); bare p50 {r['bare']['p50_us']:.0f} µs "
        f"p99 {r['bare']['p99_us']:.0f} µs")
    return r


# ------------------------------------------------------------------ wrk

def ensure_wrk():
    if shutil.which("wrk"):
        return True
    apt = ["apt-get", "install", "-y", "--no-install-recommends", "wrk"]
    if os.geteuid() != 0:
        apt = ["sudo", *apt]
    log("installing wrk for the PUT/GET throughput runs")
    try:
        subprocess.run(apt, check=False, timeout=240, stdout=subprocess.DEVNULL,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    except (OSError, subprocess.TimeoutExpired) as e:
        log(f"apt-get failed: {e}")
    return shutil.which("wrk") is not None


def wrk_command(kind, connections, seconds, base_url):
    if kind == "PUT":
        script, url = BENCH / "wrk" / "put_state.lua", base_url
    else:
        script, url = BENCH / "wrk" / "report.lua", f"{base_url}/v1/state/bench/get"
    return ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s",
            "-s", str(script), url]


def children_cpu_seconds():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_wrk(cmd, sidecar_pid, seconds):
    s0, w0 = cpu_seconds(sidecar_pid), children_cpu_seconds()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)
    sidecar_cpu, wrk_cpu = cpu_seconds(sidecar_pid) - s0, children_cpu_seconds() - w0
    line = next((l for l in out.stdout.splitlines() if l.startswith("WRK_JSON ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"{shlex.join(cmd)} failed ({out.returncode}): "
                           f"{out.stdout.strip()} {out.stderr.strip()}")
    r = json.loads(line[len("WRK_JSON "):])
    wall = r["duration_us"] / 1e6
    r["requests_per_s"] = r["requests"] / wall
    r["errors_total"] = sum(r["errors"].values())
    r["sidecar_cpu_share"] = sidecar_cpu / wall
    r["wrk_cpu_share"] = wrk_cpu / wall
    return r


def throughput(scratch, s):
    kafka = EmbeddedKafka(brokers=1, topics=("bench-topic:64",))
    sidecar = None
    rows = []
    try:
        sidecar = start_sidecar(scratch / "wrk-sidecar", kafka.bootstrap)
        api = Api(sidecar.http)
        # The GET target: one sealed 1 KiB key (PUT stages it, an offset commit seals it).
        api.call("PUT", "/v1/state/bench/get", os.urandom(BLOB), expect=204,
                 content_type="application/octet-stream")
        api.call("POST", "/v1/offsets", json.dumps(
            [{"group": "bench-group", "topic": "bench-topic", "partition": 0,
              "offset": 1}]).encode())
        assert len(api.call("GET", "/v1/state/bench/get")) == BLOB
        api.conn.close()
        base_url = f"http://{sidecar.http}"
        for connections in s["wrk_connections"]:
            for kind in ("PUT", "GET"):
                cmd = wrk_command(kind, connections, s["wrk_seconds"], base_url)
                r = run_wrk(cmd, sidecar.proc.pid, s["wrk_seconds"])
                r.update(kind=kind, connections=connections,
                         command=shlex.join(wrk_command(kind, connections, s["wrk_seconds"],
                                                        "http://H"))
                         .replace(str(REPO) + "/", ""),
                         met=r["requests_per_s"] >= MIN_REQUESTS_PER_S and r["errors_total"] == 0)
                rows.append(r)
                log(f"wrk {kind} -c{connections}: {r['requests_per_s']:,.0f} req/s, "
                    f"p50 {r['latency_us']['p50']} µs p99 {r['latency_us']['p99']} µs, "
                    f"{r['errors_total']} errors, sidecar {r['sidecar_cpu_share'] * 100:.0f}% "
                    f"wrk {r['wrk_cpu_share'] * 100:.0f}% of a core")
            if sidecar.proc.poll() is not None:
                raise RuntimeError(f"sidecar exited: {sidecar.log.lines[-10:]}")
    finally:
        if sidecar:
            sidecar.terminate()
        kafka.stop()
    return rows


# ------------------------------------------------------------------ report

def met(ok):
    return "met" if ok else "missed"


def section(data, plot_rel):
    """The checkpoint section of docs/benchmarks.md from the run's JSON."""
    results, info, run = data, data["machine"], data["run"]
    wall_s = run["wall_s"]
    lines = []
    a = lines.append
    c, e, wrk_rows = results["commit"], results["e2e"], results["wrk"]
    a(f"## {bench_page.TITLES['checkpoint']}")
    a("")
    a("Every latency is compared with a bare SQLite transaction writing the same bytes to a")
    a("database in the same directory, measured in the same run and alternating with it")
    a("iteration by iteration (the order flips each time), because absolute times on shared")
    a(f"machines drift. Targets (issue 4): checkpoint commit ≤ {MAX_COMMIT_RATIO}× the bare"
      " transaction at p50")
    a(f"and p99; PUT/GET of 1 KiB blobs ≥ {MIN_REQUESTS_PER_S:,} req/s on 2 cores.")
    a("")
    lines.extend(run_table_head(info))
    a(f"| disk | the build directory's filesystem: {c['filesystem']}; SQLite "
      f"{info['sqlite']}, WAL, synchronous=FULL |")
    a(f"| run | {'smoke sizes' if run['smoke'] else 'full sizes'}, wall time {wall_s:.0f} s |")
    a("")

    a("### Checkpoint commit vs a bare SQLite transaction")
    a("")
    a(f"{c['partitions']} partition offsets and {c['blobs']} × {c['blob_size']:,} B of state,"
      " all of it new content every iteration")
    a(f"(nothing deduplicates); {c['iterations']:,} iterations after {c['warmup']} untimed ones,"
      " which fill the store to its")
    a(f"{c['retained']} retained checkpoints, so that every measured commit is followed by a"
      " compaction that prunes.")
    a("")
    a("| | p50 µs | p99 µs | mean µs | max µs | bytes written per commit |")
    a("|---|---:|---:|---:|---:|---:|")
    for name, key in (("bare transaction", "bare"), ("`SqliteCheckpointStore::commit`", "store")):
        r = c[key]
        a(f"| {name} | {r['p50_us']:,.0f} | {r['p99_us']:,.0f} | {r['mean_us']:,.0f} | "
          f"{r['max_us']:,.0f} | {c[key + '_bytes_written'] / KIB:,.0f} KiB |")
    a(f"| **store / bare** | **{c['ratio_p50']:.2f}×** | **{c['ratio_p99']:.2f}×** | "
      f"{c['ratio_mean']:.2f}× | | {c['store_bytes_written'] / c['bare_bytes_written']:.2f}× |")
    a(f"| target ≤ {MAX_COMMIT_RATIO}× | {met(c['ratio_p50'] <= MAX_COMMIT_RATIO)} | "
      f"{met(c['ratio_p99'] <= MAX_COMMIT_RATIO)} | | | |")
    k = c["compact"]
    a(f"| `compact()`, after the answer (not waited for) | {k['p50_us']:,.0f} | "
      f"{k['p99_us']:,.0f} | {k['mean_us']:,.0f} | {k['max_us']:,.0f} | in the store's row |")
    a("")
    a("- Bare: `BEGIN IMMEDIATE`; `INSERT OR REPLACE` of one row per partition offset, one")
    a(f"  row per blob and one {c['manifest_bytes']:,}-byte row (the size of the store's encoded")
    a("  manifest); `COMMIT`. Opened through `store::Database` (the store's pragmas), statements")
    a("  prepared once.")
    a("- Store: `commit()` of a `Manifest` as the coordinator builds it; the checkpoint id is")
    a("  drawn and the blobs hashed before the clock starts (the sidecar hashes at PUT time).")
    a("  Then `compact()`, timed apart, as the coordinator runs it once the checkpoint was")
    a("  answered: retention (the oldest checkpoint and its blobs) and, every ~1,000 WAL pages,")
    a("  SQLite's WAL checkpoint, which the bare side runs inside its commits (SQLite's default).")
    a("  See [store-format.md](store-format.md#compaction-after-the-answer).")
    a("- Bytes written: what the process passed to write(2) (`/proc/self/io` wchar): WAL")
    a("  frames, plus the pages copied into the database when SQLite checkpoints its WAL;")
    a("  the store's include its compactions'.")
    a("")

    a("### End to end: `POST /v1/checkpoints` on a running sidecar")
    a("")
    a(f"Each iteration PUTs {STATE_KEYS} new 1 KiB blobs and POSTs {PARTITIONS} offsets to")
    a("`/v1/offsets` (sealing them) over one keep-alive connection, then times")
    a("`POST /v1/checkpoints` until its `201`; a bare transaction of the same size in the same")
    a(f"directory alternates with it. {e['iterations']:,} iterations after {e['warmup']}"
      " untimed; `tidemark serve`")
    a("against `tidemark-embedded-kafka --brokers 1`, `log.level: info`, no periodic"
      " checkpoints.")
    a("")
    a("| | p50 µs | p99 µs | mean µs | max µs |")
    a("|---|---:|---:|---:|---:|")
    for name, key in (("`POST /v1/checkpoints` (client: Python http.client)", "checkpoint"),
                      ("in the sidecar: snapshot to durable (its `duration_us` log field)",
                       "server"),
                      ("bare transaction, alternating", "bare"),
                      (f"staging: {STATE_KEYS} PUTs + `POST /v1/offsets`", "stage")):
        r = e[key]
        a(f"| {name} | {r['p50_us']:,.0f} | {r['p99_us']:,.0f} | {r['mean_us']:,.0f} | "
          f"{r['max_us']:,.0f} |")
    server_p50 = e["server"]["p50_us"] / e["bare"]["p50_us"]
    server_p99 = e["server"]["p99_us"] / e["bare"]["p99_us"]
    a(f"| **in the sidecar / bare** | **{server_p50:.2f}×** | **{server_p99:.2f}×** | | |")
    a(f"| round trip / bare | {e['ratio_p50']:.2f}× | {e['ratio_p99']:.2f}× | | |")
    a("")
    a("Issue 4's target (≤ 1.5×) is the commit's, above; here the same checkpoint is taken")
    a("through a running sidecar. \"In the sidecar\" adds to the commit the snapshot of the sealed")
    a("view, the hand-over to the store thread and back, and any compaction still running from")
    a("the previous checkpoint; the round trip adds the HTTP request from a Python client.")
    a("")

    a("### Checkpoint cost vs fraction of state changed")
    a("")
    a("One store per fraction, each holding the state below and brought to steady state first")
    a("(filled, then as many untimed checkpoints as it retains). Each iteration takes one")
    a("checkpoint in every store, the order rotating; a checkpoint rewrites that share of the")
    a("blobs with new content (a rotating window, so every blob ages alike), references all of")
    a("them and 64 partition offsets, and prunes the oldest retained checkpoint, deleting the")
    a("blobs only it held (as many as one checkpoint changes: hence one store per fraction).")
    a("Unchanged blobs are not written again (content addressed), and the store keeps most")
    a("manifests as their change from the one before (store format 4,")
    a("[store-format.md](store-format.md#manifests-as-changes)), so what a checkpoint writes")
    a("follows the changed bytes; what remains per key is a comparison in memory with the")
    a("previous manifest (the 0% row). Bytes written as above: WAL frames (whole pages) plus")
    a("SQLite's copies of them into the database. The target (∝ changed bytes) counts as met")
    a(f"when bytes written per changed byte stay within {MAX_AMPLIFICATION_SPREAD}× of each other")
    a("across the fractions, and a checkpoint that changed nothing writes at most")
    a(f"{MAX_UNCHANGED_SHARE:.0%} of what one that changed everything writes.")
    a("")
    for r in results["changed"]:
        a(f"**{r['state_bytes'] / MIB:.0f} MiB in {r['blobs']:,} blobs of "
          f"{r['blob_size'] / KIB:.0f} KiB** (manifest {r['manifest_bytes'] / KIB:,.0f} KiB, "
          f"{r['iterations']} checkpoints per fraction)")
        a("")
        a("| changed | blobs | bytes | p50 ms | mean ms | max ms | written per checkpoint | "
          "written / changed |")
        a("|---:|---:|---:|---:|---:|---:|---:|---:|")
        for row in r["rows"]:
            lat = row["latency"]
            per = (f"{row['bytes_written'] / row['changed_bytes']:.1f}×"
                   if row["changed_bytes"] else "–")
            a(f"| {row['percent']}% | {row['changed_blobs']:,} | "
              f"{row['changed_bytes'] / MIB:,.2f} MiB | {lat['p50_us'] / 1000:,.1f} | "
              f"{lat['mean_us'] / 1000:,.1f} | {lat['max_us'] / 1000:,.1f} | "
              f"{row['bytes_written'] / MIB:,.2f} MiB | {per} |")
        a("")
    if plot_rel:
        a(f"![checkpoint commit vs bare, and cost vs fraction of state changed]({plot_rel})")
        a("")

    a("### State API throughput: 1 KiB blobs, keep-alive (wrk)")
    a("")
    if not wrk_rows:
        a("Skipped: wrk is not installed and could not be installed.")
        a("")
    else:
        secs = sizes(run["smoke"])["wrk_seconds"]
        a(f"wrk with 2 threads, {secs} s per run, on the same 2 CPUs as the sidecar (and an idle")
        a("embedded cluster). PUT: `bench/wrk/put_state.lua`, 1 KiB bodies to different keys")
        a("(1,024 per wrk thread, cycled), staged. GET: one sealed 1 KiB key, a static request.")
        a("CPU: utime+stime over the run as a share of one core (`/proc/PID/stat` for the")
        a("sidecar, getrusage of children for wrk). The sidecar serves HTTP on its one event-loop")
        a("thread, so its share cannot pass one core.")
        a("")
        a(f"| request | connections | req/s | target ≥ {MIN_REQUESTS_PER_S:,} | p50 µs | p99 µs | "
          "errors | sidecar CPU | wrk CPU |")
        a("|---|---:|---:|:-:|---:|---:|---:|---:|---:|")
        for r in wrk_rows:
            lat = r["latency_us"]
            a(f"| {r['kind']} 1 KiB | {r['connections']} | **{r['requests_per_s']:,.0f}** | "
              f"{met(r['met'])} | {lat['p50']:,} | {lat['p99']:,} | {r['errors_total']} | "
              f"{r['sidecar_cpu_share'] * 100:.0f}% | {r['wrk_cpu_share'] * 100:.0f}% |")
        a("")

    a("### Reproduce")
    a("")
    a("```sh")
    a("scripts/bench checkpoint            # build, full run, rewrite this section")
    a("scripts/bench checkpoint --smoke    # tiny sizes, < 60 s, writes "
      "build/bench/benchmarks-smoke.md")
    a("```")
    a("")
    a("This run: `" + " ".join(["bench/checkpoint_bench.py", *run["argv"]]).strip() + "`, which"
      " runs, in a scratch directory")
    a("under the build directory (`--dir`, omitted below):")
    a("")
    a("```sh")
    a(c["command"])
    for r in results["changed"]:
        a(r["command"])
    a("build/tidemark-checkpoint-bench bare --manifest-bytes "
      f"{e['manifest_bytes']}   # one transaction per stdin line, beside the sidecar's store")
    for r in wrk_rows:
        a(r["command"])
    a("```")
    return "\n".join(lines) + "\n"


def targets(data):
    """Issue 9's checkpoint targets for the summary of docs/benchmarks.md."""
    c, wrk_rows = data["commit"], data["wrk"]
    out = {"commit": {
        "figure": f"store p50 {c['store']['p50_us']:,.0f} µs, p99 {c['store']['p99_us']:,.0f} µs",
        "baseline": f"p50 {c['bare']['p50_us']:,.0f} µs, p99 {c['bare']['p99_us']:,.0f} µs",
        "ratio": f"{c['ratio_p50']:.2f}× p50, {c['ratio_p99']:.2f}× p99",
        "status": met(max(c["ratio_p50"], c["ratio_p99"]) <= MAX_COMMIT_RATIO)}}
    parts, amplification, proportional = [], [], True
    for r in data["changed"]:
        by = {row["percent"]: row for row in r["rows"]}
        shown = [pc for pc in (0, 1, 10, 100) if pc in by]
        parts.append(" / ".join(f"{by[pc]['latency']['p50_us'] / 1000:,.1f}" for pc in shown)
                     + f" ms at {' / '.join(f'{pc}%' for pc in shown)} changed ("
                     f"{r['state_bytes'] / MIB:.0f} MiB in {r['blob_size'] / KIB:.0f} KiB blobs)")
        per = [row["bytes_written"] / row["changed_bytes"] for row in r["rows"]
               if row["changed_bytes"]]
        if per:
            amplification.append(f"{min(per):.1f}–{max(per):.1f}× ({r['blob_size'] / KIB:.0f}"
                                 " KiB blobs)")
            proportional &= max(per) <= MAX_AMPLIFICATION_SPREAD * min(per)
        if 0 in by and 100 in by:
            proportional &= by[0]["bytes_written"] <= MAX_UNCHANGED_SHARE * by[100]["bytes_written"]
    out["changed"] = {"figure": "p50 " + "; ".join(parts), "baseline": "",
                      "ratio": "bytes written / changed " + ", ".join(amplification),
                      "status": met(proportional)}
    if wrk_rows:
        out["http"] = {
            "figure": "; ".join(f"{r['kind']} {r['requests_per_s']:,.0f} req/s, p99 "
                                f"{r['latency_us']['p99']:,} µs ({r['connections']} connections)"
                                for r in wrk_rows),
            "baseline": "", "ratio": "",
            "status": met(all(r["met"] for r in wrk_rows))}
    return out


def plot(data, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c = data["commit"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    x = range(2)
    for k, (key, label) in enumerate((("bare", "bare transaction"), ("store", "store commit"))):
        ax1.bar([i + (k - 0.5) * 0.35 for i in x], [c[key]["p50_us"], c[key]["p99_us"]], 0.35,
                label=label)
    ax1.set_xticks(list(x), ["p50", "p99"])
    ax1.set(ylabel="µs", title=f"Commit vs bare SQLite: {c['ratio_p50']:.2f}× p50, "
            f"{c['ratio_p99']:.2f}× p99")
    ax1.legend(fontsize=8)
    for r in data["changed"]:
        rows = r["rows"]
        ax2.plot([row["changed_bytes"] / MIB for row in rows],
                 [row["latency"]["p50_us"] / 1000 for row in rows], "o-",
                 label=f"{r['state_bytes'] / MIB:.0f} MiB in {r['blob_size'] / KIB:.0f} KiB blobs")
    ax2.set(xlabel="state changed per checkpoint (MiB)", ylabel="checkpoint p50 (ms)",
            title="Checkpoint cost vs state changed")
    ax2.set_xlim(left=0)
    ax2.set_ylim(bottom=0)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)


# ------------------------------------------------------------------ main

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI (< 60 s)")
    parser.add_argument("--build-dir", default=os.environ.get("TIDEMARK_BUILD_DIR",
                                                              str(REPO / "build")))
    parser.add_argument("--output", help="the benchmark page to rewrite this benchmark's section"
                        " of (default docs/benchmarks.md; smoke: build/bench/benchmarks-smoke.md)")
    parser.add_argument("--plot", action="store_true",
                        help="write the PNG plot, installing python3-matplotlib if missing "
                        "(without it: plot only if matplotlib is already importable)")
    args = parser.parse_args()
    args.argv = sys.argv[1:]
    build = pathlib.Path(args.build_dir).resolve()
    for name in ("tidemark", "tidemark-embedded-kafka", "tidemark-checkpoint-bench"):
        if not (build / name).exists():
            sys.exit(f"{build / name} is missing: build first (cmake --build --preset default)")
    os.environ["TIDEMARK_BUILD_DIR"] = str(build)  # for the harness
    page, _ = bench_page.locations(args.smoke, build, args.output)
    png = bench_page.plot_path("checkpoint", args.smoke, build)
    can_plot = ensure_matplotlib(args.plot)
    have_wrk = ensure_wrk()
    if not have_wrk and not args.smoke:
        sys.exit("wrk is missing and apt-get could not install it")

    s = sizes(args.smoke)
    started = time.monotonic()
    load_before = " / ".join(open("/proc/loadavg").read().split()[:3])
    (build / "bench").mkdir(parents=True, exist_ok=True)
    scratch = pathlib.Path(tempfile.mkdtemp(prefix="checkpoint-", dir=build / "bench"))
    results = {}
    try:
        results["commit"] = commit_vs_bare(build, scratch, s)
        results["e2e"] = end_to_end(build, scratch, s, results["commit"]["manifest_bytes"])
        results["changed"] = changed_fraction(build, scratch, s)
        results["wrk"] = throughput(scratch, s) if have_wrk else []
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    wall = time.monotonic() - started

    info = machine()
    info["load_before"] = load_before
    info["sqlite"] = sqlite3.sqlite_version
    data = {"machine": info, "run": {"smoke": args.smoke, "argv": args.argv, "wall_s": wall},
            **results}
    if can_plot:
        plot(data, png)
    page, raw = bench_page.publish("checkpoint", data, targets, section,
                                   png if can_plot else None, args.smoke, build, args.output)
    print(f"wall {wall:.0f} s; wrote {page}" + (f", {png}" if can_plot else "") + f", {raw}")


if __name__ == "__main__":
    main()
