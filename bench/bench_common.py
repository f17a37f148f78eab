"""Helpers shared by bench/restore_bench.py and bench/memory_bench.py.

The proxy and checkpoint benchmarks own the older helpers (machine description,
run table, matplotlib install, the HTTP client); this module re-exports them
and adds what the resource benchmarks need on top: which binaries to run, the
sidecar's /proc figures and its /metrics. The page they all write,
docs/benchmarks.md, is bench/bench_page.py's.
"""

import datetime
import os
import pathlib
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
BENCH = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(BENCH))

from checkpoint_bench import Api  # noqa: E402,F401  (re-exported)
from proxy_bench import cpu_seconds, ensure_matplotlib, machine, run_table_head  # noqa: E402,F401
from harness.tidemark import proc_status  # noqa: E402,F401  (re-exported)

KIB, MIB = 1 << 10, 1 << 20
STARTED = time.monotonic()


def log(msg):
    print(f"[{time.monotonic() - STARTED:6.1f}s] {msg}", file=sys.stderr, flush=True)


def add_binary_args(parser):
    default = pathlib.Path(os.environ.get("TIDEMARK_BUILD_DIR", REPO / "build")) / "tidemark"
    parser.add_argument("--tidemark", default=str(default),
                        help="the tidemark binary to run (default: %(default)s); "
                        "tidemark-embedded-kafka and tidemark-rdkafka-perf are taken from "
                        "the same folder, so a copy of the build keeps working while it is "
                        "rebuilt")
    parser.add_argument("--build-dir", help="same as --tidemark BUILD_DIR/tidemark "
                        "(what scripts/bench passes)")
    parser.add_argument("--output", help="the benchmark page to rewrite this benchmark's section"
                        " of (default docs/benchmarks.md; smoke: BUILD/bench/benchmarks-smoke.md)")
    parser.add_argument("--plot", action="store_true",
                        help="install python3-matplotlib if missing (as proxy_bench.py "
                        "--plot); without it the PNG is written only if matplotlib is there")


def binaries(args, needed):
    """The folder holding the binaries; points the tests' harness at it too."""
    exe = pathlib.Path(args.build_dir) / "tidemark" if args.build_dir else pathlib.Path(
        args.tidemark)
    folder = exe.resolve().parent
    if exe.name != "tidemark":
        sys.exit(f"{exe}: the binary must be called tidemark (the harness runs DIR/tidemark)")
    for name in ("tidemark", *needed):
        if not (folder / name).exists():
            sys.exit(f"{folder / name} is missing: build first (cmake --build --preset default)")
    os.environ["TIDEMARK_BUILD_DIR"] = str(folder)
    return folder


def outputs(args, folder, name):
    """(page, png, results json) paths, as bench_page.py places them. Smoke runs write
    beside the binaries (BUILD/bench/), never docs/ or bench/results/."""
    import bench_page
    page, results = bench_page.locations(args.smoke, folder, args.output)
    return page, bench_page.plot_path(name, args.smoke, folder), results / f"{name}.json"


def binary_time(folder):
    """The tidemark binary's file time: a copy may predate the working tree that the
    "commit" row describes."""
    exe = pathlib.Path(folder) / "tidemark"
    built = datetime.datetime.fromtimestamp(exe.stat().st_mtime, datetime.timezone.utc)
    return f"{built:%Y-%m-%d %H:%M} UTC"


def binary_row(info):
    """The run table's row naming the binary (info: a results JSON's "machine")."""
    return f"| binary | `{pathlib.Path(info['folder']) / 'tidemark'}`, file time {info['binary_time']} |"


def metrics(api):
    """The sidecar's /metrics as {name or name{labels}: value}."""
    text = api.call("GET", "/metrics").decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            try:
                values[name] = float(value)
            except ValueError:
                pass
    return values


def filesystem(path):
    """The type of the filesystem holding `path`, from /proc/mounts."""
    path, best = str(pathlib.Path(path).resolve()), ("", "unknown")
    for line in open("/proc/mounts"):
        mount, kind = line.split()[1:3]
        inside = path == mount or path.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) > len(best[0]):
            best = (mount, kind)
    return best[1]


def load_average():
    return " / ".join(open("/proc/loadavg").read().split()[:3])


def plot_note(plot_rel, what):
    if plot_rel:
        return f"![{what}]({plot_rel})"
    return ("Plot skipped: this Python cannot import matplotlib (`scripts/bench --plot` "
            "installs python3-matplotlib for /usr/bin/python3).")
