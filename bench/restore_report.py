"""The report of bench/restore_bench.py: its Markdown section and PNG plot."""

from bench_common import KIB, MIB, binary_row, plot_note, run_table_head
from bench_page import TITLES


def ms(v):
    if v is None:
        return "–"
    return (f"{v * 1e3:.2f}" if abs(v) < 0.001 else f"{v * 1e3:,.1f}" if abs(v) < 10
            else f"{v * 1e3:,.0f}")


def ratio(v):
    if v is None:
        return "–"
    return f"{v:.3f}×" if v < 0.01 else f"{v:.2f}×" if v < 0.95 else f"{v:.1f}×"


def num(x, unit=""):
    return "–" if x is None else f"{x:,.0f}{unit}"


def verdict(target, *ratios):
    ok = [v for v in ratios if v is not None]
    return "–" if not ok else "met" if max(ok) <= target else "missed"


def rest(r, case):
    """Median time to ready minus the restore alone minus the empty store's start."""
    m, i = r["median"], r["inside"][case]
    if m[case] is None or m["empty"] is None or i["restore_s"] is None:
        return None
    return m[case] - i["restore_s"] - m["empty"]


def restore_alone(rows):
    """The restore-alone ratios (cold and warm) of every measured size."""
    return [v for r in rows for v in (r["ratio"]["restore_cold"], r["ratio"]["restore_warm"])
            if v is not None]


def findings(rows, target):
    """The results against the target, in words, from this run's figures."""
    ok = [r for r in rows if r["ratio"]["local_warm"] is not None]
    if not ok:
        return []
    big = ok[-1]
    warm = [r["ratio"]["local_warm"] for r in ok]
    cold = [r["ratio"]["local_cold"] for r in ok]
    alone = restore_alone(ok)
    mb = big["bytes"] / 1e6
    out = [f"Against the target (≤ {target:g}×): the restore itself takes "
           f"{ratio(min(alone))}–{ratio(max(alone))} the file read (cold and warm, every size), so it "
           + ("meets" if alone and max(alone) <= target else "misses")
           + f" the target in this run. Time to ready, process start included, takes "
           f"{min(cold):.1f}–{max(cold):.1f}× the cold file read and {min(warm):.1f}–"
           f"{max(warm):.1f}× the warm one; where it misses, the process start alone "
           f"({ms(big['median']['empty'])} ms with an empty store at {size_name(big['bytes'])}) "
           "takes longer than reading the whole file."]
    back = big["inside"]["local_warm"]["readback_s"]
    if back:
        out.append(f" The state's bytes are read when asked for: reading all "
                   f"{size_name(big['bytes'])} back once with GET after a restart took "
                   f"{ms(big['inside']['local_cold']['readback_s'])} ms cold and {ms(back)} ms "
                   f"warm ({mb / back:,.0f} MB/s; the file read {mb / big['median']['file_warm']:,.0f}"
                   f" MB/s warm, {mb / big['median']['file_cold']:,.0f} MB/s cold).")
    if big["median"]["local_remote"] is not None:
        out.append(f" With the remote on, every restart also reads the checkpoint topic: "
                   f"{big['median']['local_remote']:.1f} s instead of "
                   f"{big['median']['local_warm']:.2f} s at {size_name(big['bytes'])}.")
    return ["".join(out), ""]


def size_name(b):
    return f"{b // MIB:,} MiB" if b < 1 << 30 else f"{b / (1 << 30):g} GiB"


def section(data, plot_rel):
    """The restore section of docs/benchmarks.md from the run's JSON (restore_bench.py)."""
    rows, info, run, setup = data["rows"], data["machine"], data["run"], data["setup"]
    target, cases, value_bytes = setup["target"], setup["cases"], setup["value_bytes"]
    reps, wall = run["reps"], run["wall_s"]
    lines = []
    a = lines.append
    a(f"## {TITLES['restore']}")
    a("")
    a("How long a restarted sidecar takes to serve again, as a function of the state it restores,")
    a("against reading the same number of bytes from a file in the same directory in the same run.")
    a(f"Target (issue 9): a local restore ≤ {target:g}× the file read.")
    a("")
    lines.extend(run_table_head(info))
    a(binary_row(info))
    a(f"| disk | the scratch directory's filesystem: {info['filesystem']} (this VM's disk: the"
      " host may cache it) |")
    a(f"| run | {'smoke sizes' if run['smoke'] else 'full sizes'}, {reps} "
      f"repetition{'s' if reps > 1 else ''}, wall time "
      f"{wall:.0f} s; `nice -n 19` beside other work (the machine is shared: builds may have run "
      "concurrently) |")
    a("")
    a("### Time to ready (ms, medians)")
    a("")
    a("| state | file, cold | file, warm | start, empty store | local, cold | local, warm | "
      "local + remote read | remote, empty disk |")
    a("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        m = r["median"]
        cells = [ms(m[c]) if c not in r["failed"] else "failed" for c in cases]
        a(f"| {size_name(r['bytes'])} | " + " | ".join(cells) + " |")
    a("")
    a("| state | ready, local cold / file cold | ready, local warm / file warm | "
      "restore alone, cold / file cold | restore alone, warm / file warm | "
      f"target ≤ {target:g}×: restore alone / ready | read back all, cold / file cold | "
      "read back all, warm / file warm | local + remote read / file warm | remote / file cold |")
    a("|---:|---:|---:|---:|---:|:-:|---:|---:|---:|---:|")
    for r in rows:
        q = r["ratio"]
        a(f"| {size_name(r['bytes'])} | {ratio(q['local_cold'])} | {ratio(q['local_warm'])}"
          f" | **{ratio(q['restore_cold'])}** | **{ratio(q['restore_warm'])}** | "
          f"{verdict(target, q['restore_cold'], q['restore_warm'])} / "
          f"{verdict(target, q['local_cold'], q['local_warm'])} | "
          f"{ratio(q['readback_cold'])} | {ratio(q['readback_warm'])} | "
          f"{ratio(q['local_remote'])} | {ratio(q['remote'])} |")
    a("")
    a("Ratios: the median over repetitions of the pair's ratio within one repetition.")
    a("")
    lines.extend(findings(rows, target))
    a("- *Time to ready*: from exec of `tidemark serve` to the first `200` of `GET /readyz`")
    a("  (polled every 2 ms; the HTTP listener opens only once the restore is done), so it")
    a("  includes starting the process, opening the store, the proxy's listeners and the HTTP")
    a("  server: *start, empty store* is that fixed cost alone.")
    a("- *File*: a file of the same size in the same directory, written once (random bytes,")
    a("  fsynced) and read by Python in 1 MiB reads, one object per 1 MiB as the sidecar keeps")
    a("  one per value. *Cold*: after `sync` and `posix_fadvise(DONTNEED)` on the file (on this")
    a("  VM the host may still cache the disk, so cold here is cold-ish); *warm*: read once")
    a("  before.")
    a("- *Local*: the filled store, `remote.mode: off`; cold drops its database, WAL and shm files")
    a("  from the page cache the same way, warm reads them once before.")
    a("- *Local + remote read*: the same store with `remote.mode: async`, warm: every start reads")
    a("  the whole checkpoint topic first (to find a newer remote checkpoint), so with the remote")
    a("  on, this is what a restart costs.")
    a("- *Remote, empty disk*: a new data directory, `remote.mode: async`: the sidecar reads the")
    a("  topic, imports the checkpoint into its new SQLite store (durable), then restores from it.")
    a("- *Restore alone*: the sidecar's `tidemark_restore_duration_seconds`, its restore of the")
    a("  newest checkpoint without the process start around it. It reads the checkpoint's index")
    a("  (offsets, and each value's key, size and SHA-256), not the state's bytes: those stay in")
    a("  the store and are read, and verified, when asked for (`state.cache_bytes` keeps recently")
    a("  read ones in memory).")
    a("- *Read back all*: after the local starts (before anything else is read), every value is")
    a("  read once with `GET /v1/state/…` over one keep-alive connection, in key order: the")
    a("  cost of the bytes, paid when the application asks for them.")
    a("- Every restore was checked: `tidemark_restore_bytes` equal to the state filled in (and")
    a("  the bytes read back adding up to it), and the first, middle and last values equal by")
    a("  SHA-256.")
    a("")
    a("### Inside the sidecar (medians)")
    a("")
    a("| state | values | checkpoint topic partitions | fill: PUTs s | checkpoint s | upload s | "
      "restore alone, cold / warm ms | rest of the start, cold / warm ms | read back all, cold / "
      "warm ms | remote read + import ms | peak RSS, local warm: ready / read back | "
      "peak RSS, local + remote read / remote |")
    a("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        f, i = r["fill"], r["inside"]
        n = r["bytes"] // min(r["bytes"], value_bytes)
        a(f"| {size_name(r['bytes'])} | {n:,} × {size_name(min(r['bytes'], value_bytes))} | "
          f"{r['partitions']:,} | {f['put_s']:.1f} | {f['checkpoint_s']:.1f} | "
          f"{f['upload_s']:.1f} | "
          f"{ms(i['local_cold']['restore_s'])} / {ms(i['local_warm']['restore_s'])} | "
          f"{ms(rest(r, 'local_cold'))} / {ms(rest(r, 'local_warm'))} | "
          f"{ms(i['local_cold']['readback_s'])} / {ms(i['local_warm']['readback_s'])} | "
          f"{num(i['remote']['remote_ms'])} | {num(i['local_warm']['hwm_mib'], ' MiB')} / "
          f"{num(i['local_warm']['readback_hwm_mib'], ' MiB')} | "
          f"{num(i['local_remote']['hwm_mib'], ' MiB')} / {num(i['remote']['hwm_mib'], ' MiB')} |")
    a("")
    a("*Rest of the start*: time to ready minus the restore alone minus the empty store's start:")
    a("what else a store holding this state costs (the store checks the integrity of every")
    a("table but the blobs when it opens; each blob is verified by its SHA-256 when read).")
    a("*Remote read + import*: the `duration_ms` of its `restored from the remote` log line")
    a("(reading the topic, checking every blob's hash, committing the checkpoint locally).")
    a("Peak RSS: `VmHWM` just after ready, and after reading every value back: the sidecar")
    a("keeps checkpointed state in memory only within `state.cache_bytes` (64 MiB by default).")
    a("With the remote on, the start's read of the checkpoint topic holds the blob chunks it")
    a("reads until it is done, imported or not: a little more than the state at its peak.")
    a("")
    failures = [(r, c, e) for r in rows for c, e in r["failed"].items()]
    if failures:
        a("**Not measured:**")
        a("")
        for r, c, e in failures:
            a(f"- {size_name(r['bytes'])}, {c}: {e}")
        a("")
    a(plot_note(plot_rel, "restore time vs state size"))
    a("")
    a("### Notes")
    a("")
    a("- The remote is `tidemark-embedded-kafka --brokers 3` (librdkafka's mock cluster), one per")
    a("  size. It keeps only the newest ~5 MB of each partition, so the checkpoint topic gets")
    a(f"  enough partitions for ≤ 1 chunk ({setup['chunk_bytes'] // KIB} KiB,"
      " `remote.kafka.chunk_bytes`)")
    a("  per partition on average (`remote.kafka.partitions`, column above); a size whose")
    a("  chunks it dropped anyway fails to restore and is listed as not measured, never")
    a("  estimated.")
    a(f"- The benchmark creates `{setup['topic']}` in the mock with those partitions before the")
    a("  first sidecar starts: otherwise the sidecar's restore read at its first start (a Metadata")
    a("  request for the topic; the mock ignores `allow.auto.create.topics=false`) auto-creates")
    a("  it with the mock's default 4 partitions, `remote.kafka.partitions` is never applied, and")
    a("  16 MiB of state no longer fits the mock's retention.")
    a("- Client, sidecar and mock cluster share the machine's 2 vCPUs.")
    a("")
    a("### Reproduce")
    a("")
    a("```sh")
    a("scripts/bench restore                 # build, full run (1 MiB … 1 GiB), rewrite this section")
    a("scripts/bench restore --max-mib 128   # sizes up to 128 MiB")
    a("scripts/bench restore --smoke         # 1 and 4 MiB, one repetition, build/bench/")
    a("```")
    a("")
    a("This run: `" + " ".join(["bench/restore_bench.py", *run["argv"]]).strip() + "`.")
    return "\n".join(lines) + "\n"


def targets(data):
    """Issue 9's restore target for the summary of docs/benchmarks.md."""
    rows, target = data["rows"], data["setup"]["target"]
    ok = [r for r in rows if r["ratio"]["local_warm"] is not None
          and r["ratio"]["local_cold"] is not None]
    if not ok:
        return {"restore": {"figure": "not measured (every size failed)", "baseline": "",
                            "ratio": "", "status": "missed"}}
    big, m = ok[-1], ok[-1]["median"]
    cold = [r["ratio"]["local_cold"] for r in ok]
    warm = [r["ratio"]["local_warm"] for r in ok]
    alone = restore_alone(ok)
    remote = "" if m["remote"] is None else f"; from the remote (empty disk) {ms(m['remote'])} ms"
    span = f"{size_name(ok[0]['bytes'])}…{size_name(big['bytes'])}"
    return {"restore": {
        "figure": f"time to ready at {size_name(big['bytes'])}: local {ms(m['local_cold'])} ms"
                  f" cold, {ms(m['local_warm'])} ms warm{remote}",
        "baseline": f"{ms(m['file_cold'])} ms cold, {ms(m['file_warm'])} ms warm",
        "ratio": f"restore alone {ratio(min(alone))}–{ratio(max(alone))}; time to ready "
                 f"{min(cold):.1f}–{max(cold):.1f}× cold, {min(warm):.1f}–{max(warm):.1f}× warm,"
                 f" process start included ({span})",
        "status": "met" if alone and max(alone) <= target else "missed"}}


def plot(rows, path, setup):
    target = setup["target"]
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    xs = [r["bytes"] / MIB for r in rows]
    for case, label, style in (("file_cold", "file, cold", "k--"),
                               ("file_warm", "file, warm", "k:"),
                               ("local_cold", "local, cold", "o-"),
                               ("local_warm", "local, warm", "s-"),
                               ("local_remote", "local + remote read", "^-"),
                               ("remote", "remote, empty disk", "v-")):
        pts = [(x, r["median"][case]) for x, r in zip(xs, rows) if r["median"][case]]
        if pts:
            ax1.plot(*zip(*pts), style, label=label)
    for case, label in (("local_cold", "read back all, cold"),
                        ("local_warm", "read back all, warm")):
        pts = [(x, r["inside"][case]["readback_s"]) for x, r in zip(xs, rows)
               if r["inside"][case].get("readback_s")]
        if pts:
            ax1.plot(*zip(*pts), "x:", label=label)
    ax1.set(xscale="log", yscale="log", xlabel="state (MiB)", ylabel="seconds",
            title="Time to ready, and to read everything back")
    ax1.legend(fontsize=8)
    for key, label in (("restore_cold", "restore alone / file, cold"),
                       ("restore_warm", "restore alone / file, warm"),
                       ("local_cold", "ready, local / file, cold"),
                       ("local_warm", "ready, local / file, warm"),
                       ("remote", "ready, remote / file, cold")):
        pts = [(x, r["ratio"][key]) for x, r in zip(xs, rows) if r["ratio"][key]]
        if pts:
            ax2.plot(*zip(*pts), "o-", label=label)
    ax2.axhline(target, color="r", linestyle="--", label=f"target {target:g}×")
    ax2.set(xscale="log", yscale="log", xlabel="state (MiB)", ylabel="× the file read",
            title="Against reading the same bytes from a file")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
