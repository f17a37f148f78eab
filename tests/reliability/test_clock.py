"""The sidecar's wall clock jumps forwards and backwards (an NTP step, a VM
resumed), with libfaketime (Debian's `faketime` package) preloaded into the
sidecar alone: FAKETIME_TIMESTAMP_FILE names a file holding the offset, read
at every clock call (FAKETIME_NO_CACHE=1), so the test moves the clock of a
running process. Only the wall clock moves (FAKETIME_DONT_FAKE_MONOTONIC=1):
monotonic clocks do not jump on a real machine."""

import json
import os
import pathlib
import time

import pytest

from conftest import (call, checkpoint_list, metric_value, node_checkpoint, readyz,
                      store_checkpoints, wait_ready, wait_until)
from harness.tidemark import build_dir

LIBFAKETIME = pathlib.Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
DAY_MS = 86_400_000


def c11_threads_over_pthread():
    """The build's libtidemark_c11_threads.so (tests/tools/c11_threads_over_pthread.c).

    librdkafka waits with glibc's C11 cnd_timedwait, which libfaketime does not wrap: its
    deadline is taken from the faked wall clock but the kernel waits against the real one.
    A day behind, every wait with a deadline returned at once: rd_kafka_new failed ("background
    thread(s) did not initialize within 60 seconds") and librdkafka 2.0.2 then freed a string its
    starting thread still read (ASan: heap-use-after-free). Through pthread_cond_timedwait,
    which libfaketime translates, the waits see one consistent clock, as a real clock step
    gives them."""
    shim = build_dir() / "libtidemark_c11_threads.so"
    assert shim.exists(), f"{shim} is not built (cmake --build {build_dir()})"
    return shim


def faketime_env(offset_file, shim):
    env = dict(os.environ)
    preload = " ".join(p for p in (env.get("LD_PRELOAD", ""), str(shim), str(LIBFAKETIME)) if p)
    env.update({"LD_PRELOAD": preload, "FAKETIME_TIMESTAMP_FILE": str(offset_file),
                "FAKETIME_NO_CACHE": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1"})
    # An ASan build insists on coming first in the preload list.
    env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0").lstrip(":")
    return env


def sidecar_time_ms(node):
    """The sidecar's idea of now, from its checkpoint listing's newest entry."""
    return checkpoint_list(node.http)[0]["created_at_ms"]


@pytest.mark.skipif(not LIBFAKETIME.exists(), reason="needs libfaketime: apt-get install faketime")
def test_should_keep_checkpoint_ids_growing_and_stay_ready_when_the_wall_clock_jumps(
        cluster, nodes, tmp_path):
    """Checkpoints are taken, by request and by the 200 ms interval, while
    the sidecar's wall clock jumps a day forwards, then two days back, and
    a sidecar killed with SIGKILL restarts with the clock still a day
    behind. Fails if: libfaketime did not move the sidecar's clock (the
    test would prove nothing); a checkpoint id is not larger than every
    earlier one (restore takes the largest id, so an older checkpoint
    would win); interval checkpoints stop after a jump; /readyz stops
    answering 200; tidemark_checkpoint_seconds_since_last_completed goes
    negative or jumps by the clock step (an alert on it would misfire);
    the restart restores anything but the newest checkpoint; the sidecar
    exits; or a librdkafka client of its could not start under the faked
    clock (then the test, not the sidecar, is at fault)."""
    offset = tmp_path / "faketime"
    offset.write_text("+0\n")
    node = nodes(cluster, {"checkpoint.interval": "200ms"},
                 env=faketime_env(offset, c11_threads_over_pthread()))
    node.start()
    ids, values = [], {}

    def take(k):
        cid = node_checkpoint(node, f"v{k}", k)
        assert not ids or int(cid) > int(ids[-1]), f"id {cid} after {ids[-1]} (k={k})"
        ids.append(cid)
        values[cid] = k
        return cid

    def interval_checkpoint(k):
        """Seals k with no request: only the interval trigger can take it."""
        before = checkpoint_list(node.http)[0]["id"]
        assert call(node.http, "PUT", "/v1/state/model", f"v{k}")[0] == 204
        offsets = [{"group": "g", "topic": "demo", "partition": 1, "offset": k}]
        assert call(node.http, "POST", "/v1/offsets", json.dumps(offsets))[0] == 200
        newest = wait_until(lambda: (c := checkpoint_list(node.http)[0])["id"] != before and c,
                            30, f"an interval checkpoint after the jump (k={k})")
        assert int(newest["id"]) > int(before)
        assert newest["trigger"] == "interval", newest
        ids.append(newest["id"])
        values[newest["id"]] = k

    def steady():
        time.sleep(1)
        if node.sidecar.proc.poll() is not None:
            pytest.fail(f"the sidecar exited ({node.sidecar.proc.returncode}):\n{node.log_tail(120)}")
        status, body = readyz(node.http)
        assert status == 200, body
        since = metric_value(node.http, "tidemark_checkpoint_seconds_since_last_completed")
        assert 0 <= since < 3600, f"seconds since the last checkpoint: {since}"

    take(1)
    base = sidecar_time_ms(node)
    interval_checkpoint(2)
    steady()

    offset.write_text("+1d\n")
    take(3)
    assert sidecar_time_ms(node) - base > DAY_MS * 0.9, "libfaketime did not move the clock"
    interval_checkpoint(4)
    steady()

    offset.write_text("-1d\n")
    take(5)
    assert sidecar_time_ms(node) < base, "libfaketime did not move the clock back"
    interval_checkpoint(6)
    steady()

    node.kill()
    node.start()  # the clock still a day behind
    wait_ready(node.http)
    assert call(node.http, "GET", "/v1/state/model") == (200, b"v6")
    take(7)
    steady()
    on_disk = store_checkpoints(node.db)
    assert sorted(on_disk, key=int) == ids, "the store holds other checkpoints than were taken"
    newest = max(on_disk, key=int)
    assert on_disk[newest]["offsets"][0]["offset"] == 7
    # The faked clock must be one clock for every wait too (see c11_threads_over_pthread):
    # otherwise the restart above ran without its librdkafka clients and proved less.
    for run in node.runs:
        stuck = [line for line in run.log.lines if "did not initialize" in line]
        assert not stuck, "\n".join(stuck)
