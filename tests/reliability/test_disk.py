"""The store's disk fills up, or turns read-only (a 2 MiB tmpfs mounted as the
store directory; needs root). State and offsets are written as in
test_kill9.py: every value encodes the number k of its commit."""

import contextlib
import json
import os
import subprocess


from conftest import (call, checkpoint_detail, checkpoint_list, cli, sha256, store_checkpoints,
                      wait_not_ready, wait_ready, wait_until)

BLOB = 96 * 1024


def value(k):
    unit = f"k={k:08d};".encode()
    return (unit * (BLOB // len(unit) + 1))[:BLOB]


def commit(node, k):
    """State `model` = value(k) and offset k, one checkpoint asked for: the
    answer (status, body)."""
    assert call(node.http, "PUT", "/v1/state/model", value(k))[0] == 204
    offsets = [{"group": "g", "topic": "demo", "partition": 1, "offset": k}]
    assert call(node.http, "POST", "/v1/offsets", json.dumps(offsets))[0] == 200
    status, raw = call(node.http, "POST", "/v1/checkpoints", timeout=30)
    return status, json.loads(raw)


def k_of(detail):
    """k of a checkpoint whose state and offset agree, else AssertionError."""
    (offset,) = [o["offset"] for o in detail["offsets"]]
    (state,) = detail["state"]
    assert (state["sha256"], state["size"]) == (sha256(value(offset)), BLOB), \
        f"checkpoint {detail['id']}: state is not the one sealed with offset {offset}"
    return offset


@contextlib.contextmanager
def tmpfs(path, size="2m"):
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(directory):
    """Fills the file system holding `directory`; returns the filler's path."""
    filler = directory / "filler"
    try:
        with open(filler, "wb") as f:
            while True:
                f.write(b"\0" * 4096)
                f.flush()
    except OSError:
        pass  # full (perhaps already before the filler)
    return filler


def check_store(node, acked):
    """Every checkpoint in the store agrees; every acknowledged one is there
    with its k. Returns the newest checkpoint's k."""
    on_disk = {cid: k_of(d) for cid, d in store_checkpoints(node.db).items()}
    for cid, k in acked.items():
        assert on_disk.get(cid) == k, f"acknowledged checkpoint {cid} (k={k}) lost or changed"
    return on_disk[max(on_disk, key=int)]


def test_should_refuse_checkpoints_while_the_disk_is_full_and_recover_by_itself(
        require_root, cluster, nodes, tmp_path):
    """Fails if: a checkpoint is acknowledged (201) while the disk is full,
    or refused with anything but 507 insufficient_storage or 503 (a JSON
    error naming the cause); /readyz does not turn 503 naming the
    `checkpoints` check; the sidecar does not take the pending checkpoint
    and turn ready again by itself once space is freed; a checkpoint in the
    store (CLI) holds state of another commit than its offset; an
    acknowledged checkpoint is lost; or a sidecar killed while the disk is
    full does not restore the newest acknowledged checkpoint."""
    with tmpfs(tmp_path / "disk", size="6m") as disk:
        node = nodes(cluster, {"store.path": str(disk / "tidemark.db"),
                               "checkpoint.tolerable_failures": "1",
                               "checkpoint.retained": "3"}, name="node")
        node.start()
        acked = {}
        for k in (1, 2):
            status, body = commit(node, k)
            assert status == 201, body
            acked[body["id"]] = k
        filler = fill(disk)
        refused = []
        for k in (3, 4, 5):
            status, body = commit(node, k)
            assert status != 201, f"checkpoint acknowledged on a full disk: {body}"
            assert status in (503, 507), body
            refused.append(body["error"])
        assert any(e["code"] == "insufficient_storage" for e in refused), refused
        not_ready = wait_not_ready(node.http, "checkpoints", 30)
        print("disk full:", refused[0], not_ready)
        # What is on disk is intact, and a kill now restores the newest acknowledged.
        assert check_store(node, acked) == 2
        node.kill()
        node.start()
        assert call(node.http, "GET", "/v1/state/model") == (200, value(2))
        status, body = commit(node, 6)
        assert status in (503, 507), body
        if filler.exists():
            os.unlink(filler)
        # The retries take the pending checkpoint (k=6) without being asked.
        wait_ready(node.http, 60)
        wait_until(lambda: k_of(checkpoint_detail(node.http, checkpoint_list(node.http)[0]["id"]))
                   == 6, 60, "the pending checkpoint")
        status, body = commit(node, 7)
        assert status == 201, body
        acked[body["id"]] = 7
        assert check_store(node, {body["id"]: 7}) == 7
        node.kill()
        node.start()
        assert call(node.http, "GET", "/v1/state/model") == (200, value(7))
        node.kill()


def test_should_report_a_read_only_store_and_recover_when_it_is_writable_again(
        require_root, cluster, nodes, tmp_path):
    """The store's file system turns read-only while the sidecar is down
    (killed with SIGKILL; Linux refuses to remount a file system read-only
    while a process has a file open on it for writing, so the remount
    happens between runs), the sidecar starts on it, and the file system is
    remounted read-write under the running sidecar. Fails if: the sidecar
    neither refuses to start with an error naming the store nor starts and
    answers /readyz 503 naming the `store` check with a reason that says it
    is not writable; a started one does not serve the restored checkpoint
    (reading needs no write); a checkpoint is acknowledged while read-only;
    once writable it does not turn ready and take checkpoints again (after
    a restart if it refused to start); anything in the store disagrees; or a
    restart does not restore the newest acknowledged checkpoint."""
    with tmpfs(tmp_path / "disk", size="8m") as disk:
        node = nodes(cluster, {"store.path": str(disk / "tidemark.db"),
                               "checkpoint.tolerable_failures": "1"}, name="node")
        node.start()
        acked = {}
        status, body = commit(node, 1)
        assert status == 201, body
        acked[body["id"]] = 1
        node.kill()
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        started = None
        try:
            refused = None
            try:
                started = node.start()
            except (EOFError, TimeoutError) as e:
                refused = e.sidecar
            if refused is not None:  # refused to start: it must say why, naming the store
                rc = refused.exit_code
                errors = [l for l in refused.log.lines if "level=error" in l
                          or l.startswith("tidemark:")]
                print("refused to start on a read-only store:", rc, errors[-3:])
                assert rc != 0 and any("store" in l.lower() or "read" in l.lower()
                                       for l in errors), refused.log.lines[-10:]
            else:
                body = wait_not_ready(node.http, "store", 30)
                assert "not writable" in body["checks"]["store"], body
                assert "Read-only" in body["checks"]["store"], body
                assert call(node.http, "GET", "/v1/state/model") == (200, value(1))
                status, answer = commit(node, 2)
                # docs/api/openapi.yaml: 409 precondition_failed, "the store cannot be written"
                assert (status, answer["error"]["code"]) == (409, "precondition_failed"), answer
                assert "is read-only" in answer["error"]["message"], answer
                print("read-only:", answer, body)
        finally:
            subprocess.run(["mount", "-o", "remount,rw", str(disk)], check=True)
        if started is None:
            node.start()
        wait_ready(node.http, 60)
        status, body = commit(node, 3)
        assert status == 201, body
        acked[body["id"]] = 3
        node.kill()
        assert check_store(node, acked) == 3
        node.start()
        assert call(node.http, "GET", "/v1/state/model") == (200, value(3))
        node.kill()
        cli("list", "--store", str(node.settings["store.path"]))


def test_readyz_should_say_why_checkpoints_fail_when_the_disk_is_full(
        require_root, cluster, nodes, tmp_path):
    """The store's disk fills up and checkpoints fail beyond
    checkpoint.tolerable_failures. Fails if the `checkpoints` check's
    message (the /readyz reason) does not say the disk is full, so an
    operator looking at readiness alone cannot tell a full disk from a
    timeout or a failing app_callback."""
    with tmpfs(tmp_path / "disk", size="6m") as disk:
        node = nodes(cluster, {"store.path": str(disk / "tidemark.db"),
                               "checkpoint.tolerable_failures": "0"}, name="node")
        node.start()
        status, body = commit(node, 1)
        assert status == 201, body
        fill(disk)
        status, body = commit(node, 2)
        assert status == 507, body
        body = wait_not_ready(node.http, "checkpoints", 30)
        assert "full" in body["checks"]["checkpoints"], body
        node.kill()
