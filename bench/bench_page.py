#!/usr/bin/python3
"""The one benchmark page, docs/benchmarks.md: a header, a summary of every
target of issue 9 against its baseline, then one section per benchmark.

    bench/bench_page.py                  # regenerate docs/benchmarks.md from bench/results/*.json
    bench/bench_page.py --smoke --build-dir build   # the same for BUILD/bench/benchmarks-smoke.md

Each benchmark script (bench/{proxy,checkpoint,restore,memory}_bench.py) keeps
its results as JSON (bench/results/NAME.json; smoke runs BUILD/bench/results/)
and calls publish(), which rewrites only its own section of the page, between
`<!-- bench:NAME:begin -->` and `<!-- bench:NAME:end -->`, and regenerates the
header and the summary from every benchmark's JSON. Everything outside the
markers is generated: edit the scripts, not the page.

Regenerating (this script, run directly) renders again each section whose JSON
holds a whole run; a JSON marked "hand_kept" holds only the summary's figures,
transcribed from an earlier page whose raw results were not kept, and its
section's text is kept as it is until that benchmark runs again.
"""

import argparse
import importlib
import json
import os
import pathlib
import re
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
BENCH = pathlib.Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

NAMES = ("proxy", "checkpoint", "restore", "memory")
TITLES = {"proxy": "Proxy overhead: through the sidecar vs directly",
          "checkpoint": "Checkpoints and the state API",
          "restore": "Restore time vs state size",
          "memory": "Memory"}
SCRIPTS = {n: f"bench/{n}_bench.py" for n in NAMES}
PAGE = REPO / "docs" / "benchmarks.md"
RESULTS = REPO / "bench" / "results"

# Issue 9's targets, in its order: (key, benchmark, what, baseline, goal, blocked by).
# The benchmark's JSON "targets"[key] gives the figure, the baseline's figure, the
# ratio and met/missed/reported.
TARGETS = (
    ("consume", "proxy", "consumer throughput, 1M × 100 B and 100k × 10 KiB",
     "same consumer direct", "≥ 0.95×", "issue 3"),
    ("produce", "proxy", "producer throughput, same sizes", "direct", "≥ 0.95×", "issue 3"),
    ("latency", "proxy", "small-request round trip p50/p99", "direct", "≤ +50 µs p50", None),
    ("proxy_cpu", "proxy", "proxy CPU per MiB forwarded", "—", "reported", None),
    ("commit", "checkpoint", "checkpoint commit p50/p99, 64 partitions + 64 KiB state",
     "bare SQLite transaction of same bytes", "≤ 1.5×", None),
    ("changed", "checkpoint", "checkpoint cost vs fraction of state changed "
     "(1/10/100% of 100 MiB)", "—", "∝ changed bytes (plot)", None),
    ("http", "checkpoint", "HTTP PUT/GET 1 KiB keep-alive, wrk", "—",
     "≥ 50,000 req/s on 2 cores; p99 reported", None),
    ("restore", "restore", "restore time vs state size (1 MiB…1 GiB), local and from remote",
     "reading same bytes from a file", "plot; local ≤ 2× file read", None),
    ("memory_idle", "memory", "memory: RSS idle", "—", "idle ≤ 20 MiB", None),
    ("memory_conns", "memory", "memory: 1,000 idle connections", "—", "reported", None),
    ("memory_load", "memory", "memory: full-rate consumption", "—", "bounded under load", None),
)
BLOCKED = {"issue 3": "the proxy's throughput targets are out of reach on 2 shared vCPUs, where "
           "client, cluster and sidecar share the CPUs; the relay floor in the proxy section "
           "shows what one bare user-space relay hop costs on this machine"}


def begin(name):
    return f"<!-- bench:{name}:begin -->"


def end(name):
    return f"<!-- bench:{name}:end -->"


def anchor(title):
    """GitHub's anchor for a heading."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def heading(name):
    return f"## {TITLES[name]}"


# ------------------------------------------------------------------ paths

def locations(smoke, build=None, output=None):
    """(page, results folder): docs/ and bench/results/, or BUILD/bench/ for smoke runs
    (a smoke run never writes docs/ or bench/results/)."""
    build = pathlib.Path(build or os.environ.get("TIDEMARK_BUILD_DIR", REPO / "build"))
    if smoke:
        page = pathlib.Path(output) if output else build / "bench" / "benchmarks-smoke.md"
        return page.resolve(), (build / "bench" / "results").resolve()
    page = pathlib.Path(output) if output else PAGE
    return page.resolve(), RESULTS


def plot_path(name, smoke, build=None):
    """Where NAME's PNG goes: bench/results/NAME.png, smoke BUILD/bench/NAME-smoke.png."""
    build = pathlib.Path(build or os.environ.get("TIDEMARK_BUILD_DIR", REPO / "build"))
    if smoke:
        return (build / "bench" / f"{name}-smoke.png").resolve()
    return RESULTS / f"{name}.png"


def plot_link(png, page):
    """The PNG's path relative to the page, or None if there is no PNG."""
    return os.path.relpath(png, page.parent) if png and pathlib.Path(png).exists() else None


# ------------------------------------------------------------------ the page

def sections_of(text):
    """{name: the text between its markers} of an existing page."""
    found = {}
    for name in NAMES:
        m = re.search(re.escape(begin(name)) + r"\n(.*?)" + re.escape(end(name)), text, re.S)
        if m:
            found[name] = m.group(1)
    return found


def load_results(folder):
    out = {}
    for name in NAMES:
        path = folder / f"{name}.json"
        if path.exists():
            out[name] = json.loads(path.read_text())
    return out


def describe_machine(m):
    return (f"{m['nproc']} CPUs (`nproc`), {m['cpu']}, {m['memory']} RAM, Linux {m['kernel']}")


def header(results, smoke):
    lines = ["# Benchmarks", ""]
    a = lines.append
    a("Generated by `scripts/bench` (bench/bench_page.py and the four benchmark scripts);"
      " do not edit by hand: each run rewrites its own section and this header and summary."
      " Performance is measured here, never asserted in tests."
      + (" **Smoke run: tiny sizes, the figures mean nothing.**" if smoke else ""))
    a("")
    a("Where a target has a baseline, the figure is compared with it as a ratio (or a"
      " difference), the baseline measured on the same machine in the same run, alternating with"
      " it where the benchmark can, because absolute times on shared machines drift.")
    a("")
    machines = {}
    for name in NAMES:
        if name in results:
            machines.setdefault(describe_machine(results[name]["machine"]), []).append(name)
    if machines:
        a("Machine: " + "; ".join(
            f"{desc} ({', '.join(names)})" if len(machines) > 1 else desc
            for desc, names in machines.items())
          + ". Each section's run table gives its date, load average and commit.")
        a("")
    a("```sh")
    a("scripts/bench                  # build, run every benchmark (~25 minutes on 2 cores),"
      " rewrite this page")
    a("scripts/bench restore          # one of proxy|checkpoint|restore|memory: rewrites its"
      " section only")
    a("scripts/bench --smoke          # tiny sizes (a few minutes), for CI: writes"
      " build/bench/, never docs/")
    a("scripts/bench --plot           # also installs python3-matplotlib for the PNG plots")
    a("bench/bench_page.py            # rebuild this page from bench/results/*.json, running"
      " nothing")
    a("```")
    a("")
    return lines


def summary(results):
    lines = ["## Summary", ""]
    a = lines.append
    a("| target | goal | measured | baseline (same run) | ratio | status |")
    a("|---|---|---|---|---|:-:|")
    notes = []
    for key, name, what, base, goal, blocked in TARGETS:
        link = f"[{what}](#{anchor(TITLES[name])})"
        r = results.get(name)
        t = (r or {}).get("targets", {}).get(key)
        if t is None:
            a(f"| {link} | {goal} | not measured: `scripts/bench {name}` | {base} | – | – |")
            continue
        status = t["status"]
        if blocked:
            status = f"blocked ({blocked}); {status} in this run"
            if blocked not in notes:
                notes.append(blocked)
        baseline = base if t.get("baseline") in (None, "", "—") else \
            f"{base}: {t['baseline']}" if base != "—" else t["baseline"]
        a(f"| {link} | {goal} | {t['figure']} | {baseline} | {t.get('ratio') or '–'} | "
          f"{status} |")
    a("")
    for n in notes:
        a(f"Blocked ({n}): {BLOCKED[n]}.")
        a("")
    dates = [f"{name} {results[name]['machine']['date']}"
             + (" (hand-kept: " + results[name]["hand_kept"] + ")"
                if results[name].get("hand_kept") else "")
             for name in NAMES if name in results]
    if dates:
        a("Runs: " + "; ".join(dates) + ".")
        a("")
    return lines


def render_page(results, sections, smoke):
    lines = header(results, smoke) + summary(results)
    for name in NAMES:
        body = sections.get(name)
        if body is None:
            body = (f"{heading(name)}\n\nNot measured yet: `scripts/bench {name}` "
                    f"({SCRIPTS[name]}).\n")
        lines += [begin(name), body.rstrip("\n"), end(name), ""]
    return "\n".join(lines)


def write(page, results_dir, new_sections=None, smoke=False):
    """Rewrites `page`: the given sections replaced, the others kept, header and summary
    regenerated from the JSON in results_dir."""
    old = page.read_text() if page.exists() else ""
    sections = sections_of(old)
    sections.update(new_sections or {})
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(render_page(load_results(results_dir), sections, smoke))


def save_results(results_dir, name, data):
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{name}.json"
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False, default=str) + "\n")
    return path


def publish(name, data, targets, section, png, smoke, build=None, output=None):
    """What a benchmark script calls at the end of a run: takes `data` as a regeneration
    from the JSON will see it, adds `targets(data)`, saves the JSON (which must hold
    "machine") and rewrites its section, `section(data, plot link or None)`, of the page.
    `png`: the run's plot, or None. Returns (page, json)."""
    data = json.loads(json.dumps(data))
    data["targets"] = targets(data)
    page, results_dir = locations(smoke, build, output)
    path = save_results(results_dir, name, data)
    write(page, results_dir, {name: section(data, plot_link(png, page))}, smoke)
    return page, path


# ------------------------------------------------------------------ regeneration

def regenerate(smoke=False, build=None, output=None):
    """Renders again every section whose JSON holds a whole run (each script's
    section(data, plot_rel) and targets(data)); keeps the others' text."""
    page, results_dir = locations(smoke, build, output)
    new = {}
    for name, data in load_results(results_dir).items():
        if data.get("hand_kept"):
            continue
        module = importlib.import_module(f"{name}_bench")
        data["targets"] = module.targets(data)
        save_results(results_dir, name, data)
        new[name] = module.section(data, plot_link(plot_path(name, smoke, build), page))
    write(page, results_dir, new, smoke)
    return page


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true",
                        help="the smoke page (BUILD/bench/benchmarks-smoke.md) from "
                        "BUILD/bench/results/")
    parser.add_argument("--build-dir", help="BUILD for --smoke (default: build)")
    parser.add_argument("--output", help="the page to rewrite (default docs/benchmarks.md)")
    args = parser.parse_args()
    print(f"wrote {regenerate(args.smoke, args.build_dir, args.output)}")


if __name__ == "__main__":
    main()
