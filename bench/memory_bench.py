#!/usr/bin/python3
"""Memory benchmark: the sidecar's resident memory idle, with many idle client
connections, and under full-rate consumption over a long run.

    bench/memory_bench.py                  # 10-minute load, rewrites its section of docs/benchmarks.md
    bench/memory_bench.py --duration 120   # a shorter load phase
    bench/memory_bench.py --smoke          # 20 s, 100 connections, writes BUILD/bench/

One `tidemark serve` in front of `tidemark-embedded-kafka --brokers 3`, sampled
from /proc/PID/status (VmRSS, VmHWM, Threads) and /proc/PID/fd:

1. idle after start, with the remote off and with the default remote.mode async;
2. with N client TCP connections to its Kafka listener that send nothing, then
   after one ApiVersions request on each (the proxy has its upstream connection
   and buffers for every one), then after they closed;
3. under full-rate consumption: tidemark-rdkafka-perf consumers (librdkafka),
   one after another, reading both topics from the beginning through the sidecar
   for --duration seconds, sampled every few seconds: first/last/max RSS, its
   slope, open fds at start and end;
4. idle again after the load.

Targets (issue 9): idle <= 20 MiB; bounded under load (no growth over a
10-minute run). Reported, never asserted.
"""

import argparse
import json
import pathlib
import selectors
import shlex
import shutil
import socket
import statistics
import struct
import sys
import tempfile
import threading
import time

import bench_page
from bench_common import (KIB, MIB, add_binary_args, binaries, binary_row, binary_time,
                          cpu_seconds, ensure_matplotlib, load_average, log, machine, outputs,
                          plot_note, proc_status, run_table_head)
from harness.tidemark import EmbeddedKafka, Sidecar, run_perf

MAX_IDLE_MIB = 20
TOPICS = {"small": 32, "large": 64}  # both stay below the mock's ~5 MB per partition


def plan(args):
    if args.smoke:
        p = {"small": 20_000, "large": 1_000, "duration": 20, "interval": 1, "connections": 100,
             "settle": 1}
    else:
        p = {"small": 1_000_000, "large": 20_000, "duration": 600, "interval": 5,
             "connections": 1000, "settle": 3}
    for key in ("duration", "interval", "connections"):
        if getattr(args, key) is not None:
            p[key] = getattr(args, key)
    p["workloads"] = [("small", p["small"], 100), ("large", p["large"], 10 * KIB)]
    return p


def perf(folder, *args, timeout=600):
    out = run_perf(*args, folder=folder, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"{shlex.join(map(str, out.args))} failed ({out.returncode}): "
                           f"{out.stderr.strip()}")
    for line in out.stderr.splitlines():
        if "teardown:" in line:  # librdkafka's, after the result (bench/rdkafka_perf.cc)
            log(line)
    return json.loads(out.stdout.strip().splitlines()[-1])


def sample(pid, label, t0=None):
    s = proc_status(pid)
    s["label"] = label
    if t0 is not None:
        s["t"] = time.monotonic() - t0
    log(f"{label}: RSS {s['VmRSS'] / KIB:.1f} MiB, HWM {s['VmHWM'] / KIB:.1f} MiB, "
        f"{s['fds']} fds, {s['Threads']} threads")
    return s


def api_versions_frame(correlation_id):
    client = b"memory-bench"
    body = struct.pack(">hhih", 18, 0, correlation_id, len(client)) + client
    return struct.pack(">i", len(body)) + body


def await_answers(socks, timeout):
    """Reads one Kafka response per socket; (answered, seconds until the last answer)."""
    want = {s: None for s in socks}  # expected frame length, once its size prefix is in
    got = {s: b"" for s in socks}
    t0 = time.monotonic()
    last = 0.0
    with selectors.DefaultSelector() as sel:
        for s in socks:
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ)
        while sel.get_map() and time.monotonic() - t0 < timeout:
            for key, _ in sel.select(timeout=1):
                s = key.fileobj
                chunk = s.recv(65536)
                got[s] += chunk
                if want[s] is None and len(got[s]) >= 4:
                    want[s] = 4 + struct.unpack(">i", got[s][:4])[0]
                if not chunk or (want[s] is not None and len(got[s]) >= want[s]):
                    sel.unregister(s)
                    last = time.monotonic() - t0
    answered = sum(1 for s in socks if want[s] is not None and len(got[s]) >= want[s])
    return answered, last


def idle_connections(pid, proxy, n, settle):
    """Opens n connections, samples, makes each send one ApiVersions, samples, closes them."""
    host, port = proxy.rsplit(":", 1)
    socks = []
    for i in range(n):
        socks.append(socket.create_connection((host, int(port)), timeout=30))
        # The sidecar connects upstream for every connection it accepts, and the
        # mock broker listens with a backlog of 5: a burst overflows its accept
        # queue and those connections hang in TCP retransmissions for a while.
        if i % 4 == 3:
            time.sleep(0.005)
    time.sleep(settle)
    silent = sample(pid, f"{n:,} connections, nothing sent")
    for i, s in enumerate(socks):
        s.sendall(api_versions_frame(i))
    answered, seconds = await_answers(socks, 60)
    log(f"{answered:,} of {n:,} ApiVersions answered, the last after {seconds:.1f} s")
    time.sleep(settle)
    asked = sample(pid, f"{n:,} connections after one ApiVersions each")
    asked.update(answered=answered, answer_s=seconds)
    for s in socks:
        s.close()
    time.sleep(settle)
    return [silent, asked, sample(pid, "after closing them")]


def load(folder, pid, bootstrap, p):
    """Consumers one after another for p["duration"] s; samples every p["interval"] s."""
    samples, runs, stop = [], [], threading.Event()
    t0 = time.monotonic()

    def sampler():
        while True:
            samples.append(sample(pid, "load", t0))
            if stop.wait(p["interval"]):
                return
    cpu0 = cpu_seconds(pid)
    thread = threading.Thread(target=sampler, daemon=True)
    thread.start()
    i = 0
    while time.monotonic() - t0 < p["duration"]:
        topic, count, _ = p["workloads"][i % len(p["workloads"])]
        r = perf(folder, "consume", "--bootstrap", bootstrap, "--topic", topic, "--count", count)
        runs.append({"topic": topic, "messages": r.get("messages", count),
                     "bytes": r["bytes"], "seconds": r["seconds"], "mb_per_s": r["mb_per_s"]})
        i += 1
    wall = time.monotonic() - t0
    stop.set()
    thread.join()
    samples.append(sample(pid, "load", t0))
    return {"samples": samples, "runs": runs, "wall_s": wall,
            "cpu_share": (cpu_seconds(pid) - cpu0) / wall}


def slope_mib_per_min(points):
    """Least-squares slope of RSS over time."""
    if len(points) < 2:
        return float("nan")
    xs = [s["t"] / 60 for s in points]
    ys = [s["VmRSS"] / KIB for s in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else float("nan")


def summarize(result):
    s = result["load"]["samples"]
    rss = [x["VmRSS"] / KIB for x in s]
    half = [x for x in s if x["t"] >= s[-1]["t"] / 2]
    first_half = [x["VmRSS"] / KIB for x in s if x["t"] < s[-1]["t"] / 2]
    last_quarter = [x["VmRSS"] / KIB for x in s if x["t"] >= s[-1]["t"] * 3 / 4]
    runs = result["load"]["runs"]
    total = sum(r["bytes"] for r in runs)
    secs = sum(r["seconds"] for r in runs)
    return {"first": rss[0], "last": rss[-1], "max": max(rss), "hwm": s[-1]["VmHWM"] / KIB,
            "slope": slope_mib_per_min(s), "slope_half": slope_mib_per_min(half),
            "fds_start": s[0]["fds"], "fds_end": s[-1]["fds"], "fds_max": max(x["fds"] for x in s),
            # Bounded: no new high in the last quarter beyond the first half's, + 1 MiB.
            "bounded": bool(first_half) and max(last_quarter) <= max(first_half) + 1,
            "runs": len(runs), "mib": total / MIB,
            "mb_per_s": total / 1e6 / secs if secs else float("nan")}


# ------------------------------------------------------------------ report

def mib(kib):
    return f"{kib / KIB:.1f}"


def section(data, plot_rel):
    """The memory section of docs/benchmarks.md from the run's JSON."""
    result, summary, info, p, run = data, data["summary"], data["machine"], data["plan"], data["run"]
    wall = run["wall_s"]
    lines = []
    a = lines.append
    a(f"## {bench_page.TITLES['memory']}")
    a("")
    a("Resident memory of one `tidemark serve` idle, holding many idle client connections, and")
    a(f"under full-rate consumption. Targets (issue 9): idle ≤ {MAX_IDLE_MIB} MiB; bounded under"
      " load (no growth over a 10-minute run).")
    a("")
    lines.extend(run_table_head(info))
    a(binary_row(info))
    a(f"| cluster | `tidemark-embedded-kafka --brokers 3` (librdkafka {result['librdkafka']} mock"
      " cluster), topics " + ", ".join(f"`{t}:{n}`" for t, n in TOPICS.items()) + " |")
    a(f"| run | {'smoke sizes' if run['smoke'] else 'full sizes'}, load phase {p['duration']:.0f} s,"
      f" wall time {wall:.0f} s; `nice -n 19` beside other work (the machine is shared: builds"
      " may have run concurrently) |")
    a("")
    a("### Resident memory by state")
    a("")
    a("| state | VmRSS MiB | VmHWM MiB | open fds | threads |")
    a("|---|---:|---:|---:|---:|")
    for s in result["states"]:
        a(f"| {s['label']} | **{mib(s['VmRSS'])}** | {mib(s['VmHWM'])} | {s['fds']} | "
          f"{s['Threads']} |")
    a("")
    idle = result["states"][1]["VmRSS"] / KIB
    conn = result["states"][3]
    per = (conn["VmRSS"] - result["states"][1]["VmRSS"]) / p["connections"]
    a(f"- Idle (default `remote.mode: async`): **{idle:.1f} MiB**, target ≤ {MAX_IDLE_MIB} MiB: "
      f"{'met' if idle <= MAX_IDLE_MIB else 'missed'}; with the remote off "
      f"{result['states'][0]['VmRSS'] / KIB:.1f} MiB.")
    a(f"- {p['connections']:,} client connections, each after one ApiVersions request: "
      f"{per:.1f} KiB of RSS per connection above idle (the proxy opens an upstream connection"
      f" for each one it accepts); {conn['answered']:,} of them answered within 60 s, the last"
      f" after {conn['answer_s']:.1f} s.")
    if conn["answered"] < p["connections"]:
        a("  The others' requests sat unacknowledged on the sidecar's upstream sockets: the mock"
          " broker listens with a backlog of 5, so a burst of upstream connects overflows its"
          " accept queue and TCP recovers only by retransmission (the same requests sent"
          " directly to the mock, one connection at a time, are all answered).")
    a("")
    a("### Under full-rate consumption")
    a("")
    a("| load phase | consumer runs | consumed | consumer MB/s | RSS first | RSS last | RSS max "
      "| slope, whole run | slope, second half | bounded | open fds start / end / max | "
      "sidecar CPU |")
    a("|---:|---:|---:|---:|---:|---:|---:|---:|---:|:-:|---:|---:|")
    a(f"| {result['load']['wall_s']:.0f} s | {summary['runs']:,} | {summary['mib']:,.0f} MiB | "
      f"{summary['mb_per_s']:.0f} | {summary['first']:.1f} MiB | {summary['last']:.1f} MiB | "
      f"**{summary['max']:.1f} MiB** | {summary['slope']:+.2f} MiB/min | "
      f"**{summary['slope_half']:+.2f} MiB/min** | {'met' if summary['bounded'] else 'missed'} | "
      f"{summary['fds_start']} / {summary['fds_end']} / {summary['fds_max']} | "
      f"{result['load']['cpu_share'] * 100:.0f}% of a core |")
    a("")
    a(f"Sampled every {p['interval']} s. Consumers run one after another, alternating "
      + " and ".join(f"{n:,} × {s:,} B from `{t}`" for t, n, s in p["workloads"])
      + "; each is a new `tidemark-rdkafka-perf consume` process (librdkafka 2.0.2, assign() of"
      " every partition from the beginning, no group), so connections to the sidecar open and"
      " close all the time. Slope: least squares of VmRSS over time. *Bounded*: no sample in"
      " the last quarter of the run above the first half's highest by more than 1 MiB.")
    a("")
    a(plot_note(plot_rel, "sidecar RSS under load"))
    a("")
    a("### Notes")
    a("")
    a("- VmRSS and VmHWM (the peak since start) from `/proc/PID/status`; fds: entries of"
      " `/proc/PID/fd`. Each state is sampled after a settling pause of "
      f"{p['settle']} s.")
    a("- The sidecar keeps up to 64 MiB of freed heap for reuse (`mallopt(M_TRIM_THRESHOLD)` in"
      " sidecar/cli/run_sidecar.cc, for the proxy's 256 KiB read buffers), so RSS under load"
      " reflects the peak of buffers in flight, and need not fall back to idle afterwards.")
    a("- Config: the harness's (`tests/harness/tidemark.py`), `log.level: info`, default"
      " checkpoint triggers (the consumers commit no offsets, so no checkpoint is taken).")
    a("- Client, sidecar and mock cluster share the machine's 2 vCPUs.")
    a("")
    a("### Reproduce")
    a("")
    a("```sh")
    a("scripts/bench memory                  # build, 10-minute load, rewrite this section")
    a("scripts/bench memory --duration 120   # a 2-minute load phase")
    a("scripts/bench memory --smoke          # 20 s, 100 connections, build/bench/")
    a("```")
    a("")
    a("This run: `" + " ".join(["bench/memory_bench.py", *run["argv"]]).strip() + "`.")
    return "\n".join(lines) + "\n"


def targets(data):
    """Issue 9's memory targets for the summary of docs/benchmarks.md."""
    states, summary, p = data["states"], data["summary"], data["plan"]
    idle, off = states[1]["VmRSS"] / KIB, states[0]["VmRSS"] / KIB
    conn = states[3]
    per = (conn["VmRSS"] - states[1]["VmRSS"]) / p["connections"]
    return {
        "memory_idle": {"figure": f"{idle:.1f} MiB (`remote.mode: async`), {off:.1f} MiB"
                                  " (remote off)", "baseline": "", "ratio": "",
                        "status": "met" if idle <= MAX_IDLE_MIB else "missed"},
        "memory_conns": {"figure": f"{conn['VmRSS'] / KIB:.1f} MiB with {p['connections']:,}"
                                   f" connections ({per:.1f} KiB each above idle)",
                         "baseline": "", "ratio": "", "status": "reported"},
        "memory_load": {"figure": f"max {summary['max']:.1f} MiB over {data['load']['wall_s']:.0f}"
                                  f" s; slope of the second half {summary['slope_half']:+.2f}"
                                  " MiB/min", "baseline": "", "ratio": "",
                        "status": "met" if summary["bounded"] else "missed"}}


def plot(result, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = result["load"]["samples"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [2, 1]})
    t = [x["t"] / 60 for x in s]
    ax1.plot(t, [x["VmRSS"] / KIB for x in s], label="VmRSS")
    ax1.plot(t, [x["VmHWM"] / KIB for x in s], "--", label="VmHWM (peak)")
    ax1.axhline(result["states"][1]["VmRSS"] / KIB, color="grey", linestyle=":", label="idle")
    ax1.set(xlabel="minutes of load", ylabel="MiB", title="Sidecar memory under consumption")
    ax1.set_ylim(bottom=0)
    ax1.legend(fontsize=8)
    states = result["states"]
    ax2.barh(range(len(states)), [x["VmRSS"] / KIB for x in states], color="#4c72b0")
    ax2.set_yticks(range(len(states)), [x["label"].replace("`", "") for x in states], fontsize=7)
    ax2.invert_yaxis()
    ax2.axvline(MAX_IDLE_MIB, color="r", linestyle="--", label=f"idle target {MAX_IDLE_MIB} MiB")
    ax2.set(xlabel="VmRSS MiB", title="By state")
    ax2.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="20 s load, 100 connections")
    parser.add_argument("--duration", type=float, help="seconds of load (default 600)")
    parser.add_argument("--interval", type=float, help="seconds between samples (default 5)")
    parser.add_argument("--connections", type=int, help="idle connections (default 1000)")
    add_binary_args(parser)
    args = parser.parse_args()
    args.argv = sys.argv[1:]
    folder = binaries(args, ["tidemark-embedded-kafka", "tidemark-rdkafka-perf"])
    md, png, raw = outputs(args, folder, "memory")
    p = plan(args)
    can_plot = ensure_matplotlib(args.plot)
    started, load_before = time.monotonic(), load_average()
    scratch = pathlib.Path(tempfile.mkdtemp(prefix="tidemark-memory-"))
    cluster = EmbeddedKafka(brokers=3, topics=[f"{t}:{n}" for t, n in TOPICS.items()])
    result = {"librdkafka": cluster.librdkafka, "states": []}
    states = result["states"]
    base = {"job.id": "bench", "log.level": "info"}
    try:
        for topic, count, size in p["workloads"]:  # untimed, directly to the cluster
            perf(folder, "produce", "--bootstrap", cluster.bootstrap, "--topic", topic,
                 "--count", count, "--size", size, "--acks", "1")
        log("filled topics")
        off = Sidecar(scratch / "off", cluster.bootstrap, {**base, "remote.mode": "off"})
        time.sleep(p["settle"])
        states.append(sample(off.proc.pid, "idle after start, `remote.mode: off`"))
        off.terminate()
        sidecar = Sidecar(scratch / "main", cluster.bootstrap, {**base, "remote.mode": "async"})
        try:
            pid = sidecar.proc.pid
            time.sleep(p["settle"])
            states.append(sample(pid, "idle after start, `remote.mode: async` (default)"))
            states.extend(idle_connections(pid, sidecar.fields["proxy"], p["connections"],
                                           p["settle"]))
            result["load"] = load(folder, pid, sidecar.fields["proxy"], p)
            s = result["load"]["samples"]
            states.append({**s[0], "label": "load: first sample"})
            states.append({**max(s, key=lambda x: x["VmRSS"]), "label": "load: highest sample"})
            states.append({**s[-1], "label": "load: last sample"})
            time.sleep(p["settle"])
            states.append(sample(pid, "idle again after the load"))
            if sidecar.proc.poll() is not None:
                raise RuntimeError(f"sidecar exited: {sidecar.log.lines[-5:]}")
        finally:
            sidecar.terminate()
    finally:
        cluster.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    wall = time.monotonic() - started
    summary = summarize(result)
    info = {**machine(), "load_before": load_before, "folder": str(folder),
            "binary_time": binary_time(folder)}
    if can_plot:
        plot(result, png)
    data = {"machine": info, "run": {"smoke": args.smoke, "argv": args.argv, "wall_s": wall},
            "plan": p, "summary": summary, **result}
    md, raw = bench_page.publish("memory", data, targets, section, png if can_plot else None,
                                 args.smoke, folder, args.output)
    plot_rel = can_plot
    print(f"{'state':<56} {'VmRSS MiB':>9} {'VmHWM MiB':>9} {'fds':>5}")
    for s in states:
        print(f"{s['label']:<56} {mib(s['VmRSS']):>9} {mib(s['VmHWM']):>9} {s['fds']:>5}")
    print(f"load {result['load']['wall_s']:.0f} s, {summary['runs']} consumer runs, "
          f"{summary['mib']:,.0f} MiB at {summary['mb_per_s']:.0f} MB/s: RSS first "
          f"{summary['first']:.1f} last {summary['last']:.1f} max {summary['max']:.1f} MiB, slope "
          f"{summary['slope']:+.2f} MiB/min (second half {summary['slope_half']:+.2f}), fds "
          f"{summary['fds_start']} -> {summary['fds_end']}; bounded: "
          f"{'met' if summary['bounded'] else 'missed'}")
    print(f"wall {wall:.0f} s; wrote {md}" + (f", {png}" if plot_rel else
                                              " (plot skipped: no matplotlib)") + f", {raw}")


if __name__ == "__main__":
    main()
